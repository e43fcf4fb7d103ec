"""Safe data migrations on a real PostgreSQL schema: backup, verification, failure, restore, refusals.

The design's safe_migration.sql is applied on top of every migration, on the design's own tables
(templates, with the audit trail and the updated_at trigger on). Each test makes its own templates,
named by a prefix, and selects them by it.
"""

from __future__ import annotations

import psycopg
import pytest

import workbook.findings  # noqa: F401 - the findings machinery before the design's findings
from workbook import migrate
from workbook.design import WORKBOOK_ACTOR
from workbook.design import findings_safe_migration as fsm
from workbook.engines import DuckDBEngine, connect
from workbook.errors import WorkbookError
from workbook.safe_migration import MigrationFailed, evidence_table, install, restore, run, statements, steps

P = fsm.PROCEDURES
AUTHOR = "00000000-0000-0000-0000-000000000001"
OTHER_ACTOR = "00000000-0000-4000-8000-0000000000b0"


@pytest.fixture(scope="module")
def pg():
    db = connect("postgres")
    migrate.migrate(db)
    install(db, fsm.SQL_FILE, P)  # a no-op once the file is one of the migrations
    db.set_session_actor(WORKBOOK_ACTOR)
    db.execute(f"INSERT INTO users (id, email, name) VALUES ('{AUTHOR}', 'ada@example.com', 'Ada')")
    yield db
    db.close()


def templates(db, prefix: str, n: int = 3) -> None:
    for i in range(1, n + 1):
        db.execute(
            "INSERT INTO templates (name, description, category, version, author_id) VALUES (?, ?, 'starter', '1.0.0', ?)",
            [f"{prefix}{i}", f"Template {prefix}{i} as first written", AUTHOR],
        )


def where(prefix: str) -> str:
    return f"name LIKE '{prefix}%'"


def rows(db, prefix: str) -> str:
    """The rows' own checksum, computed here and not by the design: every column's text, in id order."""
    return db.scalar(
        "SELECT md5(string_agg(t::text, E'\\n' ORDER BY id)) FROM templates AS t WHERE name LIKE ?",
        [f"{prefix}%"],
    )


def migration(db, name: str, prefix: str, sql: str, predicate: str | None = None) -> dict:
    return run(db, P, name, "templates", predicate or where(prefix), sql, actor=WORKBOOK_ACTOR)


def logged(db) -> int:
    return db.scalar(f"SELECT count(*) FROM {P.log}")


def test_the_file_is_a_migration_valid_postgresql_without_transaction_control():
    stmts = statements(fsm.SQL_FILE)  # each checked by pglast (check_postgres_syntax)
    heads = [s.sql.lstrip().split(None, 2)[:2] for s in stmts]
    assert ["CREATE", "TABLE"] in heads and ["CREATE", "PROCEDURE"] in heads
    assert not [h for h in heads if h[0].upper() in ("BEGIN", "COMMIT", "ROLLBACK")]


def test_success_backs_up_exactly_the_changed_rows_verified_before_the_change(pg):
    templates(pg, "ok")
    templates(pg, "bystander", 2)
    before, untouched = rows(pg, "ok"), rows(pg, "bystander")
    log = migration(
        pg,
        "describe",
        "ok",
        "UPDATE templates SET description = description || ' (migrated)' WHERE name LIKE 'ok%'",
    )
    assert log["status"] == "COMPLETED" and log["failed_step"] is None and log["error_message"] is None
    assert log["backup_rows"] == log["rows_changed"] == 3
    assert log["run_by"] is not None and str(log["run_by"]) == WORKBOOK_ACTOR
    backup = log["backup_table"]
    assert backup == f"migration_backup_{log['id']}"
    # The backup holds the rows as they were, byte for byte: the same checksum as before the change.
    assert pg.scalar(f"SELECT md5(string_agg(b::text, E'\\n' ORDER BY id)) FROM {backup} AS b") == before
    assert rows(pg, "ok") != before and rows(pg, "bystander") == untouched
    assert (
        pg.scalar("SELECT count(*) FROM templates WHERE name LIKE 'ok%' AND description LIKE '% (migrated)'")
        == 3
    )
    # The change is in the audit trail, with the actor, although the procedure committed in between.
    assert pg.fetchall(
        "SELECT operation, changed_by::text, count(*) FROM audit_log WHERE new_values->>'name' LIKE 'ok%' "
        "AND operation = 'UPDATE' GROUP BY 1, 2"
    ) == [("UPDATE", WORKBOOK_ACTOR, 3)]
    assert [s[:2] for s in steps(log)] == [
        ("start", "STARTED"),
        ("backup", "BACKED_UP"),
        ("change", "COMPLETED"),
    ]
    table = evidence_table([log])
    assert "| COMPLETED |" in table and "3 rows into migration_backup_" in table


def test_a_change_that_fails_midway_is_logged_failed_and_changes_nothing(pg):
    templates(pg, "fail")
    before, count = rows(pg, "fail"), logged(pg)
    failing = (
        "UPDATE templates SET description = description || (1 / (CASE WHEN name = 'fail2' THEN 0 ELSE 1 END))::text "
        "WHERE name LIKE 'fail%'"
    )
    with pytest.raises(MigrationFailed, match="FAILED at step change .*division by zero") as raised:
        migration(pg, "midway", "fail", failing)
    log = raised.value.log
    assert logged(pg) == count + 1
    assert (log["status"], log["failed_step"], log["error_message"]) == (
        "FAILED",
        "change",
        "division by zero",
    )
    assert log["backup_rows"] == 3 and log["rows_changed"] is None
    # Committed: another session sees the FAILED row; the data is as it was.
    other = pg.sibling()
    try:
        assert other.scalar(f"SELECT status FROM {P.log} WHERE id = ?", [log["id"]]) == "FAILED"
    finally:
        other.close()
    assert rows(pg, "fail") == before
    # Raised again with the original SQLSTATE, the log id in its DETAIL.
    with pytest.raises(psycopg.Error) as direct:
        pg.execute(f"CALL {P.migrate}('midway again', 'templates', ?, ?)", [where("fail"), failing])
    assert direct.value.sqlstate == "22012"
    assert f"{P.log} id " in direct.value.diag.message_detail
    assert rows(pg, "fail") == before
    assert steps(log)[-1][:2] == ("change", "FAILED")


def test_restore_returns_the_rows_byte_identical(pg):
    templates(pg, "undo")
    before = rows(pg, "undo")
    updated = pg.fetchall("SELECT id, updated_at FROM templates WHERE name LIKE 'undo%' ORDER BY id")
    log = migration(
        pg,
        "wrong",
        "undo",
        "UPDATE templates SET category = 'wrong', published = true WHERE name LIKE 'undo%'",
    )
    assert log["status"] == "COMPLETED" and rows(pg, "undo") != before
    restored = restore(pg, P, log["id"], actor=OTHER_ACTOR)
    assert restored["status"] == "RESTORED" and restored["rows_restored"] == 3
    assert str(restored["restored_by"]) == OTHER_ACTOR
    assert rows(pg, "undo") == before  # every column, updated_at and the generated search_vector included
    assert pg.fetchall("SELECT id, updated_at FROM templates WHERE name LIKE 'undo%' ORDER BY id") == updated
    # The updated_at trigger was off for the restoring UPDATE only: it is on again.
    assert (
        pg.scalar("SELECT count(*) FROM pg_trigger WHERE tgrelid = 'templates'::regclass AND tgenabled = 'D'")
        == 0
    )
    # The restore is audited, by its own actor.
    assert (
        pg.scalar(
            "SELECT count(*) FROM audit_log WHERE operation = 'UPDATE' AND changed_by = ? AND new_values->>'name' LIKE 'undo%'",
            [OTHER_ACTOR],
        )
        == 3
    )
    with pytest.raises(WorkbookError, match="is RESTORED: only a COMPLETED migration can be restored"):
        restore(pg, P, log["id"], actor=WORKBOOK_ACTOR)
    assert [s[1] for s in steps(restored)] == ["STARTED", "BACKED_UP", "COMPLETED", "RESTORED"]


def test_restore_puts_back_rows_the_migration_deleted(pg):
    templates(pg, "gone")
    before = rows(pg, "gone")
    log = migration(pg, "purge", "gone", "DELETE FROM templates WHERE name IN ('gone1', 'gone3')")
    assert (log["status"], log["backup_rows"], log["rows_changed"]) == ("COMPLETED", 3, 2)
    assert pg.scalar("SELECT count(*) FROM templates WHERE name LIKE 'gone%'") == 1
    restored = restore(pg, P, log["id"], actor=WORKBOOK_ACTOR)
    assert restored["rows_restored"] == 2
    assert rows(pg, "gone") == before


def test_restore_refuses_a_tampered_backup_and_rows_changed_since(pg):
    templates(pg, "tamp")
    log = migration(pg, "tamper", "tamp", "UPDATE templates SET category = 'moved' WHERE name LIKE 'tamp%'")
    after = rows(pg, "tamp")
    pg.execute(
        f"UPDATE {log['backup_table']} SET description = 'Somebody edited the backup' WHERE name = 'tamp2'"
    )
    with pytest.raises(WorkbookError, match="no longer matches its checksum"):
        restore(pg, P, log["id"], actor=WORKBOOK_ACTOR)
    assert rows(pg, "tamp") == after

    templates(pg, "later")
    log = migration(
        pg, "superseded", "later", "UPDATE templates SET category = 'moved' WHERE name LIKE 'later%'"
    )
    pg.execute("UPDATE templates SET description = 'A later, legitimate edit' WHERE name = 'later1'")
    changed = rows(pg, "later")
    with pytest.raises(
        WorkbookError, match="changed after migration .* restoring would overwrite those changes"
    ):
        restore(pg, P, log["id"], actor=WORKBOOK_ACTOR)
    assert rows(pg, "later") == changed
    assert pg.scalar(f"SELECT status FROM {P.log} WHERE id = ?", [log["id"]]) == "COMPLETED"


def test_a_predicate_that_selects_other_rows_each_time_fails_backup_verification(pg):
    templates(pg, "flip")
    before = rows(pg, "flip")
    pg.execute("CREATE SEQUENCE flip_seq")
    with pytest.raises(
        MigrationFailed, match="does not match its source: 1 rows copied, 2 rows in the source"
    ) as raised:
        migration(pg, "volatile", "flip", "SELECT 1", "name LIKE 'flip%' AND nextval('flip_seq') % 2 = 0")
    log = raised.value.log
    assert (log["status"], log["failed_step"], log["backup_table"]) == ("FAILED", "verify backup", None)
    assert pg.scalar("SELECT to_regclass(?)", [f"migration_backup_{log['id']}"]) is None  # rolled back
    assert rows(pg, "flip") == before


def test_rows_or_backup_changed_between_backup_and_change_are_refused(pg):
    """A writer in the window between the backup's commit and the change, simulated by a trigger."""
    templates(pg, "race")
    pg.execute(
        """CREATE FUNCTION race_writer() RETURNS TRIGGER LANGUAGE plpgsql AS $$
        BEGIN
            IF NEW.status = 'BACKED_UP' AND NEW.migration_name = 'raced' THEN
                UPDATE templates SET description = 'Written by a concurrent writer' WHERE name = 'race2';
            ELSIF NEW.status = 'BACKED_UP' AND NEW.migration_name = 'backup edited' THEN
                EXECUTE format('UPDATE %I SET category = ''edited'' WHERE name = ''race1''', NEW.backup_table);
            END IF;
            RETURN NEW;
        END $$"""
    )
    pg.execute(f"CREATE TRIGGER trg_race AFTER UPDATE ON {P.log} FOR EACH ROW EXECUTE FUNCTION race_writer()")
    change = "UPDATE templates SET category = 'migrated' WHERE name LIKE 'race%'"
    try:
        with pytest.raises(MigrationFailed, match="changed after the backup") as raised:
            migration(pg, "raced", "race", change)
        assert raised.value.log["failed_step"] == "verify before change"
        assert (
            pg.scalar("SELECT count(*) FROM templates WHERE name LIKE 'race%' AND category = 'migrated'") == 0
        )
        before = rows(pg, "race")
        with pytest.raises(MigrationFailed, match="changed after it was verified") as raised:
            migration(pg, "backup edited", "race", change)
        assert raised.value.log["failed_step"] == "verify before change"
        assert rows(pg, "race") == before
    finally:
        pg.execute(f"DROP TRIGGER trg_race ON {P.log}")
        pg.execute("DROP FUNCTION race_writer()")


@pytest.mark.parametrize(
    "label, sql",
    [
        (
            "rows outside the predicate",
            "UPDATE templates SET category = 'all' WHERE name LIKE 'foot%' OR name = 'bfoot1'",
        ),
        (
            "an insert",
            "INSERT INTO templates (name, description, category, version, author_id) "
            f"VALUES ('foot9', 'An extra template', 'c', '1.0.0', '{AUTHOR}')",
        ),
        (
            "another table through a trigger",
            "UPDATE projects SET template_id = NULL WHERE name = 'foot-site'",
        ),
    ],
)
def test_a_change_the_backup_does_not_cover_is_refused(pg, label, sql):
    prefix = "foot"
    if not pg.scalar("SELECT count(*) FROM templates WHERE name = 'foot1'"):
        templates(pg, prefix)
        templates(pg, "bfoot", 1)
        pg.execute(
            "INSERT INTO projects (name, owner_id, template_id) "
            f"SELECT 'foot-site', '{AUTHOR}', id FROM templates WHERE name = 'foot1'"
        )
    snapshot = (
        rows(pg, "foot"),
        rows(pg, "bfoot"),
        pg.scalar("SELECT md5(string_agg(p::text, '')) FROM projects AS p"),
    )
    # Moving a project off its template changes templates.project_count (a trigger): outside the backup.
    target = "projects" if "projects" in sql else "templates"
    predicate = "name = 'foot-site'" if target == "projects" else where(prefix)
    with pytest.raises(MigrationFailed, match="the backup does not hold") as raised:
        run(pg, P, label, target, predicate, sql, actor=WORKBOOK_ACTOR)
    assert raised.value.log["failed_step"] == "check footprint"
    assert snapshot == (
        rows(pg, "foot"),
        rows(pg, "bfoot"),
        pg.scalar("SELECT md5(string_agg(p::text, '')) FROM projects AS p"),
    )


def test_refused_before_it_starts(pg):
    count = logged(pg)
    other = pg.sibling()  # a session without an actor
    try:
        with pytest.raises(Exception, match="no actor"):
            other.execute(f"CALL {P.migrate}('anonymous', 'templates', 'true', 'SELECT 1')")
    finally:
        other.close()
    with pytest.raises(WorkbookError, match="has no audit trigger"):
        run(pg, P, "unaudited", P.log, "true", "SELECT 1", actor=WORKBOOK_ACTOR)
    with pytest.raises(WorkbookError, match="outside a transaction block"), pg.transaction():
        run(pg, P, "nested", "templates", "true", "SELECT 1", actor=WORKBOOK_ACTOR)
    with DuckDBEngine() as duck, pytest.raises(WorkbookError, match="PostgreSQL only"):
        run(duck, P, "duck", "templates", "true", "SELECT 1", actor=WORKBOOK_ACTOR)
    assert logged(pg) == count
    assert (
        pg.scalar("SELECT current_setting('workbook.actor_id')") == WORKBOOK_ACTOR
    )  # the session's, put back


def test_the_lock_queues_writers_not_readers_and_lock_timeout_fails_cleanly(pg):
    templates(pg, "lock")
    templates(pg, "wlock", 2)
    before = rows(pg, "lock")
    writer = pg.sibling()
    try:  # a writer holding an uncommitted change: the migration cannot take its lock
        writer.execute("BEGIN")
        writer.execute("SELECT set_config('workbook.actor_id', ?, true)", [WORKBOOK_ACTOR])
        writer.execute("UPDATE templates SET published = true WHERE name = 'wlock1'")
        pg.execute("SET lock_timeout = '50ms'")
        with pytest.raises(MigrationFailed, match="lock timeout") as raised:
            migration(pg, "blocked", "lock", "UPDATE templates SET category = 'x' WHERE name LIKE 'lock%'")
        assert (raised.value.log["status"], raised.value.log["failed_step"]) == ("FAILED", "backup")
    finally:
        pg.execute("RESET lock_timeout")
        writer.execute("ROLLBACK")
        writer.close()
    assert rows(pg, "lock") == before

    def during() -> tuple:
        reader, other_writer = pg.sibling(), pg.sibling()
        try:
            read = reader.scalar("SELECT count(*) FROM templates WHERE name LIKE 'lock%'")
            other_writer.execute("SET lock_timeout = '50ms'")
            other_writer.execute("SELECT set_config('workbook.actor_id', ?, false)", [WORKBOOK_ACTOR])
            try:
                other_writer.execute("UPDATE templates SET published = true WHERE name = 'wlock2'")
                wrote = "wrote"
            except Exception as exc:
                wrote = str(exc).splitlines()[0]
            mode = pg.scalar(
                "SELECT string_agg(mode, ',') FROM pg_locks WHERE relation = 'templates'::regclass "
                "AND granted AND mode = 'ShareRowExclusiveLock'"
            )
            return read, wrote, mode
        finally:
            reader.close()
            other_writer.close()

    seen = fsm.kill_mid_change(
        pg,
        f"CALL {P.migrate}(?, 'templates', ?, ?, NULL)",
        ["killed", where("lock"), "UPDATE templates SET category = 'x' WHERE name LIKE 'lock%'"],
        during,
        (f"SELECT set_config('workbook.actor_id', '{WORKBOOK_ACTOR}', false)",),
        lock="SELECT id FROM templates WHERE name = 'lock1' FOR UPDATE",
    )
    assert seen == (3, "canceling statement due to lock timeout", "ShareRowExclusiveLock")
    log = pg.fetchall(
        f"SELECT status, backup_rows, completed_at FROM {P.log} WHERE migration_name = 'killed'"
    )
    assert log == [("BACKED_UP", 3, None)]  # the kill is visible: backed up, never completed
    assert rows(pg, "lock") == before


def test_findings_evidence_is_executed_and_holds():
    assert [f.id for f in fsm.FINDINGS] == ["F35", "F36", "F37", "F38", "F39"]
    texts = {}
    for f in fsm.FINDINGS:
        assert f.engines == ("postgres",)
        texts[f.id] = f.evidence("postgres")
        assert texts[f.id] and "\n" not in texts[f.id]
    assert 'relation "migration_log" does not exist' in texts["F35"]
    assert 'column reference "migration_name" is ambiguous' in texts["F36"]
    assert "a name with a '.'" in texts["F37"]
    assert "leaves 0 rows for it in migration_log" in texts["F38"]
    assert "checksum equal to the one before the migration" in texts["F39"]
    # The evidence is the same text on a second build in a fresh process state.
    fsm.seed_facts.cache_clear()
    fsm.design_facts.cache_clear()
    assert {f.id: f.evidence("postgres") for f in fsm.FINDINGS} == texts
