"""Findings about the seed's migrate_data_safely, with evidence from running it and the design's fix.

The seed's function is taken from the seed text and run on PostgreSQL, on the seed's own schema with
three templates: as written; with a migration_log created as its INSERT and UPDATEs imply; and with
PL/pgSQL's variable conflict resolved (`#variable_conflict use_column`), to see what it would do once it
can run. The design's fix (safe_migration.sql: a migration_log ledger, the procedures
migrate_data_safely and restore_data_migration) runs the same changes on the migrated schema. Each
side runs once per process and every finding reads its facts; the evidence is counts, statuses and
the engine's messages, the same on every build.
"""

from __future__ import annotations

import functools
import re
import threading
import time
from pathlib import Path

from .. import seed
from ..engines import Engine
from ..errors import first_line
from ..findings import Finding, design, expect, seed_schema
from ..safe_migration import MigrationFailed, Procedures, install, restore, run
from . import WORKBOOK_ACTOR

SQL_FILE = Path(__file__).parent.parent / "migrations" / "V0021__safe_data_migration.sql"
PROCEDURES = Procedures("migrate_data_safely", "restore_data_migration", "migration_log")

AUTHOR = "00000000-0000-0000-0000-000000000001"
OLD = "before the migration"
CHANGE = "UPDATE templates SET description = 'after the migration, template ' || name WHERE name LIKE 't%'"
# Fails on its second row, whichever order the rows come in: the first change is already made.
FAILING = (
    "UPDATE templates SET description = description || (1 / (CASE WHEN name = 't2' THEN 0 ELSE 1 END))::text "
    "WHERE name LIKE 't%'"
)
PREDICATE = "name LIKE 't%'"
ROWS = "SELECT md5(string_agg(t::text, E'\\n' ORDER BY id)) FROM templates AS t WHERE name LIKE 't%'"


def _rows(e: Engine, *, seed_schema: bool) -> None:
    e.execute(f"INSERT INTO users (id, email, name) VALUES ('{AUTHOR}', 'ada@example.com', 'Ada')")
    for i in (1, 2, 3):
        e.execute(
            "INSERT INTO templates (name, description, category, version, author_id"
            + (", schema) " if seed_schema else ") ")
            + f"VALUES ('t{i}', 'Template {i}, {OLD}', 'starter', '1.0.0', '{AUTHOR}'"
            + (""", '{"variables": [], "files": []}')""" if seed_schema else ")")
        )


def _error(e: Engine, sql: str, params: list | None = None) -> dict | None:
    """Run `sql`; None when it succeeds, else the error's first line, SQLSTATE and failing statement."""
    try:
        e.execute(sql, params)
    except Exception as exc:  # the evidence is the engine's own message
        diag = getattr(exc, "diag", None)
        query = " ".join((getattr(diag, "internal_query", None) or "").split())
        return {"message": first_line(exc), "sqlstate": getattr(exc, "sqlstate", None), "query": query}
    return None


def _implied_log_table(function_sql: str) -> str:
    """CREATE TABLE migration_log with exactly the columns the function's INSERT and UPDATEs name."""
    cols = [
        c.strip()
        for c in re.search(r"INSERT INTO migration_log \(([^)]*)\)", function_sql).group(1).split(",")
    ]
    for assignments in re.findall(r"UPDATE migration_log\s+SET (.*?)\s+WHERE", function_sql, re.S):
        cols += [a.split("=")[0].strip() for a in assignments.split(",")]
    names = list(dict.fromkeys(cols))
    typed = ", ".join(f"{c} {'TIMESTAMP WITH TIME ZONE' if c.endswith('_at') else 'TEXT'}" for c in names)
    return f"CREATE TABLE migration_log ({typed})"


def _tables_holding(e: Engine, text: str) -> tuple[int, int]:
    """(tables of the schema with a row whose text contains `text`, tables of the schema)."""
    tables = [r[0] for r in e.fetchall("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")]
    holding = sum(
        1 for t in tables if e.scalar(f"SELECT count(*) FROM {t} AS r WHERE r::text LIKE ?", [f"%{text}%"])
    )
    return holding, len(tables)


LOCK_T1 = "SELECT id FROM templates WHERE name = 't1' FOR UPDATE"


def kill_mid_change(  # noqa: ANN201
    e: Engine,
    call: str,
    params: list,
    observe,
    session: tuple[str, ...] = (),
    lock: str = LOCK_T1,  # noqa: ANN001
):
    """Run `call` in another session until its change waits on a row lock, `observe()`, kill that session.

    A third session holds a row lock (`lock`: SELECT ... FOR UPDATE, whose ROW SHARE table lock no
    migration lock conflicts with), so the change blocks on that row deterministically and the kill
    lands mid-change every time. Returns what `observe` saw while the change was in progress.
    """
    holder, victim = e.sibling(), e.sibling()  # type: ignore[attr-defined]
    try:
        for sql in session:
            victim.execute(sql)
        holder.execute("BEGIN")
        holder.execute(lock)
        pid = victim.con.info.backend_pid
        outcome: list = []
        thread = threading.Thread(target=lambda: outcome.append(_error(victim, call, params)), daemon=True)
        thread.start()
        deadline = time.monotonic() + 60  # a safety net, not a measurement
        while e.scalar("SELECT wait_event_type FROM pg_stat_activity WHERE pid = ?", [pid]) != "Lock":
            expect(
                time.monotonic() < deadline and thread.is_alive(),
                "F35",
                f"the change never waited: {outcome}",
            )
            time.sleep(0.02)
        seen = observe()
        e.execute("SELECT pg_terminate_backend(?)", [pid])
        thread.join(60)
        while e.scalar("SELECT count(*) FROM pg_stat_activity WHERE pid = ?", [pid]):
            time.sleep(0.02)  # gone: its transaction is aborted and its locks released
        holder.execute("ROLLBACK")
        expect(bool(outcome) and outcome[0] is not None, "F35", "the killed call did not fail")
        return seen
    finally:
        holder.close()
        victim.close()


@functools.cache
def seed_facts() -> dict:
    """The seed's migrate_data_safely run through success and failure on the seed's schema."""
    fn = seed.find(r"FUNCTION migrate_data_safely")
    e = seed_schema("postgres")
    _rows(e, seed_schema=True)
    e.execute(fn.sql)
    call = "SELECT migrate_data_safely(?, ?)"
    f: dict = {"number": fn.number}

    f["as_written"] = _error(e, call, ["m1", CHANGE])
    f["as_written_old_rows"] = e.scalar(
        "SELECT count(*) FROM templates WHERE description LIKE ?", [f"%{OLD}"]
    )

    e.execute(_implied_log_table(fn.sql))
    f["log_columns"] = [
        r[0]
        for r in e.fetchall(
            "SELECT attname FROM pg_attribute WHERE attrelid = 'migration_log'::regclass AND attnum > 0 ORDER BY attnum"
        )
    ]
    f["ambiguous"] = _error(e, call, ["m1", CHANGE])
    f["ambiguous_old_rows"] = e.scalar("SELECT count(*) FROM templates WHERE description LIKE ?", [f"%{OLD}"])
    f["ambiguous_logged"] = e.scalar("SELECT count(*) FROM migration_log")

    # The conflict resolved by PL/pgSQL's own option (one line at the top of the body; needs no superuser,
    # as the plpgsql.variable_conflict setting would): the rest of the text runs as written.
    resolved = re.sub(r"AS \$\$\n", "AS $$\n#variable_conflict use_column\n", fn.sql, count=1)
    expect(resolved != fn.sql, "F36", "the seed's function body no longer opens with AS $$")
    e.execute(resolved)
    e.execute(
        "INSERT INTO migration_log (migration_name, status, started_at) VALUES ('m0', 'STARTED', now())"
    )
    f["tables_before"] = _tables_holding(e, OLD)
    f["resolved"] = _error(e, call, ["m1", CHANGE])
    f["resolved_statuses"] = e.fetchall(
        "SELECT migration_name, status FROM migration_log ORDER BY migration_name"
    )
    f["tables_after"] = _tables_holding(e, OLD)
    f["changed_rows"] = e.scalar(
        "SELECT count(*) FROM templates WHERE description LIKE 'after the migration%'"
    )
    expression = re.search(r"backup_table\s*:=\s*(.*?);", fn.sql, re.S).group(1)
    f["backup_expression"] = " ".join(expression.split())
    f["backup_name"] = e.scalar(f"SELECT {expression} FROM (SELECT 'm1'::text AS migration_name) AS p")
    f["backup_unquoted"] = _error(e, f"CREATE TABLE {f['backup_name']} AS SELECT 1 AS x")
    f["backup_quoted_exists"] = e.scalar(
        "SELECT count(*) FROM pg_class WHERE relname LIKE 'm1\\_backup\\_%' AND relnamespace = current_schema()::regnamespace"
    )

    before = e.scalar(ROWS)
    f["failing"] = _error(e, call, ["m2", FAILING])
    f["failing_logged"] = e.scalar("SELECT count(*) FROM migration_log WHERE migration_name = 'm2'")
    f["failing_unchanged"] = e.scalar(ROWS) == before

    def seen() -> int:
        return e.scalar("SELECT count(*) FROM migration_log WHERE migration_name = 'm3'")

    f["killed_seen"] = kill_mid_change(e, call, ["m3", CHANGE.replace("after", "killed")], seen)
    f["killed_after"] = seen()
    f["killed_unchanged"] = e.scalar(ROWS) == before
    f["restores"] = [
        s.number for s in seed.statements() if re.search(r"backup", s.sql, re.I) and s.number != fn.number
    ]
    return f


def _installed() -> Engine:
    d = design("postgres")
    install(d, SQL_FILE, PROCEDURES)
    _rows(d, seed_schema=False)
    return d


def _run(d: Engine, name: str, sql: str, predicate: str = PREDICATE) -> dict:
    try:
        return run(d, PROCEDURES, name, "templates", predicate, sql, actor=WORKBOOK_ACTOR)
    except MigrationFailed as exc:
        return {**exc.log, "raised": str(exc)}


@functools.cache
def design_facts() -> dict:
    """The design's procedures run through success, failure, a kill, verification and restore."""
    d = _installed()
    f: dict = {}
    before = d.scalar(ROWS)
    d.execute(
        "INSERT INTO migration_log (migration_name, target_schema, target_table, predicate, migration_sql, run_by) "
        "VALUES ('other', current_schema(), 'templates', 'false', 'SELECT 1', ?)",
        [WORKBOOK_ACTOR],
    )
    f["failed"] = _run(d, "m2", FAILING)
    f["failed_unchanged"] = d.scalar(ROWS) == before

    def seen() -> tuple:
        return tuple(
            d.fetchall(
                "SELECT status, backup_rows, completed_at IS NULL FROM migration_log WHERE migration_name = 'm3'"
            )[0]
        )

    f["killed_seen"] = kill_mid_change(
        d,
        f"CALL {PROCEDURES.migrate}(?, 'templates', ?, ?, NULL)",
        ["m3", PREDICATE, CHANGE.replace("after", "killed")],
        seen,
        (f"SELECT set_config('workbook.actor_id', '{WORKBOOK_ACTOR}', false)",),
    )
    f["killed_after"] = seen()
    f["killed_unchanged"] = d.scalar(ROWS) == before

    d.execute("CREATE SEQUENCE flip")
    f["volatile"] = _run(d, "m4", "SELECT 1", "nextval('flip') % 2 = 0")
    f["done"] = _run(d, "m1", CHANGE)
    f["backup_table_rows"] = d.scalar(f"SELECT count(*) FROM {f['done']['backup_table']}")
    f["other"] = d.scalar("SELECT status FROM migration_log WHERE migration_name = 'other'")
    f["changed"] = d.scalar(ROWS) != before
    f["restored"] = restore(d, PROCEDURES, f["done"]["id"], actor=WORKBOOK_ACTOR)
    f["restored_equal"] = d.scalar(ROWS) == before

    again = _run(d, "m5", CHANGE)
    d.execute(f"UPDATE {again['backup_table']} SET description = 'tampered' WHERE name = 't1'")
    after = d.scalar(ROWS)
    try:
        restore(d, PROCEDURES, again["id"], actor=WORKBOOK_ACTOR)
        f["tampered"] = None
    except Exception as exc:
        f["tampered"] = str(exc)
    f["tampered_unchanged"] = d.scalar(ROWS) == after
    f["tampered_backup"] = again["backup_table"]
    return f


def _digits(text: str) -> str:
    """An engine message with its digits masked (they come from the clock)."""
    return re.sub(r"\d", "N", text)


def f35_start_never_logged(engine: str) -> str:
    s, d = seed_facts(), design_facts()
    w = s["as_written"]
    expect(
        w is not None and w["sqlstate"] == "42P01", "F35", f"the seed's function now runs as written ({w})"
    )
    expect(w["query"].startswith("INSERT INTO migration_log"), "F35", f"it now fails elsewhere: {w['query']}")
    expect(s["as_written_old_rows"] == 3, "F35", "the failed call changed rows")
    expect(s["killed_seen"] == 0 and s["killed_after"] == 0, "F35", f"the seed's start is now visible {s}")
    expect(s["killed_unchanged"], "F35", "the killed seed migration changed rows")
    expect(d["killed_seen"] == ("BACKED_UP", 3, True), "F35", f"design mid-change: {d['killed_seen']}")
    expect(
        d["killed_after"] == ("BACKED_UP", 3, True) and d["killed_unchanged"], "F35", "design after the kill"
    )
    return (
        f"seed statement {s['number']} as written fails at its first statement, `{w['message']}` (the INSERT "
        "INTO migration_log: no seed statement creates it, F07); with the table created, a migration waiting "
        f"mid-change shows {s['killed_seen']} rows in migration_log to another session, and killing its session "
        f"leaves {s['killed_after']}: the start is written in the migration's own transaction; design: the same "
        f"kill mid-change leaves the run {d['killed_after'][0]} with its {d['killed_after'][1]}-row backup "
        "committed and the data unchanged"
    )


def f36_where_ambiguous(engine: str) -> str:
    s, d = seed_facts(), design_facts()
    a = s["ambiguous"]
    expect(
        a is not None and a["sqlstate"] == "42702", "F36", f"the seed's WHERE is no longer ambiguous ({a})"
    )
    expect(
        a["query"].startswith("UPDATE migration_log SET status = 'FAILED'"), "F36", f"raised by {a['query']}"
    )
    expect(
        s["ambiguous_old_rows"] == 3 and s["ambiguous_logged"] == 0,
        "F36",
        "the ambiguous call kept something",
    )
    expect(s["resolved"] is None, "F36", f"the resolved function fails: {s['resolved']}")
    completed = [n for n, st in s["resolved_statuses"] if st == "COMPLETED"]
    expect(completed == ["m0", "m1"], "F36", f"statuses {s['resolved_statuses']}")
    expect(d["done"]["status"] == "COMPLETED" and d["other"] == "STARTED", "F36", f"design: {d['other']}")
    return (
        f"seed, with migration_log({', '.join(s['log_columns'])}) created as its INSERT and UPDATEs imply: a "
        f"migration whose SQL succeeds ends in `{a['message']}` (from the FAILED update of its handler, after "
        f"the COMPLETED update failed the same way), its change rolled back and {s['ambiguous_logged']} rows "
        "logged, so no call can complete; with `#variable_conflict use_column` the WHERE compares the "
        f"column with itself and running m1 marks {len(completed)} rows COMPLETED, m0's too; design: the "
        f"parameters are p_* and each run updates its own row by id: m1 {d['done']['status']}, another run's "
        f"row left {d['other']}"
    )


def f37_backup_only_a_name(engine: str) -> str:
    s, d = seed_facts(), design_facts()
    name = s["backup_name"]
    expect(re.fullmatch(r"m1_backup_\d+\.\d{6}", name or "") is not None, "F37", f"the backup name is {name}")
    u = s["backup_unquoted"]
    expect(u is not None and "syntax error" in u["message"], "F37", f"the unquoted name now works ({u})")
    expect(s["resolved"] is None and s["backup_quoted_exists"] == 0, "F37", "the seed now takes a backup")
    expect(s["tables_before"][1] == s["tables_after"][1], "F37", "the run created a table")
    done = d["done"]
    expect(
        done["backup_rows"] == d["backup_table_rows"] == 3
        and done["backup_table"].startswith("migration_backup_"),
        "F37",
        f"design backup {done}",
    )
    return (
        f"seed: `backup_table := {s['backup_expression']}` gives m1_backup_<digits>.<6 digits>, a name with a "
        f"'.' (unquoted: `{_digits(u['message'])}`, digits masked), and nothing uses it: a successful run leaves "
        f"{s['tables_after'][1]} tables in the schema, as before it, none named m1_backup_*; design: "
        f"migration_backup_<log id> (format('%I')) holds the {d['backup_table_rows']} rows of the predicate, "
        "their count and checksum verified against the source before the change"
    )


def f38_failed_rolled_back(engine: str) -> str:
    s, d = seed_facts(), design_facts()
    fl = s["failing"]
    expect(
        fl is not None and fl["sqlstate"] == "22012",
        "F38",
        f"the failing change now behaves otherwise ({fl})",
    )
    expect(s["failing_logged"] == 0 and s["failing_unchanged"], "F38", "the seed's FAILED row now survives")
    fd = d["failed"]
    expect(fd["status"] == "FAILED" and fd["failed_step"] == "change", "F38", f"design: {fd}")
    expect(fd["error_message"] == "division by zero" and d["failed_unchanged"], "F38", f"design: {fd}")
    return (
        f"seed (conflict resolved): a change that fails midway (`{fl['message']}`) leaves "
        f"{s['failing_logged']} rows for it in migration_log: the RAISE rolls the FAILED update back with "
        f"everything else; design: after the error its row is {fd['status']} at step {fd['failed_step']} "
        f"with error_message `{fd['error_message']}`, committed before the error is raised again, and the "
        "rows' checksum is unchanged"
    )


def f39_nothing_to_restore(engine: str) -> str:
    s, d = seed_facts(), design_facts()
    held_before, tables = s["tables_before"]
    held_after, _ = s["tables_after"]
    expect(s["changed_rows"] == 3 and held_before == 1 and held_after == 0, "F39", f"old values: {s}")
    expect(not s["restores"], "F39", f"seed statements {s['restores']} now mention a backup")
    v = d["volatile"]
    expect(v["status"] == "FAILED" and v["failed_step"] == "verify backup", "F39", f"design volatile: {v}")
    r = d["restored"]
    expect(r["status"] == "RESTORED" and d["changed"] and d["restored_equal"], "F39", f"design restore: {r}")
    expect(d["tampered"] is not None and d["tampered_unchanged"], "F39", "design: a tampered backup restores")
    tampered = re.sub(r"^\S+ \d+ refused: ", "", d["tampered"]).replace(
        d["tampered_backup"], "migration_backup_<id>"
    )
    return (
        f"seed: after a run changed {s['changed_rows']} rows, their old values are in {held_after} of {tables} "
        "tables (no backup was taken and the seed attaches no audit trigger, F21), so there is nothing to verify "
        "and no seed statement restores anything; design: a predicate that selects different rows each time is "
        f"refused at step {v['failed_step']} (`{v['error_message']}`); restore puts the {r['rows_restored']} "
        "changed rows back, their checksum equal to the one before the migration, updated_at included; a "
        f"tampered backup is refused (`{tampered}`)"
    )


FINDINGS: list[Finding] = [
    Finding(
        "F35",
        "high",
        "migrate_data_safely never logs its start",
        "`-- Log migration start`: `INSERT INTO migration_log ... 'STARTED'` inside the function.",
        "A ledger `migration_log`; the procedure `migrate_data_safely` commits STARTED before any work, then "
        "BACKED_UP with the backup, so a run in progress or killed is visible.",
        f35_start_never_logged,
        ("postgres",),
    ),
    Finding(
        "F36",
        "high",
        "migrate_data_safely's log update is ambiguous, or matches every run",
        "`UPDATE migration_log ... WHERE migration_name = migration_name AND status = 'STARTED'`.",
        "Parameters are named `p_*`; the procedure keeps its row's id and updates that row only.",
        f36_where_ambiguous,
        ("postgres",),
    ),
    Finding(
        "F37",
        "high",
        "migrate_data_safely's backup is only a name",
        "`-- Create backup`: `backup_table := migration_name || '_backup_' || extract(epoch from now())::text`.",
        "The rows of the migration's predicate are copied into `migration_backup_<log id>` under a SHARE ROW "
        "EXCLUSIVE lock and verified (row count and checksum) against the source before the change.",
        f37_backup_only_a_name,
        ("postgres",),
    ),
    Finding(
        "F38",
        "high",
        "migrate_data_safely's FAILED status is rolled back with the failure",
        "`EXCEPTION WHEN OTHERS THEN UPDATE migration_log SET status = 'FAILED' ...; RAISE;`.",
        "The failed step is rolled back alone; FAILED, with the step and SQLERRM, is committed, then the "
        "error is raised again with its SQLSTATE.",
        f38_failed_rolled_back,
        ("postgres",),
    ),
    Finding(
        "F39",
        "high",
        "migrate_data_safely verifies nothing and cannot be undone",
        "A function named `migrate_data_safely` with no verification step and no restore.",
        "The backup is verified twice (when taken and under the lock before the change) and the change's "
        "audit rows must stay within it; `restore_data_migration(log id)` puts the rows back byte for byte, "
        "verified against the backup's checksum, and refuses a changed backup or rows changed since.",
        f39_nothing_to_restore,
        ("postgres",),
    ),
]
