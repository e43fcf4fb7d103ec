"""DuckDB's form of the design's PL/pgSQL: the trigger functions and SQL functions of the migrations.

DuckDB runs neither triggers nor PL/pgSQL. The write API (workbook.writes) fires the triggers the
migrations declare and calls these Python forms instead, in the same transaction. Each one mirrors
the function of the same name in src/workbook/migrations/ line for line, with the same refusals
under the same rule names; tests run one scripted sequence on both engines and compare the audit
rows they leave.

A trigger function receives (runtime, trigger, operation, table, old row, new row) as images (the
row as JSON); a BEFORE trigger returns the new row it wants written.
"""

from __future__ import annotations

from ..rules import semver_cmp, semver_valid
from ..writes import UUID_RE, RuleViolation, Runtime, quote_nullable


def _uuid(value: object) -> None:
    """As PostgreSQL's cast of a function's UUID argument: anything else is refused."""
    if not UUID_RE.match(str(value)):
        raise RuleViolation("engine", f'invalid input syntax for type uuid: "{value}"')


# ------------------------------------------------------------------------- V0013 audit trail


def audit_trigger(rt: Runtime, trig, op: str, table: str, old: dict | None, new: dict | None) -> None:  # noqa: ANN001
    if not rt.actor:
        raise RuleViolation(
            "audit_actor_required",
            f"audit: {op} on {table} has no actor: set workbook.actor_id for the transaction",
        )
    if not UUID_RE.match(rt.actor):
        raise RuleViolation("audit_actor_uuid", f"audit: actor {quote_nullable(rt.actor)} is not a uuid")
    row = new if new is not None else old
    rt.insert(
        "audit_log",
        {
            "table_name": table,
            "record_id": row["id"],
            "operation": op,
            "old_values": old,
            "new_values": new,
            "changed_by": rt.actor,
        },
    )


def refuse_truncate(rt: Runtime, trig, op, table, old, new) -> None:  # noqa: ANN001
    raise RuleViolation(
        "audit_no_truncate",
        f"audit: TRUNCATE of {table} is refused: it would remove rows without an audit row; delete them instead",
    )


def audit_log_append_only(rt: Runtime, trig, op, table, old, new) -> None:  # noqa: ANN001
    raise RuleViolation(
        "audit_log_append_only",
        f"audit: audit_log is append-only: {op} refused (only purge_audit_log() deletes, as workbook_retention)",
    )


# ---------------------------------------------------------------------- V0011 updated_at


def set_updated_at(rt: Runtime, trig, op, table, old, new: dict) -> dict:  # noqa: ANN001
    return {**new, "updated_at": rt.greatest_now(new.get("created_at"))}


# ------------------------------------------------------------------------- V0014 soft delete


def _soft_deletable_row(rt: Runtime, verb: str, rule: str, table: object, record_id: object) -> dict:
    if not rt.has_column(table, "deleted_at"):
        raise RuleViolation(
            "soft_delete_table", f"{verb}: {quote_nullable(table)} is not a table with a deleted_at column"
        )
    _uuid(record_id)
    row = rt.row(str(table), record_id)
    if row is None:
        raise RuleViolation(rule, f"{verb}: no row {record_id} in {table}")
    return row


def soft_delete(rt: Runtime, table: str, record_id: str) -> None:
    row = _soft_deletable_row(rt, "soft delete", "soft_delete_live_row", table, record_id)
    if row["deleted_at"] is not None:
        raise RuleViolation("soft_delete_live_row", f"soft delete: {table} {record_id} is already deleted")
    now = rt.now()
    rt.update(table, record_id, {"deleted_at": now})
    if table == "templates":  # a template's live patterns go with it, at the same instant
        for pattern in rt.rows("patterns", "template_id = ? AND deleted_at IS NULL", [record_id]):
            rt.update("patterns", pattern["id"], {"deleted_at": now})


def restore(rt: Runtime, table: str, record_id: str) -> None:
    row = _soft_deletable_row(rt, "restore", "restore_deleted_row", table, record_id)
    if row["deleted_at"] is None:
        raise RuleViolation("restore_deleted_row", f"restore: {table} {record_id} is not deleted")
    try:
        rt.update(table, record_id, {"deleted_at": None})
        if table == "templates":  # the patterns deleted together with the template come back with it
            for pattern in rt.rows(
                "patterns", "template_id = ? AND deleted_at = ?::TIMESTAMPTZ", [record_id, row["deleted_at"]]
            ):
                rt.update("patterns", pattern["id"], {"deleted_at": None})
    except RuleViolation as exc:
        if not exc.rule.startswith("uq_"):
            raise
        raise RuleViolation(
            "restore_name_free",
            f"restore: {table} {record_id} cannot come back: a live row took its name meanwhile",
        ) from None


def soft_deletable(rt: Runtime, table: str) -> bool:
    return rt.has_column(table, "deleted_at")


# -------------------------------------------------------------------------- V0015 versioning


def create_template_version(
    rt: Runtime, template_id: str, version: str, content: object, changelog: str | None, created_by: str
) -> str:
    if version is None or not semver_valid(version):
        raise RuleViolation(
            "template_versions_semver",
            f"versioning: {quote_nullable(version)} is not a semantic version (MAJOR.MINOR.PATCH[-pre-release][+build])",
        )
    _uuid(template_id)
    template = rt.row("templates", template_id)
    if template is None:
        raise RuleViolation("template_versions_live_template", f"versioning: no template {template_id}")
    if template["deleted_at"] is not None:
        raise RuleViolation(
            "template_versions_live_template", f"versioning: template {template_id} is deleted"
        )
    current = template["version"]
    history = rt.rows("template_versions", "template_id = ?", [template_id])
    if semver_cmp(version, current) < 0 or (semver_cmp(version, current) == 0 and history):
        raise RuleViolation(
            "template_versions_newer",
            f"versioning: {version} is not newer than the current version {current}",
        )
    row = rt.insert(
        "template_versions",
        {
            "template_id": template_id,
            "version": version,
            "content": content,
            "changelog": changelog,
            "created_by": created_by,
        },
    )
    rt.update("templates", template_id, {"version": version})
    return row["id"]


def refuse_history_change(rt: Runtime, trig, op: str, table: str, old, new) -> None:  # noqa: ANN001
    if op == "DELETE" and rt.depth > 1:  # the cascade of the template's own deletion
        return
    raise RuleViolation(
        "template_versions_immutable",
        f"versioning: {table} is history: {op} refused; record a new version instead",
    )


def semver_cmp_sql(rt: Runtime, a: str, b: str) -> int:
    return semver_cmp(a, b)


def semver_valid_sql(rt: Runtime, version: str) -> bool:
    return semver_valid(version)


# ------------------------------------------------------------------ V0016 pattern usage count


def count_pattern_applications(rt: Runtime, trig, op: str, table: str, old, new) -> None:  # noqa: ANN001
    if op in ("UPDATE", "DELETE"):
        pattern = rt.row("patterns", old["pattern_id"])
        if pattern is not None:
            rt.update("patterns", pattern["id"], {"usage_count": pattern["usage_count"] - 1})
    if op in ("INSERT", "UPDATE"):
        pattern = rt.row("patterns", new["pattern_id"])
        if pattern is None or pattern["deleted_at"] is not None:
            raise RuleViolation(
                "pattern_applications_live_pattern",
                f"pattern applications: pattern {new['pattern_id']} is deleted",
            )
        rt.update("patterns", pattern["id"], {"usage_count": pattern["usage_count"] + 1})


# ------------------------------------------------------------------ V0017 template project count


def count_template_projects(rt: Runtime, trig, op: str, table: str, old, new) -> None:  # noqa: ANN001
    if op in ("UPDATE", "DELETE") and old["template_id"] is not None and old["deleted_at"] is None:
        template = rt.row("templates", old["template_id"])
        if template is not None:
            rt.update("templates", template["id"], {"project_count": template["project_count"] - 1})
    if op in ("INSERT", "UPDATE") and new["template_id"] is not None and new["deleted_at"] is None:
        template = rt.row("templates", new["template_id"])
        if template is not None:
            rt.update("templates", template["id"], {"project_count": template["project_count"] + 1})


FUNCTIONS = {
    # trigger functions, by the name the migrations' CREATE TRIGGER statements use
    "audit_trigger": audit_trigger,
    "refuse_truncate": refuse_truncate,
    "audit_log_append_only": audit_log_append_only,
    "set_updated_at": set_updated_at,
    "refuse_history_change": refuse_history_change,
    "count_pattern_applications": count_pattern_applications,
    "count_template_projects": count_template_projects,
    # SQL functions, called through Writer.call
    "soft_delete": soft_delete,
    "restore": restore,
    "soft_deletable": soft_deletable,
    "create_template_version": create_template_version,
    "semver_cmp": semver_cmp_sql,
    "semver_valid": semver_valid_sql,
}
