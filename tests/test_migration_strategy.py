"""The migration strategy's promises, each proven by injecting the fault: states, baseline, repair,
one migrator at a time, transactions the runner owns, concurrent index builds, fault injection at
every statement on both engines."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from workbook import faults, migrate
from workbook.baseline import differs_from_schema
from workbook.cli import main
from workbook.engines import DuckDBEngine, connect
from workbook.errors import WorkbookError

ENGINES = ["duckdb", "postgres"]


def _states(db, folder: Path) -> dict[str, str]:
    return {s.version: s.state for s in migrate.status(db, migrate.discover(folder))}


# --- states -------------------------------------------------------------------------------------


@pytest.mark.parametrize("engine", ENGINES)
def test_every_state_is_derived_from_the_ledger_and_the_files(engine, migrations_copy: Path):
    files = migrate.discover(migrations_copy)
    last = files[-1]
    with connect(engine) as db:
        keep = last.path.rename(last.path.with_suffix(".keep"))
        migrate.migrate(db, migrations_copy)
        keep.rename(last.path)
        assert _states(db, migrations_copy)[last.version] == "pending"
        migrate.migrate(db, migrations_copy)
        assert set(_states(db, migrations_copy).values()) == {"applied"}
        # a failing file is rolled back, then recorded as failed (the ledger has a state column)
        (migrations_copy / "V9001__fails.sql").write_text(
            "CREATE TABLE t9 (id INT);\nINSERT INTO t9 VALUES ('x');\n"
        )
        with pytest.raises(WorkbookError, match=r"^V9001__fails\.sql:2: "):
            migrate.migrate(db, migrations_copy)
        row = _states(db, migrations_copy)
        assert row["9001"] == "failed" and not db.table_exists("t9")
        failed = next(s for s in migrate.status(db, migrate.discover(migrations_copy)) if s.version == "9001")
        assert "V9001__fails.sql:2" in failed.detail
        # the next migrate retries a failed file: fixed, it applies and the failed row is gone
        (migrations_copy / "V9001__fails.sql").write_text("CREATE TABLE t9 (id INT);\n")
        assert [m.version for m in migrate.migrate(db, migrations_copy)] == ["9001"]
        assert _states(db, migrations_copy)["9001"] == "applied"
        # a file inserted below history is out of order; an edited one modified; a deleted one missing
        (migrations_copy / "V0015a__x.sql").unlink(missing_ok=True)
        (migrations_copy / "V9000__below.sql").write_text("CREATE TABLE t8 (id INT);\n")
        assert _states(db, migrations_copy)["9000"] == "out-of-order"
        (migrations_copy / "V9000__below.sql").unlink()
        target = migrations_copy / "V0004__projects.sql"
        target.write_text(target.read_text() + "\n-- reviewed comment\n")
        (migrations_copy / "V9001__fails.sql").unlink()
        states = _states(db, migrations_copy)
        assert states["0004"] == "modified" and states["9001"] == "missing"


def test_the_history_head_is_a_chain_that_changes_with_any_version(migrations_copy: Path):
    with DuckDBEngine() as db:
        migrate.migrate(db, migrations_copy)
        files = migrate.discover(migrations_copy)
        head = migrate.head(db, files)
        assert head == migrate.chain([(m.version, m.checksum) for m in files])
        swapped = files[:]
        swapped[3], swapped[4] = swapped[4], swapped[3]
        assert migrate.chain([(m.version, m.checksum) for m in swapped]) != head


# --- repair -------------------------------------------------------------------------------------


@pytest.mark.parametrize("engine", ENGINES)
def test_repair_needs_a_reason_and_records_both_checksums(engine, migrations_copy: Path):
    with connect(engine) as db:
        migrate.migrate(db, migrations_copy)
        target = migrations_copy / "V0004__projects.sql"
        old = migrate.discover(migrations_copy)[3].checksum
        target.write_text(target.read_text() + "\n-- a comment fixed in review\n")
        with pytest.raises(WorkbookError, match="checksum changed"):
            migrate.migrate(db, migrations_copy)
        before = faults.snapshot(db)
        with pytest.raises(WorkbookError, match=r"^repair: give --reason"):
            migrate.repair(db, "  ", migrations_copy)
        assert faults.snapshot(db) == before, "a refused repair changes nothing"
        done = migrate.repair(db, "typo in a comment, reviewed by the data team", migrations_copy, by="ana")
        new = migrate.discover(migrations_copy)[3].checksum
        assert [(r.version, r.old_checksum, r.new_checksum) for r in done] == [("0004", old, new)]
        assert [r[:5] for r in migrate.repairs(db)] == [
            ("0004", old, new, "typo in a comment, reviewed by the data team", "ana")
        ]
        assert migrate.migrate(db, migrations_copy) == []
        assert migrate.repair(db, "again", migrations_copy) == [], "nothing left to repair"


def test_repair_does_not_accept_a_deleted_file(migrations_copy: Path):
    with DuckDBEngine() as db:
        migrate.migrate(db, migrations_copy)
        (migrations_copy / "V0019__stored_search_vector.sql").unlink()
        with pytest.raises(
            WorkbookError, match=r"^V0019__stored_search_vector\.sql: applied migration file is missing"
        ):
            migrate.repair(db, "gone", migrations_copy)


# --- baseline -----------------------------------------------------------------------------------


@pytest.mark.parametrize("engine", ENGINES)
def test_baseline_an_existing_database_then_migrate_the_rest(engine, migrations_copy: Path):
    files = migrate.discover(migrations_copy)
    with connect(engine) as clean:
        migrate.migrate(clean, migrations_copy)
        want = faults.snapshot(clean)
    with connect(engine) as db:
        for m in files:  # a database built by hand up to V0012: the objects, no ledger
            if int(m.version) > 12:
                break
            for stmt in m.statements(engine):
                db.execute(stmt.sql)
        db.execute("DROP TABLE schema_migrations")
        with pytest.raises(
            WorkbookError, match=r"^baseline --version 0013: the database differs from the schema at V0013"
        ):
            migrate.baseline(
                db, "0013", migrations_copy, compare=lambda e, v: differs_from_schema(e, v, migrations_copy)
            )
        assert not db.table_exists("schema_migrations"), "a refused baseline leaves the database as it was"
        row = migrate.baseline(
            db, "0012", migrations_copy, compare=lambda e, v: differs_from_schema(e, v, migrations_copy)
        )
        assert row.state == "baseline"
        states = _states(db, migrations_copy)
        assert {states[m.version] for m in files if int(m.version) <= 12} == {"baseline"}
        assert {states[m.version] for m in files if int(m.version) > 12} == {"pending"}
        done = migrate.migrate(db, migrations_copy)
        assert [m.version for m in done] == [m.version for m in files if int(m.version) > 12]
        got = {r for r in faults.snapshot(db) if r[0] != "ledger"}
        assert got == {r for r in want if r[0] != "ledger"}
        # a second baseline: refused, nothing changes
        before = faults.snapshot(db)
        with pytest.raises(WorkbookError, match=r"^baseline: this database already has a ledger"):
            migrate.baseline(db, "0012", migrations_copy)
        assert faults.snapshot(db) == before
        # an edit below the baseline is still caught (the baseline row holds the chain of those files)
        target = migrations_copy / "V0003__templates.sql"
        target.write_text(target.read_text() + "\n-- edited\n")
        assert _states(db, migrations_copy)["0012"] == "modified"


def test_cli_baseline_and_repair_bad_input_is_one_line(tmp_path: Path, capsys):
    db = tmp_path / "w.duckdb"
    assert main(["migrate", "--database", str(db)]) == 0
    capsys.readouterr()
    assert main(["baseline", "--version", "0005", "--database", str(db)]) == 1
    err = capsys.readouterr().err
    assert (
        err.startswith("workbook: error: baseline: this database already has a ledger")
        and err.count("\n") == 1
    )
    assert main(["baseline", "--version", "0999", "--database", str(tmp_path / "x.duckdb")]) == 1
    assert "no migration file has that version" in capsys.readouterr().err
    assert main(["repair", "--reason", "", "--database", str(db)]) == 1
    assert capsys.readouterr().err.startswith("workbook: error: repair: give --reason")
    assert main(["repair", "--database", str(db)]) == 1
    assert "--reason" in capsys.readouterr().err
    assert main(["repair", "--reason", "nothing to do", "--database", str(db)]) == 0
    assert "nothing to repair" in capsys.readouterr().out
    assert main(["info", "--database", str(db)]) == 0
    assert "history head" in capsys.readouterr().out


# --- the runner owns the transaction -----------------------------------------------------------


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(
    "text, message",
    [
        (
            "CREATE TABLE t13 (id INT);\nBEGIN;\nCREATE TABLE t14 (id INT);\nCOMMIT;\n",
            r"^V9001__own_tx\.sql:2: BEGIN in a migration: the runner runs each file in one transaction",
        ),
        (
            "CREATE TABLE t13 (id INT);\nCOMMIT;\nSELECT 1/0;\n",
            r"^V9001__own_tx\.sql:2: COMMIT in a migration",
        ),
        ("CREATE TABLE t13 (id INT);\n\nROLLBACK;\n", r"^V9001__own_tx\.sql:3: ROLLBACK in a migration"),
        (
            "CREATE TABLE t13 (id INT);\nCREATE INDEX CONCURRENTLY ix_t13 ON t13 (id);\n",
            r"^V9001__own_tx\.sql:2: CONCURRENTLY cannot run inside a transaction",
        ),
        (
            "-- workbook: no-transaction\nCREATE TABLE t13 (id INT);\n",
            r"^V9001__own_tx\.sql:2: a '-- workbook: no-transaction' file holds only",
        ),
        ("-- workbook: sometimes\nCREATE TABLE t13 (id INT);\n", r"^V9001__own_tx\.sql:1: unknown directive"),
    ],
    ids=["begin", "commit-then-error", "rollback", "concurrently-in-tx", "no-tx-alter", "unknown-directive"],
)
def test_a_file_that_manages_transactions_is_refused_before_anything_runs(
    engine, text, message, migrations_copy: Path
):
    with connect(engine) as db:
        migrate.migrate(db, migrations_copy)
        before = faults.snapshot(db)
        (migrations_copy / "V9000__first.sql").write_text("CREATE TABLE t12 (id INT);\n")
        (migrations_copy / "V9001__own_tx.sql").write_text(text)
        with pytest.raises(WorkbookError, match=message):
            migrate.migrate(db, migrations_copy)
        assert faults.snapshot(db) == before, "nothing pending ran, not even the file before it"


def test_the_seeds_example_migration_is_refused_at_its_begin(migrations_copy: Path):
    from workbook import seed

    example = seed.find(r"ALTER TABLE templates ADD COLUMN tags")
    block = [s for s in seed.statements() if example.number - 1 <= s.number <= example.number + 4]
    assert block[0].statement.head == "BEGIN" and block[-1].statement.head == "COMMIT"
    text = "\n".join(s.statement.sql + ";" for s in block)
    (migrations_copy / "V9001__add_template_tags.sql").write_text(text)
    with DuckDBEngine() as db:
        with pytest.raises(WorkbookError, match=r"^V9001__add_template_tags\.sql:1: BEGIN in a migration"):
            migrate.migrate(db, migrations_copy)


def test_an_interrupted_concurrent_build_is_rebuilt_not_hidden(migrations_copy: Path):
    """A unique CIC on duplicated data leaves an INVALID index; IF NOT EXISTS would keep it; the runner rebuilds."""
    (migrations_copy / "V9001__dupes.sql").write_text(
        "CREATE TABLE t20 (id INT, code TEXT);\nINSERT INTO t20 VALUES (1, 'a'), (2, 'a');\n"
    )
    (migrations_copy / "V9002__unique_code.sql").write_text(
        "-- workbook: no-transaction\nSET lock_timeout = '5s';\n"
        "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS ux_t20_code ON t20 (code);\n"
    )
    with connect("postgres") as db:
        with pytest.raises(WorkbookError, match=r"^V9002__unique_code\.sql:3: could not create unique index"):
            migrate.migrate(db, migrations_copy)
        assert migrate.invalid_index(db, "ux_t20_code") is True, "PostgreSQL left the INVALID index behind"
        assert _states(db, migrations_copy)["9002"] == "failed"
        # what IF NOT EXISTS alone would do: succeed and keep the INVALID index
        db.execute("CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS ux_t20_code ON t20 (code)")
        assert migrate.invalid_index(db, "ux_t20_code") is True
        db.execute("DELETE FROM t20 WHERE id = 2")
        said: list[str] = []
        assert [m.version for m in migrate.migrate(db, migrations_copy, progress=said.append)] == ["9002"]
        assert migrate.invalid_index(db, "ux_t20_code") is False
        assert any("is INVALID (an interrupted build); rebuilding it" in s for s in said)
        with pytest.raises(Exception, match="duplicate key"):
            db.execute("INSERT INTO t20 VALUES (3, 'a')")
    with DuckDBEngine() as duck:  # DuckDB: the same file in one transaction (gap concurrent-index)
        with pytest.raises(WorkbookError, match=r"^V9002__unique_code\.sql"):
            migrate.migrate(duck, migrations_copy)


# --- one migrator at a time ---------------------------------------------------------------------


def _assert_once(db, results: list[tuple[int, str]]) -> None:
    codes = [c for c, _ in results]
    assert all(c in (0, 1) for c in codes), results
    for code, err in results:
        if code:
            assert "another migrate is running" in err and err.count("\n") == 1, err
    ledger = db.fetchall("SELECT version FROM schema_migrations WHERE state = 'applied' ORDER BY version")
    assert [r[0] for r in ledger] == [m.version for m in migrate.discover()], "every version exactly once"


def test_two_migrators_at_the_same_instant_duckdb(tmp_path: Path, monkeypatch):
    monkeypatch.setenv(migrate.LOCK_WAIT_ENV, "120")
    waited = 0
    for i in range(20):
        target = tmp_path / f"race-{i}.duckdb"
        results = faults.race(["migrate", "--database", str(target)], tmp_path)
        waited += sum("waiting:" in err and "another migrate is running" in err for _, err in results)
        with DuckDBEngine(target) as db:
            _assert_once(db, results)
        assert [c for c, _ in results] == [0, 0], results
    assert waited >= 1, "no round had the two runners overlap"


def test_two_migrators_at_the_same_instant_postgres(tmp_path: Path, monkeypatch):
    from psycopg.conninfo import make_conninfo

    from workbook import pgserver

    monkeypatch.setenv(migrate.LOCK_WAIT_ENV, "120")
    dsn, _ = pgserver.server_dsn()
    waited = 0
    with connect("postgres", dsn, isolated=False) as admin:
        for i in range(20):
            name = f"race_{os.getpid()}_{i}"
            admin.execute(f"CREATE DATABASE {name}")
            target = make_conninfo(dsn, dbname=name)
            results = faults.race(["migrate", "--engine", "postgres", "--database", target], tmp_path)
            waited += sum("waiting:" in err and "another migrate is running" in err for _, err in results)
            with connect("postgres", target, isolated=False) as db:
                _assert_once(db, results)
            admin.execute(f"DROP DATABASE {name}")
            assert [c for c, _ in results] == [0, 0], results
    assert waited >= 1, "no round had the two runners overlap"


# --- fault injection at every statement ---------------------------------------------------------


@pytest.mark.parametrize("engine", ENGINES)
def test_a_failure_after_every_statement_leaves_the_database_as_before(engine):
    with connect(engine) as db:
        report = faults.run(db, "fail")
    s = report.summary()
    assert s["failures"] == [] and s["final_equals_clean_run"], s
    files = migrate.discover()
    total = sum(len(m.statements(engine)) for m in files)
    no_tx = sum(len(m.statements(engine)) for m in files if m.no_transaction) if engine == "postgres" else 0
    assert s["points"] == total and s["as_before"] == total - no_tx
    assert s["no_transaction_converged"] == no_tx, "a no-transaction file's retry converges from every point"


def test_kill_9_after_every_statement_postgres():
    with connect("postgres") as db:
        report = faults.run(db, "kill")
    s = report.summary()
    assert s["failures"] == [] and s["final_equals_clean_run"], s
    assert s["points"] == sum(len(m.statements("postgres")) for m in migrate.discover())


def test_kill_9_after_every_statement_duckdb_sampled(tmp_path: Path):
    """Every statement of four files here (the ledger, a table, the audit trail, the ledger's states);
    `make fault-injection` kills after every statement of every file on both engines."""
    sample = [
        "V0001__schema_migrations.sql",
        "V0003__templates.sql",
        "V0008__audit_trail.sql",
        "V0020__migration_ledger_states.sql",
    ]
    db = DuckDBEngine(tmp_path / "kill.duckdb")
    try:
        report = faults.run(db, "kill", files=sample)
    finally:
        db.close()
    s = report.summary()
    assert s["failures"] == [] and s["final_equals_clean_run"], s
    assert s["files"] == 4 and s["points"] == sum(
        len(m.statements("duckdb")) for m in migrate.discover() if m.name in sample
    )


def test_a_backfill_in_a_no_transaction_file_runs_in_batches_and_resumes(migrations_copy: Path):
    """The tags backfill (V0023) walks templates in batches, each its own transaction; an interrupted
    one resumes where it stopped; a WHERE that does not exclude done rows is refused."""
    from workbook.design import WORKBOOK_ACTOR

    tags = next(m for m in migrate.discover(migrations_copy) if m.name.startswith("V0023"))
    keep = tags.path.rename(tags.path.with_suffix(".keep"))
    for later in migrate.discover(
        migrations_copy
    ):  # the files after it wait too: V0023 must not be out of order
        if later.version > tags.version:
            later.path.unlink()
    with connect("postgres") as db:
        migrate.migrate(db, migrations_copy)
        db.set_session_actor(WORKBOOK_ACTOR)
        db.execute("INSERT INTO users (id, email, name) VALUES (gen_random_uuid(), 'a@example.com', 'A')")
        db.execute(
            "INSERT INTO templates (name, description, category, version, author_id) "
            "SELECT 't' || g, 'template ' || g, 'cat' || (g % 7), '1.0.0', (SELECT id FROM users) "
            "FROM generate_series(1, 1234) g"
        )
        audit = db.scalar("SELECT count(*) FROM audit_log")
        keep.rename(tags.path)
        said: list[str] = []
        assert [m.version for m in migrate.migrate(db, migrations_copy, progress=said.append)] == ["0023"]
        batches = [s for s in said if "backfill of templates" in s]
        assert len(batches) == 3 and batches[-1].endswith("1,234 rows"), said  # 500 + 500 + 234
        assert db.scalar("SELECT count(*) FROM templates WHERE tags = ARRAY[category]") == 1234
        assert db.scalar("SELECT count(*) FROM audit_log") - audit == 1234, "one audit row per template"
        assert migrate.invalid_index(db, "ix_templates_tags") is False
        assert db.scalar("SHOW lock_timeout") == "0", "the file's SET did not outlive it"
        # a backfill whose WHERE still matches what it updated would loop for ever: refused
        (migrations_copy / "V9001__bad_backfill.sql").write_text(
            "-- workbook: no-transaction\nUPDATE templates SET tags = tags WHERE true;\n"
        )
        with pytest.raises(
            WorkbookError, match=r"^V9001__bad_backfill\.sql:2: the backfill's WHERE still matches"
        ):
            migrate.migrate(db, migrations_copy)
