"""What each data pattern promises, as checks that run on each engine.

The engine-support table of the Data Patterns section is the result of running these: a promise kept
by plain SQL is native to the engine; one kept only through the write API is emulated by it; one
kept by neither is not available there. Plain-SQL checks run in a transaction that is rolled back;
write-API checks commit, each on rows of its own.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass

from ..engines import Engine
from ..writes import RuleViolation, Writer

_n = itertools.count(1)


@dataclass(frozen=True)
class Capability:
    """One promise of a pattern, checked by plain SQL (`raw`) and through the write API (`api`)."""

    pattern: str
    promise: str
    raw: Callable[[Engine, dict], bool]
    api: Callable[[Writer, Engine, dict], bool] | None


def _refused(db: Engine, sql: str, rule: str, params: list | None = None) -> bool:
    """Whether `sql` is refused by `rule` (the constraint name PostgreSQL reports)."""
    try:
        db.execute(sql, params)
    except Exception as exc:  # the engine's refusal is what is being checked
        diag = getattr(exc, "diag", None)
        return diag is not None and diag.constraint_name == rule
    return False


def _api_refused(call: Callable[[], object], rule: str) -> bool:
    try:
        call()
    except RuleViolation as exc:
        return exc.rule == rule
    return False


def _works(call: Callable[[], object]) -> bool:
    try:
        call()
    except RuleViolation:
        return False
    return True


def _audit_rows(db: Engine) -> int:
    return db.scalar("SELECT count(*) FROM audit_log")


def _email() -> str:
    return f"user{next(_n)}@example.com"


def _raw_user(db: Engine) -> str:
    return str(db.scalar("INSERT INTO users (email, name) VALUES (?, 'Raw') RETURNING id", [_email()]))


# ------------------------------------------------------------------------------ the checks


def _raw_audited(db: Engine, ids: dict) -> bool:
    before = _audit_rows(db)
    _raw_user(db)
    return _audit_rows(db) == before + 1


def _api_audited(w: Writer, db: Engine, ids: dict) -> bool:
    before = _audit_rows(db)
    w.insert("users", {"email": _email(), "name": "Api"})
    return _audit_rows(db) == before + 1


def _raw_no_actor(db: Engine, ids: dict) -> bool:
    if db.name == "postgres":  # the session's actor, cleared for this transaction
        db.execute("SELECT set_config('workbook.actor_id', '', true)")
    return _refused(
        db, "INSERT INTO users (email, name) VALUES (?, 'Nobody')", "audit_actor_required", [_email()]
    )


def _raw_name_reused(db: Engine, ids: dict) -> bool:
    name = f"site-{next(_n)}"
    db.execute("INSERT INTO projects (name, owner_id, deleted_at) VALUES (?, ?, NOW())", [name, ids["user"]])
    try:
        db.execute("INSERT INTO projects (name, owner_id) VALUES (?, ?)", [name, ids["user"]])
    except Exception:  # noqa: BLE001 - refused: the name stays taken
        return False
    return True


def _api_name_reused(w: Writer, db: Engine, ids: dict) -> bool:
    name = f"site-{next(_n)}"
    w.call("soft_delete", "projects", w.insert("projects", {"name": name, "owner_id": ids["user"]}))
    return _works(lambda: w.insert("projects", {"name": name, "owner_id": ids["user"]}))


def _raw_template_children(db: Engine, ids: dict) -> bool:
    try:
        db.execute("SELECT soft_delete('templates', ?)", [ids["template"]])
    except Exception:  # noqa: BLE001 - no such function
        return False
    return db.scalar("SELECT count(*) FROM active_patterns WHERE template_id = ?", [ids["template"]]) == 0


def _new_template(w: Writer, ids: dict) -> str:
    return w.insert(
        "templates",
        {
            "name": f"tpl-{next(_n)}",
            "description": "A template to delete",
            "category": "c",
            "version": "1.0.0",
            "author_id": ids["user"],
        },
    )


def _api_template_children(w: Writer, db: Engine, ids: dict) -> bool:
    tid = _new_template(w, ids)
    w.insert("patterns", {"name": "p", "description": "A pattern", "template_id": tid})
    w.call("soft_delete", "templates", tid)
    return db.scalar("SELECT count(*) FROM active_patterns WHERE template_id = ?", [tid]) == 0


def _raw_restore_taken(db: Engine, ids: dict) -> bool:
    name = f"site-{next(_n)}"
    pid = str(
        db.scalar("INSERT INTO projects (name, owner_id) VALUES (?, ?) RETURNING id", [name, ids["user"]])
    )
    try:
        db.execute("SELECT soft_delete('projects', ?)", [pid])
        db.execute("INSERT INTO projects (name, owner_id) VALUES (?, ?)", [name, ids["user"]])
    except Exception:  # noqa: BLE001 - cannot even set the scene
        return False
    return _refused(db, "SELECT restore('projects', ?)", "restore_name_free", [pid])


def _api_restore_taken(w: Writer, db: Engine, ids: dict) -> bool:
    name = f"site-{next(_n)}"
    pid = w.insert("projects", {"name": name, "owner_id": ids["user"]})
    w.call("soft_delete", "projects", pid)
    if not _works(lambda: w.insert("projects", {"name": name, "owner_id": ids["user"]})):
        return False
    return _api_refused(lambda: w.call("restore", "projects", pid), "restore_name_free")


def _raw_version_order(db: Engine, ids: dict) -> bool:
    return _refused(
        db,
        "SELECT create_template_version(?, '0.9.0', '{}', NULL, ?)",
        "template_versions_newer",
        [ids["template"], ids["user"]],
    )


def _api_version_order(w: Writer, db: Engine, ids: dict) -> bool:
    return _api_refused(
        lambda: w.call("create_template_version", ids["template"], "0.9.0", {}, None, ids["user"]),
        "template_versions_newer",
    )


def _raw_second_version(db: Engine, ids: dict) -> bool:
    try:
        db.execute(
            "SELECT create_template_version(?, '2.0.0', '{}', NULL, ?)", [ids["template"], ids["user"]]
        )
    except Exception:  # noqa: BLE001
        return False
    return db.scalar("SELECT version FROM templates WHERE id = ?", [ids["template"]]) == "2.0.0"


def _api_second_version(w: Writer, db: Engine, ids: dict) -> bool:
    v = f"3.{next(_n)}.0"
    return _works(lambda: w.call("create_template_version", ids["template"], v, {}, None, ids["user"]))


def _raw_history(db: Engine, ids: dict) -> bool:
    return _refused(db, "UPDATE template_versions SET changelog = 'rewritten'", "template_versions_immutable")


def _api_history(w: Writer, db: Engine, ids: dict) -> bool:
    vid = db.scalar("SELECT CAST(id AS TEXT) FROM template_versions LIMIT 1")
    return _api_refused(
        lambda: w.update("template_versions", vid, {"changelog": "rewritten"}), "template_versions_immutable"
    )


def _raw_usage(db: Engine, ids: dict) -> bool:
    before = db.scalar("SELECT usage_count FROM patterns WHERE id = ?", [ids["eslint"]])
    db.execute(
        "INSERT INTO pattern_applications (project_id, pattern_id) VALUES (?, ?)",
        [ids["project"], ids["eslint"]],
    )
    return db.scalar("SELECT usage_count FROM patterns WHERE id = ?", [ids["eslint"]]) == before + 1


def _api_usage(w: Writer, db: Engine, ids: dict) -> bool:
    before = db.scalar("SELECT usage_count FROM patterns WHERE id = ?", [ids["eslint"]])
    w.insert("pattern_applications", {"project_id": ids["project"], "pattern_id": ids["eslint"]})
    return db.scalar("SELECT usage_count FROM patterns WHERE id = ?", [ids["eslint"]]) == before + 1


def _deleted_pattern(db: Engine, ids: dict) -> str:
    return str(
        db.scalar(
            "INSERT INTO patterns (name, description, template_id, deleted_at) VALUES (?, 'Deleted', ?, NOW()) RETURNING id",
            [f"gone-{next(_n)}", ids["template"]],
        )
    )


def _raw_deleted_pattern(db: Engine, ids: dict) -> bool:
    pid = _deleted_pattern(db, ids)
    return _refused(
        db,
        "INSERT INTO pattern_applications (project_id, pattern_id) VALUES (?, ?)",
        "pattern_applications_live_pattern",
        [ids["project"], pid],
    )


def _api_deleted_pattern(w: Writer, db: Engine, ids: dict) -> bool:
    pid = w.insert(
        "patterns", {"name": f"gone-{next(_n)}", "description": "Deleted", "template_id": ids["template"]}
    )
    w.call("soft_delete", "patterns", pid)
    return _api_refused(
        lambda: w.insert("pattern_applications", {"project_id": ids["project"], "pattern_id": pid}),
        "pattern_applications_live_pattern",
    )


def _raw_updated_at(db: Engine, ids: dict) -> bool:
    uid = _raw_user(db)
    db.execute(
        "UPDATE users SET created_at = created_at - INTERVAL 1 DAY, updated_at = created_at - INTERVAL 1 DAY WHERE id = ?"
        if db.name == "duckdb"
        else "UPDATE users SET created_at = created_at - INTERVAL '1 day', updated_at = created_at - INTERVAL '1 day' WHERE id = ?",
        [uid],
    )
    db.execute("UPDATE users SET name = 'Renamed' WHERE id = ?", [uid])
    return bool(db.scalar("SELECT updated_at > created_at FROM users WHERE id = ?", [uid]))


def _api_updated_at(w: Writer, db: Engine, ids: dict) -> bool:
    uid = w.insert(
        "users",
        {
            "email": _email(),
            "name": "Api",
            "created_at": "2024-01-01 00:00:00+00",
            "updated_at": "2024-01-01 00:00:00+00",
        },
    )
    w.update("users", uid, {"name": "Renamed"})
    return bool(db.scalar("SELECT updated_at > created_at FROM users WHERE id = ?", [uid]))


CAPABILITIES = [
    Capability(
        "Audit trail", "every change of a business row leaves an audit row", _raw_audited, _api_audited
    ),
    Capability(
        "Audit trail",
        "a change with no actor is refused",
        _raw_no_actor,
        lambda w, db, ids: _api_refused(
            lambda: Writer(db, None).insert("users", {"email": _email(), "name": "N"}), "audit_actor_required"
        ),
    ),
    Capability(
        "Audit trail",
        "audit_log is append-only",
        lambda db, ids: _refused(db, "UPDATE audit_log SET operation = 'INSERT'", "audit_log_append_only"),
        lambda w, db, ids: _api_refused(
            lambda: w.update(
                "audit_log",
                db.scalar("SELECT CAST(id AS TEXT) FROM audit_log LIMIT 1"),
                {"operation": "INSERT"},
            ),
            "audit_log_append_only",
        ),
    ),
    Capability(
        "Audit trail",
        "TRUNCATE of an audited table is refused",
        lambda db, ids: _refused(db, "TRUNCATE pattern_applications", "audit_no_truncate"),
        None,
    ),
    Capability("Soft delete", "a soft-deleted name can be used again", _raw_name_reused, _api_name_reused),
    Capability(
        "Soft delete",
        "soft_delete() refuses a table without deleted_at",
        lambda db, ids: _refused(db, "SELECT soft_delete('users', ?)", "soft_delete_table", [ids["user"]]),
        lambda w, db, ids: _api_refused(
            lambda: w.call("soft_delete", "users", ids["user"]), "soft_delete_table"
        ),
    ),
    Capability(
        "Soft delete",
        "a template's live patterns are soft-deleted with it",
        _raw_template_children,
        _api_template_children,
    ),
    Capability(
        "Soft delete",
        "restore() refuses when a live row took the name",
        _raw_restore_taken,
        _api_restore_taken,
    ),
    Capability(
        "Versioning",
        "a new version must follow the current one in semver order",
        _raw_version_order,
        _api_version_order,
    ),
    Capability("Versioning", "history rows cannot be updated or deleted", _raw_history, _api_history),
    Capability(
        "Versioning",
        "a template that other rows reference gets a new version",
        _raw_second_version,
        _api_second_version,
    ),
    Capability("Pattern applications", "usage_count follows every application", _raw_usage, _api_usage),
    Capability(
        "Pattern applications",
        "applying a soft-deleted pattern is refused",
        _raw_deleted_pattern,
        _api_deleted_pattern,
    ),
    Capability("updated_at", "updated_at moves on every update", _raw_updated_at, _api_updated_at),
]
