"""Privacy, executed: the PII inventory against the live catalog, erasure, and the trace scan.

* `inventory_errors(db, design)`: every column of every table in the engine's schema must have a
  class in the design's declaration (workbook.design.privacy), and every declared column must
  exist; `inventory_table` is the document's inventory, `audit_copies` what the audit trail's row
  images copy of it.
* `erase(db, user_id, actor)`: the design's erasure function, called as the application would
  (as its role, for an acting user); a refusal comes back as one line and nothing changes.
* `traces(db, needles)`: a full scan of every column of every table (every value inside every
  jsonb document included) for each needle, case-insensitively.

Nothing here names this design's tables; they come from the declaration and the catalog.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType

from .engines import Engine
from .errors import WorkbookError
from .tables import md_table


def _design() -> ModuleType:
    from .design import privacy

    return privacy


def columns(db: Engine) -> list[tuple[str, str, str]]:
    """(table, column, type) of every column of every table of the engine's schema, in order."""
    return [
        tuple(r)
        for r in db.fetchall(
            "SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute AS a "
            "JOIN pg_class AS c ON c.oid = a.attrelid WHERE c.relnamespace = current_schema()::regnamespace "
            "AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped ORDER BY c.relname, a.attnum"
        )
    ]


def inventory_errors(db: Engine, design: ModuleType | None = None) -> list[str]:
    d = design or _design()
    live = {(t, c) for t, c, _ in columns(db)}
    declared = {(t, c): v for t, cols in d.COLUMNS.items() for c, v in cols.items()}
    out = [
        f"{t}.{c}: no privacy class (declare it in design/privacy.py)"
        for t, c in sorted(live - declared.keys())
    ]
    out += [f"{t}.{c}: classified but not in the schema" for t, c in sorted(declared.keys() - live)]
    out += [
        f"{t}.{c}: unknown class {v[0]!r} (one of {', '.join(d.CLASSES)})"
        for (t, c), v in sorted(declared.items())
        if v[0] not in d.CLASSES
    ]
    return out


def check_inventory(db: Engine, design: ModuleType | None = None) -> None:
    errors = inventory_errors(db, design)
    if errors:
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise WorkbookError(f"privacy inventory: {errors[0]}{more}")


def inventory_table(db: Engine, design: ModuleType | None = None) -> str:
    d = design or _design()
    rows = []
    for t, c, typ in columns(db):
        cls, why = d.COLUMNS[t][c]
        rows.append([f"`{t}`", f"`{c}`", typ, f"**{cls}**" if cls != "none" else cls, why])
    return md_table(["Table", "Column", "Type", "Class", "Why"], rows)


def counts(db: Engine, design: ModuleType | None = None) -> dict[str, int]:
    d = design or _design()
    out = dict.fromkeys(d.CLASSES, 0)
    for t, c, _ in columns(db):
        out[d.COLUMNS[t][c][0]] += 1
    return out


def audit_copies(db: Engine, audited: list[str], design: ModuleType | None = None) -> str:
    """Per audited table, the keys of its row images in the audit trail that are not class none."""
    d = design or _design()
    live = columns(db)
    rows = []
    for table in audited:
        keys = [(c, d.COLUMNS[t][c][0]) for t, c, _ in live if t == table and d.COLUMNS[t][c][0] != "none"]
        rows.append(
            [
                f"`{table}`",
                ", ".join(f"`{c}`" for c, k in keys if k == "personal") or "none",
                ", ".join(f"`{c}`" for c, k in keys if k == "sensitive") or "none",
            ]
        )
    return md_table(
        [f"Row images of ({d.AUDIT_TABLE}.{' / '.join(d.AUDIT_IMAGES)})", "Personal keys", "Sensitive keys"],
        rows,
    )


# --- erasure and the scan -------------------------------------------------------------------------------


def erase(
    db: Engine, user_id: str, actor: str, *, role: str = "workbook_app", function: str = "erase_user"
) -> int:
    """Erase `user_id` as `role` acting for `actor`; returns the erasure log id. A refusal raises one line."""
    import psycopg

    from . import security

    if actor:  # "" acts for nobody: the function itself must refuse
        security.check_actor(actor)
    if not security.UUID_RE.match(str(user_id)):
        raise WorkbookError(f"erasure: user id {user_id!r} is not a uuid")
    db.execute("BEGIN")
    try:
        db.execute(f'SET LOCAL ROLE "{role}"')
        db.execute("SELECT set_config('workbook.actor_id', ?, true)", [actor])
        (log_id,) = db.fetchall(f"SELECT {function}(?::uuid)", [user_id])[0]
    except psycopg.Error as exc:
        db.execute("ROLLBACK")
        raise WorkbookError((exc.diag.message_primary or str(exc)).splitlines()[0]) from None
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
    return log_id


@dataclass(frozen=True)
class Trace:
    table: str
    column: str
    needle: str
    rows: int


def traces(db: Engine, needles: list[str]) -> list[Trace]:
    """Every (table, column) whose value contains a needle, ignoring case; jsonb: any value at any depth."""
    out = []
    for table, column, typ in columns(db):
        for needle in needles:
            like = "%" + needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            if typ == "jsonb":
                where = (
                    f'"{column}"::text ILIKE ? OR EXISTS (SELECT 1 FROM jsonb_path_query("{column}", \'strict $.**\') AS v '
                    "WHERE jsonb_typeof(v) = 'string' AND v #>> '{}' ILIKE ?)"
                )
                params = [like, like]
            else:
                where, params = f'"{column}"::text ILIKE ?', [like]
            n = db.fetchall(f'SELECT count(*) FROM "{table}" WHERE {where}', params)[0][0]
            if n:
                out.append(Trace(table, column, needle, n))
    return out


def traces_table(found: list[Trace], needles: dict[str, str]) -> str:
    """`needles`: label -> needle; the labels are shown, not the personal data."""
    label = {v: k for k, v in needles.items()}
    if not found:
        return (
            "No trace: every column of every table scanned, every value inside every jsonb document included."
        )
    return md_table(
        ["Table", "Column", "Contains", "Rows"],
        [[f"`{t.table}`", f"`{t.column}`", label[t.needle], str(t.rows)] for t in found],
    )


def run_scenario(db: Engine, design: ModuleType | None = None, *, role: str = "workbook_app") -> None:
    """The design's erasure scenario: the setup as the connecting user, the rest as `role`."""
    import psycopg

    d = design or _design()
    for actor, sql in d.SCENARIO_SETUP:
        with db.transaction():
            db.execute("SELECT set_config('workbook.actor_id', ?, true)", [actor])
            db.execute(sql)
    for actor, sql in d.ERASURE_SCENARIO:
        db.execute("BEGIN")
        try:
            db.execute(f'SET LOCAL ROLE "{role}"')
            db.execute("SELECT set_config('workbook.actor_id', ?, true)", [actor])
            db.execute(sql)
        except psycopg.Error as exc:
            db.execute("ROLLBACK")
            raise WorkbookError(f"erasure scenario: {sql[:60]}...: {str(exc).splitlines()[0]}") from None
        db.execute("COMMIT")


def needles(design: ModuleType | None = None) -> dict[str, str]:
    d = design or _design()
    return {"the e-mail": d.ERASURE_SUBJECT["email"], "the name": d.ERASURE_SUBJECT["name"]}


@dataclass(frozen=True)
class Refusal:
    what: str
    message: str
    changed: bool


def try_refusals(db: Engine, after: bool, design: ModuleType | None = None) -> list[Refusal]:
    """Each declared bad request: its one-line refusal, and whether anything changed (it must not)."""
    d = design or _design()
    out = []
    for what, user, actor, words, later in d.ERASURE_REFUSALS:
        if later != after:
            continue
        before = _content(db)
        try:
            erase(db, user, actor)
            message = "accepted"
        except WorkbookError as exc:
            message = str(exc)
        if words not in message:
            raise WorkbookError(f"erasure: {what}: expected a refusal saying {words!r}, got: {message}")
        out.append(Refusal(what, message, _content(db) != before))
    return out


def _content(db: Engine) -> tuple:
    """Every row of every table, as text, to show that a refused request changed nothing."""
    return tuple(
        (t, tuple(sorted(r[0] for r in db.fetchall(f'SELECT t::text FROM "{t}" AS t'))))
        for t in sorted({t for t, _, _ in columns(db)})
    )
