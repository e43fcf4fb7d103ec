"""The migration runner: order, checksums, drift detection, atomicity, idempotence, CLI errors."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

from workbook import config, migrate
from workbook.cli import main
from workbook.engines import DuckDBEngine
from workbook.errors import WorkbookError


def _tables(db: DuckDBEngine) -> set[str]:
    return {r[0] for r in db.fetchall("SELECT table_name FROM duckdb_tables()")}


def test_discover_orders_by_version_and_reads_real_checksums():
    files = migrate.discover()
    assert [int(m.version) for m in files] == sorted(int(m.version) for m in files)
    assert files[0].name == "V0001__schema_migrations.sql"
    for m in files:
        assert m.checksum == hashlib.sha256(m.path.read_bytes()).hexdigest()


def test_migrate_applies_every_file_in_order_and_records_it(tmp_path: Path):
    with DuckDBEngine(tmp_path / "db.duckdb") as db:
        seen: list[str] = []
        done = migrate.migrate(db, progress=seen.append)
        assert [m.name for m in done] == [m.name for m in migrate.discover()]
        assert len(seen) == len(done) and seen[0].startswith("[1/")
        rows = migrate.applied(db)
        assert [(r.version, r.checksum) for r in rows] == [(m.version, m.checksum) for m in done]
        assert rows[2].description == "templates"


def test_rerun_is_a_noop(duck):
    before = duck.fetchall("SELECT version, applied_at FROM schema_migrations ORDER BY version")
    assert migrate.migrate(duck) == []
    assert duck.fetchall("SELECT version, applied_at FROM schema_migrations ORDER BY version") == before


def test_tampered_checksum_is_refused(tmp_path: Path, migrations_copy: Path):
    with DuckDBEngine(tmp_path / "db.duckdb") as db:
        migrate.migrate(db, migrations_copy)
        target = migrations_copy / "V0004__projects.sql"
        target.write_text(target.read_text().replace("Project name", "Project title"))
        with pytest.raises(WorkbookError, match=r"^V0004__projects\.sql: checksum changed"):
            migrate.migrate(db, migrations_copy)
        assert [s.state for s in migrate.status(db, migrate.discover(migrations_copy))].count("modified") == 1


def test_missing_applied_file_is_refused(tmp_path: Path, migrations_copy: Path):
    with DuckDBEngine(tmp_path / "db.duckdb") as db:
        migrate.migrate(db, migrations_copy)
        (migrations_copy / "V0006__pattern_applications.sql").unlink()
        with pytest.raises(
            WorkbookError, match=r"^V0006__pattern_applications\.sql: applied migration file is missing"
        ):
            migrate.migrate(db, migrations_copy)


def test_out_of_order_version_is_refused(tmp_path: Path, migrations_copy: Path):
    late = migrations_copy / "V0011__maintain_updated_at.sql"
    late.rename(migrations_copy / "V0099__maintain_updated_at.sql")
    with DuckDBEngine(tmp_path / "db.duckdb") as db:
        migrate.migrate(db, migrations_copy)
        (migrations_copy / "V0050__late_arrival.sql").write_text("CREATE TABLE late (id INTEGER);\n")
        with pytest.raises(WorkbookError, match=r"^V0050__late_arrival\.sql: version 0050 is older"):
            migrate.migrate(db, migrations_copy)
        assert "late" not in _tables(db)


def test_failing_migration_leaves_database_as_before(tmp_path: Path, migrations_copy: Path):
    (migrations_copy / "V0099__broken.sql").write_text(
        "CREATE TABLE half_done (id INTEGER);\nINSERT INTO half_done VALUES (1);\nALTER TABLE nowhere ADD COLUMN x INT;\n"
    )
    with DuckDBEngine(tmp_path / "db.duckdb") as db:
        with pytest.raises(
            WorkbookError, match=r"^V0099__broken\.sql:3: .*nowhere.*\(statement: ALTER TABLE nowhere"
        ):
            migrate.migrate(db, migrations_copy)
        assert "half_done" not in _tables(db)
        assert len(migrate.applied(db)) == len(
            migrate.discover()
        )  # the good files stay applied, nothing of V0099


def test_misnamed_and_duplicate_files_are_refused(migrations_copy: Path):
    (migrations_copy / "0013_no_prefix.sql").write_text("SELECT 1;")
    with pytest.raises(WorkbookError, match=r"^0013_no_prefix\.sql: migration file names"):
        migrate.discover(migrations_copy)
    (migrations_copy / "0013_no_prefix.sql").unlink()
    (migrations_copy / "V0002__again.sql").write_text("SELECT 1;")
    with pytest.raises(WorkbookError, match=r"version 0002 is also used"):
        migrate.discover(migrations_copy)


def test_cli_migrate_info_validate(tmp_path: Path, capsys):
    db = str(tmp_path / "cli.duckdb")
    assert main(["migrate", "--database", db]) == 0
    assert f"applied {len(migrate.discover())} migration(s)" in capsys.readouterr().out
    assert main(["info", "--database", db]) == 0
    out = capsys.readouterr().out
    assert out.count(" applied ") == len(migrate.discover()) and migrate.discover()[0].checksum in out
    assert main(["validate", "--database", db]) == 0


@pytest.mark.parametrize(
    "argv, message",
    [
        (["frobnicate"], "invalid choice: 'frobnicate'"),
        (["migrate", "--colour"], "unrecognized arguments: --colour"),
        (["migrate", "--engine", "sqlite"], "--engine sqlite: unknown engine"),
        (["migrate", "--database", "/no/such/folder/x.duckdb"], "--database /no/such/folder/x.duckdb"),
    ],
)
def test_cli_bad_input_is_one_line_and_nonzero(argv, message, capsys):
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err


def test_cli_database_that_is_not_duckdb(tmp_path: Path, capsys):
    bogus = tmp_path / "not-a-db.duckdb"
    bogus.write_text("this is not a database file\n" * 100)
    assert main(["migrate", "--database", str(bogus)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(bogus) in err


def test_python_dash_m_workbook_runs():
    proc = subprocess.run(
        [sys.executable, "-m", "workbook", "--help"], capture_output=True, text=True, check=True
    )
    assert "migrate" in proc.stdout and "validate" in proc.stdout
    assert config.MIGRATIONS_DIR.is_dir()


KILL_CHILD = """
import os, signal, sys
from workbook import migrate
from workbook.engines import DuckDBEngine

target, point = sys.argv[1], sys.argv[2]
where, _, number = point.partition(":")
version = f"{int(number):04d}"
db = DuckDBEngine(target)
if where == "after-commit":
    # the window between a migration's COMMIT and the CHECKPOINT that follows it
    calls = {"n": 0}
    def checkpoint(self):
        calls["n"] += 1
        if calls["n"] == 2 * int(number):  # before and after each migration
            os.kill(os.getpid(), signal.SIGKILL)
        self.con.execute("CHECKPOINT")
    DuckDBEngine.checkpoint = checkpoint
else:
    # mid-transaction: at the ledger insert that ends the migration's statements
    execute = DuckDBEngine.execute
    def killing_execute(self, sql, params=None):
        if sql.startswith("INSERT INTO schema_migrations") and params and params[0] == version:
            os.kill(os.getpid(), signal.SIGKILL)
        return execute(self, sql, params)
    DuckDBEngine.execute = killing_execute
migrate.migrate(db)
"""


def test_kill_at_every_migration_leaves_a_database_that_migrates_again(tmp_path: Path, capsys):
    """kill -9 mid-transaction and between commit and checkpoint of every file: the next migrate works."""
    files = migrate.discover()
    # Every file in the window the DuckDB bug needs; two files (a macro-calling CHECK, an ALTER) mid-transaction.
    points = [f"after-commit:{int(m.version)}" for m in files] + ["mid-transaction:3", "mid-transaction:9"]
    children = {}
    for point in points:
        target = tmp_path / f"{point.replace(':', '-')}.duckdb"
        children[point] = (target, subprocess.Popen([sys.executable, "-c", KILL_CHILD, str(target), point]))
    with DuckDBEngine() as fresh:
        migrate.migrate(fresh)
        want = fresh.fetchall("SELECT table_name, column_name, data_type FROM duckdb_columns() ORDER BY ALL")
    recovered = 0
    for point, (target, child) in children.items():
        assert child.wait(120) == -9, f"{point}: the child was not killed where intended"
        assert main(["migrate", "--database", str(target)]) == 0, (point, capsys.readouterr().err)
        recovered += "recovered:" in capsys.readouterr().err
        with DuckDBEngine(target) as db:
            assert [(a.version, a.checksum) for a in migrate.applied(db)] == [
                (m.version, m.checksum) for m in files
            ]
            got = db.fetchall("SELECT table_name, column_name, data_type FROM duckdb_columns() ORDER BY ALL")
            assert got == want, point
        assert not Path(str(target) + ".migrating").exists()
    assert recovered >= 1, "some kill landed between a commit and its checkpoint"


@pytest.mark.parametrize("engine", ["duckdb", "postgres"])
@pytest.mark.parametrize(
    "content, message",
    [
        (
            b"CREATE TABLE t13 (id INT);\nCREATE FUNCTION f() RETURNS int LANGUAGE sql AS $$\nSELECT 1;\n"
            b"CREATE TABLE t14 (id INT);\n",
            r"^V9001__broken\.sql:2: unterminated dollar-quoted body \$\$",
        ),
        (
            b"CREATE TABLE t13 (id INT);\nINSERT INTO t13 VALUES ('x);\n",
            r"^V9001__broken\.sql:2: unterminated quoted string '",
        ),
        (
            b"CREATE TABLE t13 (id INT,, name TEXT);\n",
            r"^V9001__broken\.sql:1: not valid PostgreSQL: syntax error at or near \",\"",
        ),
        (
            b"CREATE TABLE t13 (id INT);\nCOMMENT ON TABLE t13 IS 'caf\xe9';\n",
            r"^V9001__broken\.sql:2: not valid UTF-8",
        ),
    ],
    ids=["unterminated-dollar", "unterminated-quote", "syntax", "latin-1"],
)
def test_a_broken_file_is_refused_before_anything_runs(
    engine, content, message, migrations_copy: Path, capsys
):
    """Nothing pending is applied, not even the valid files before the broken one."""
    from workbook.engines import connect

    *before, last = migrate.discover(migrations_copy)
    keep = last.path.rename(last.path.with_suffix(".keep"))
    with connect(engine) as db:
        migrate.migrate(db, migrations_copy)
        keep.rename(last.path)
        (migrations_copy / "V9001__broken.sql").write_bytes(content)
        with pytest.raises(WorkbookError, match=message):
            migrate.migrate(db, migrations_copy)
        assert migrate.applied(db)[-1].version == before[-1].version, f"{last.name} was not applied either"
        assert not db.table_exists("t13")
