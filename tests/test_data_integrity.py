"""Generated data and its loading: a folder loads only as one complete, unchanged run, or not at all.

Kills are real: a child process SIGKILLs itself at a chosen point (no sleeps, no timing), then the
next command is run against what it left behind.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from workbook import migrate, synth
from workbook.cli import main
from workbook.engines import connect
from workbook.errors import WorkbookError

OLD = (0.001, 1)  # the run a folder holds before it is regenerated
NEW = (0.002, 2)  # the run that replaces it: other row counts and other bytes in every file
ENGINES = ["duckdb", "postgres"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, tuple[Path, synth.Manifest]]:
    root = tmp_path_factory.mktemp("runs")
    old, _ = synth.generate(*OLD, root / "old")
    new, _ = synth.generate(*NEW, root / "new")
    assert all(old.rows[t] != new.rows[t] or old.sha256[t] != new.sha256[t] for t in synth.TABLES)
    return {"old": (root / "old", old), "new": (root / "new", new)}


@pytest.fixture(scope="module")
def migrated_file(tmp_path_factory) -> Path:
    """A fully migrated, checkpointed DuckDB file to copy (faster than migrating for every check)."""
    path = tmp_path_factory.mktemp("db") / "migrated.duckdb"
    with connect("duckdb", path) as db:
        migrate.migrate(db)
        db.execute("CHECKPOINT")
    assert not Path(f"{path}.wal").exists()
    return path


def copy_folder(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def counts(db) -> dict[str, int]:
    return {t: db.scalar(f"SELECT count(*) FROM {t}") for t in synth.LOAD_ORDER}


EMPTY = dict.fromkeys(synth.LOAD_ORDER, 0)


def rows_of(m: synth.Manifest) -> dict[str, int]:
    return {t: m.rows[t] for t in synth.LOAD_ORDER}


def one_error_line(err: str, *needles: str) -> str:
    """The CLI's error: its last stderr line, one line, no traceback, naming what it must name."""
    assert "Traceback" not in err
    line = err.strip().splitlines()[-1]
    assert line.startswith("workbook: error: "), err
    for needle in needles:
        assert needle in line, line
    return line


def load(engine: str, folder: Path):
    """Load `folder` into a fresh migrated database of `engine`; returns (error or None, row counts)."""
    with connect(engine) as db:
        migrate.migrate(db)
        loader = synth.load_duckdb if engine == "duckdb" else synth.load_postgres
        try:
            loader(db, folder)
            error = None
        except WorkbookError as exc:
            error = str(exc)
        return error, counts(db)


def edit_manifest(folder: Path, change) -> None:
    path = folder / "manifest.json"
    raw = json.loads(path.read_text())
    change(raw)
    path.write_text(json.dumps(raw, indent=2))


# 1. Every file is checked against the manifest before anything is loaded ---------------------------


def _zero_four_bytes_silently(path: Path) -> None:
    """Zero 4 bytes where the file still reads without error but holds other rows (the user's case).

    The first such offset from the start of the file, in steps of 97 bytes (it lands in the first
    column, the primary key, which no constraint can tell is wrong): the file's bytes are fixed by the
    seed, so this picks the same offset every time.
    """
    import duckdb

    original = path.read_bytes()
    probe = path.with_name("probe.bin")
    con = duckdb.connect()
    rows = f"SELECT sum(hash(columns(*))), count(*) FROM read_parquet('{probe}')"
    probe.write_bytes(original)
    expected = con.execute(rows).fetchall()
    try:
        for offset in range(0, len(original) - 4, 97):
            damaged = original[:offset] + b"\0\0\0\0" + original[offset + 4 :]
            if damaged == original:
                continue
            probe.write_bytes(damaged)
            try:
                if con.execute(rows).fetchall() != expected:
                    path.write_bytes(damaged)
                    return
            except duckdb.Error:
                continue
    finally:
        con.close()
        probe.unlink()
    raise AssertionError("no offset where zeroed bytes go unnoticed by the Parquet reader")


@pytest.mark.parametrize("engine", ENGINES)
def test_four_zeroed_bytes_are_refused_before_anything_is_loaded(runs, tmp_path, engine):
    folder = copy_folder(runs["old"][0], tmp_path / "f")
    target = folder / "pattern_applications.parquet"
    _zero_four_bytes_silently(target)
    error, loaded = load(engine, folder)
    assert error is not None and error.startswith(f"{target}: sha256 ") and "manifest.json" in error
    assert loaded == EMPTY


def test_cli_refuses_a_damaged_folder_without_creating_the_database(runs, tmp_path, capsys):
    folder = copy_folder(runs["old"][0], tmp_path / "f")
    with open(folder / "users.parquet", "r+b") as f:
        f.seek(100)
        f.write(b"\0\0\0\0")
    db = tmp_path / "x.duckdb"
    assert main(["data", "load", "--database", str(db), "--from", str(folder)]) == 1
    one_error_line(capsys.readouterr().err, "users.parquet", "sha256")
    assert not db.exists(), "the folder is checked before the database is created or migrated"


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("damage", ["missing", "truncated"])
def test_a_missing_or_truncated_file_is_refused_in_one_line(runs, tmp_path, engine, damage):
    folder = copy_folder(runs["old"][0], tmp_path / "f")
    target = folder / "projects.parquet"
    if damage == "missing":
        target.unlink()
    else:
        target.write_bytes(target.read_bytes()[: target.stat().st_size // 2])
    error, loaded = load(engine, folder)
    assert error is not None and error.startswith(str(target)), error
    assert ("missing" if damage == "missing" else "sha256") in error
    assert loaded == EMPTY


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("damage", ["missing", "truncated"])
def test_a_file_the_engine_cannot_read_is_one_line_naming_it(runs, tmp_path, monkeypatch, engine, damage):
    """Past the manifest check (a manifest that agrees with a truncated file, or a file deleted right
    after the check), the engine's own read error is still one line naming the file."""
    folder = copy_folder(runs["old"][0], tmp_path / "f")
    target = folder / "templates.parquet"
    if damage == "truncated":
        target.write_bytes(target.read_bytes()[:-40])
        edit_manifest(folder, lambda raw: raw["sha256"].__setitem__("templates", synth.sha256(target)))
    else:
        from workbook.synth import folder as fd

        real = fd.verify

        def verify_then_remove(*a, **kw):
            result = real(*a, **kw)
            target.unlink()
            return result

        monkeypatch.setattr(fd, "verify", verify_then_remove)
    error, loaded = load(engine, folder)
    assert error is not None and str(target) in error and "nothing was loaded" in error, error
    assert len(error.splitlines()) == 1
    assert loaded == EMPTY


def test_manifest_must_list_exactly_the_loaders_tables(runs, tmp_path, capsys):
    lacking = copy_folder(runs["old"][0], tmp_path / "lacking")
    edit_manifest(lacking, lambda raw: [raw["rows"].pop("audit_log"), raw["sha256"].pop("audit_log")])
    with pytest.raises(WorkbookError, match=r"manifest.json: 'rows' must list exactly .* lacks audit_log"):
        synth.read_manifest(lacking)
    extra = copy_folder(runs["old"][0], tmp_path / "extra")
    edit_manifest(
        extra, lambda raw: [raw["rows"].update(comments=1), raw["sha256"].update(comments="0" * 64)]
    )
    assert main(["data", "load", "--database", str(tmp_path / "x.duckdb"), "--from", str(extra)]) == 1
    one_error_line(capsys.readouterr().err, "manifest.json", "has unknown comments")


# 2. A killed generate never leaves a folder that loads as a mix of two runs -----------------------

CHILD_GENERATE = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    from workbook import synth

    out, kill_at, total = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    done = 0

    def in_folder(path):
        p = Path(path)
        return p.parent == out and not p.name.startswith(".")

    def counted(real, target_arg):
        def call(*args, **kwargs):
            global done
            if not in_folder(args[target_arg]):
                return real(*args, **kwargs)
            if done == kill_at:
                os.kill(os.getpid(), signal.SIGKILL)  # before change number `kill_at` to the folder
            result = real(*args, **kwargs)
            done += 1
            if done == kill_at == total:
                os.kill(os.getpid(), signal.SIGKILL)  # after the last change, before generate returns
            return result
        return call

    os.replace = counted(os.replace, 1)
    os.unlink = counted(os.unlink, 0)
    synth.generate(float(sys.argv[4]), int(sys.argv[5]), out)
    print("generate returned")
    """
)


def _folder_changes(runs, tmp_path, monkeypatch) -> list[tuple[str, str]]:
    """The changes generate makes to the folder itself (not its .partial-<pid> work folder), in order."""
    out = copy_folder(runs["old"][0], tmp_path / "probe")
    seen: list[tuple[str, str]] = []
    real_replace, real_unlink = os.replace, os.unlink

    def replace(src, dst, *a, **kw):
        if Path(dst).parent == out and not Path(dst).name.startswith("."):
            seen.append(("replace", Path(dst).name))
        return real_replace(src, dst, *a, **kw)

    def unlink(path, *a, **kw):
        if Path(path).parent == out and not Path(path).name.startswith("."):
            seen.append(("unlink", Path(path).name))
        return real_unlink(path, *a, **kw)

    monkeypatch.setattr(os, "replace", replace)
    monkeypatch.setattr(os, "unlink", unlink)
    synth.generate(*NEW, out)
    monkeypatch.undo()
    return seen


def test_generate_killed_at_every_change_to_the_folder_never_loads_a_mix(
    runs, migrated_file, tmp_path, monkeypatch, capsys
):
    old_folder, old = runs["old"]
    _, new = runs["new"]
    changes = _folder_changes(runs, tmp_path, monkeypatch)
    assert {name for _, name in changes} == {f"{t}.parquet" for t in synth.TABLES} | {"manifest.json"}
    outcomes = []
    for k in range(len(changes) + 1):
        out = copy_folder(old_folder, tmp_path / f"kill-{k}")
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD_GENERATE, str(out), str(k), str(len(changes)), *map(str, NEW)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        stdout, stderr = child.communicate()
        assert child.returncode == -signal.SIGKILL, (k, stdout, stderr)
        assert (out / f".partial-{child.pid}").is_dir(), "killed before it could clean up"

        db = tmp_path / f"kill-{k}.duckdb"
        shutil.copy(migrated_file, db)
        with connect("duckdb", db) as engine:
            try:
                synth.load_duckdb(engine, out)
                loaded = counts(engine)
                outcome = "old" if loaded == rows_of(old) else "new" if loaded == rows_of(new) else "MIX"
                assert synth.read_manifest(out).sha256 == (old if outcome == "old" else new).sha256
            except WorkbookError as exc:
                assert counts(engine) == EMPTY
                assert str(exc).startswith(f"{out / 'manifest.json'}: missing"), str(exc)
                outcome = "refused"
        if outcome == "refused":
            assert (
                main(["data", "load", "--database", str(tmp_path / f"cli-{k}.duckdb"), "--from", str(out)])
                == 1
            )
            one_error_line(capsys.readouterr().err, "manifest.json", "missing")
        outcomes.append(outcome)

        # The next generate removes the killed run's work folder and completes the folder.
        again, _ = synth.generate(*NEW, out)
        assert again.sha256 == new.sha256
        assert not list(out.glob(".partial-*"))
        assert synth.read_manifest(out).rows == new.rows

    # The old run until its manifest is removed, then refused, then the new run once its manifest is in.
    assert outcomes[0] == "old" and outcomes[-1] == "new", outcomes
    first_refused = outcomes.index("refused")
    last_refused = len(outcomes) - 1 - outcomes[::-1].index("refused")
    assert set(outcomes[:first_refused]) == {"old"}
    assert set(outcomes[first_refused : last_refused + 1]) == {"refused"}
    assert set(outcomes[last_refused + 1 :]) == {"new"}
    assert changes[first_refused - 1] == ("unlink", "manifest.json"), "the manifest goes first"
    assert changes[-1] == ("replace", "manifest.json"), "and comes back last"


def test_a_folder_mixing_two_runs_under_one_manifest_is_refused(runs, tmp_path):
    """What a killed generate used to leave: some files of a new run beside the old manifest."""
    out = copy_folder(runs["old"][0], tmp_path / "mix")
    mixed = ("projects", "pattern_applications", "patterns")
    for t in mixed:
        shutil.copy(runs["new"][0] / f"{t}.parquet", out / f"{t}.parquet")
    first = next(t for t in synth.LOAD_ORDER if t in mixed)
    for engine in ENGINES:
        error, loaded = load(engine, out)
        assert error is not None and error.startswith(f"{out / (first + '.parquet')}: sha256 "), error
        assert loaded == EMPTY


def test_stale_partial_folders_of_dead_processes_are_removed_live_ones_kept(runs, tmp_path):
    out = copy_folder(runs["old"][0], tmp_path / "out")
    live = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    zombie = subprocess.Popen([sys.executable, "-c", "pass"])
    os.waitid(os.P_PID, zombie.pid, os.WEXITED | os.WNOWAIT)  # exited, not yet reaped
    try:
        stale = {name: out / f".partial-{pid}" for name, pid in [("live", live.pid), ("zombie", zombie.pid)]}
        dead_pid = _pid_of_exited_process()  # exited and reaped: the pid is gone
        stale["dead"] = out / f".partial-{dead_pid}"
        stale["not-a-pid"] = out / ".partial-x1"
        for folder in stale.values():
            (folder / "spill").mkdir(parents=True)
            (folder / "users.parquet").write_bytes(b"half written")
        synth.generate(*OLD, out)
        assert not stale["dead"].exists() and not stale["zombie"].exists()
        assert (stale["live"] / "users.parquet").read_bytes() == b"half written", (
            "a live run is never touched"
        )
        assert stale["not-a-pid"].is_dir()
    finally:
        live.communicate(b"")
        zombie.wait()
    synth.generate(*OLD, out)
    assert not stale["live"].exists(), "removed once its process is gone"


def _pid_of_exited_process() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


# 3. A row count that does not match the manifest rolls the whole load back ------------------------


@pytest.mark.parametrize("engine", ENGINES)
def test_row_count_mismatch_is_checked_inside_the_transaction(runs, tmp_path, engine):
    folder = copy_folder(runs["old"][0], tmp_path / "f")
    last = synth.LOAD_ORDER[-1]  # every other table is in when the mismatch is found
    real = runs["old"][1].rows[last]
    edit_manifest(folder, lambda raw: raw["rows"].__setitem__(last, real + 1))
    synth.read_manifest(folder)  # only the row count changed: every sha256 still matches
    with connect(engine) as db:
        migrate.migrate(db)
        if engine == "postgres":
            from workbook.catalog import read_catalog

            before = read_catalog(db)
        loader = synth.load_duckdb if engine == "duckdb" else synth.load_postgres
        with pytest.raises(WorkbookError) as info:
            loader(db, folder)
        assert str(info.value) == (
            f"{folder / (last + '.parquet')}: holds {real} rows, manifest.json says {real + 1}; nothing was loaded"
        )
        assert counts(db) == EMPTY
        if engine == "postgres":
            assert read_catalog(db) == before, "keys and indexes dropped for the load are back"


# 4. An empty --database is an error, not an in-memory database ------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        ["data", "load", "--database", ""],
        ["data", "load", "--database", "  "],
        ["data", "load", "--engine", "postgres", "--database", ""],
        ["migrate", "--database", ""],
        ["migrate", "--engine", "postgres", "--database", ""],
        ["info", "--database="],
    ],
)
def test_empty_database_setting_is_an_error(runs, argv, capsys):
    if argv[:2] == ["data", "load"]:
        argv = [*argv, "--from", str(runs["old"][0])]
    assert main(argv) == 1
    out, err = capsys.readouterr()
    one_error_line(err, "--database", "empty")
    assert "loaded" not in out and "applied" not in out


# 5. Bad manifests and part-migrated databases: one line each ---------------------------------------


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("{not json", "not valid JSON (line 1"),
        ("", "not valid JSON"),
        ("[1, 2]", "a JSON object was expected"),
        ("\xff\xfe", "not UTF-8"),
        (None, "lacks the key(s) sha256"),
        ("rows-not-int", "rows.users must be a row count"),
    ],
)
def test_a_bad_manifest_is_one_line_naming_it(runs, tmp_path, capsys, text, needle):
    folder = copy_folder(runs["old"][0], tmp_path / "f")
    path = folder / "manifest.json"
    if text is None:
        edit_manifest(folder, lambda raw: raw.pop("sha256"))
    elif text == "rows-not-int":
        edit_manifest(folder, lambda raw: raw["rows"].__setitem__("users", "100"))
    else:
        path.write_bytes(text.encode("latin-1"))
    with pytest.raises(WorkbookError, match="manifest.json: "):
        synth.read_manifest(folder)
    assert main(["data", "load", "--database", str(tmp_path / "x.duckdb"), "--from", str(folder)]) == 1
    one_error_line(capsys.readouterr().err, str(path), needle)


def test_a_folder_that_does_not_exist(tmp_path, capsys):
    assert (
        main(["data", "load", "--database", str(tmp_path / "x.duckdb"), "--from", str(tmp_path / "nope")])
        == 1
    )
    one_error_line(capsys.readouterr().err, str(tmp_path / "nope"), "no such folder")


def _migrate_first(n: int, db, tmp_path: Path) -> None:
    part = tmp_path / "first-migrations"
    part.mkdir()
    for f in migrate.discover()[:n]:
        shutil.copy(f.path, part / f.path.name)
    migrate.migrate(db, part)


@pytest.mark.parametrize("engine", ENGINES)
def test_loader_refuses_a_database_migrated_part_way(runs, tmp_path, engine):
    with connect(engine) as db:
        _migrate_first(3, db, tmp_path)
        loader = synth.load_duckdb if engine == "duckdb" else synth.load_postgres
        with pytest.raises(WorkbookError) as info:
            loader(db, runs["old"][0])
        last = migrate.discover()[-1].name
        pending = len(migrate.discover()) - 3
        assert f"not fully migrated: {pending} migration(s) pending (V0004__projects.sql to {last})" in str(
            info.value
        )
        assert "run 'workbook migrate" in str(info.value)
        assert len(migrate.applied(db)) == 3, "nothing changed"


def test_cli_load_migrates_the_rest_of_a_part_migrated_file_then_loads(runs, tmp_path, capsys):
    path = tmp_path / "part.duckdb"
    with connect("duckdb", path) as db:
        _migrate_first(3, db, tmp_path)
        db.execute("CHECKPOINT")
    assert main(["data", "load", "--database", str(path), "--from", str(runs["old"][0])]) == 0
    out, err = capsys.readouterr()
    pending = len(migrate.discover()) - 3
    assert f"migrated part way (3 applied); applied the {pending} pending migration(s)" in err
    assert "duckdb: loaded" in out
    with connect("duckdb", path) as db:
        assert len(migrate.applied(db)) == len(migrate.discover())
        assert counts(db) == rows_of(runs["old"][1])


# 6. kill -9 of `workbook data load` into a fresh DuckDB file --------------------------------------

CHILD_LOAD = textwrap.dedent(
    """
    import os, signal, sys
    from workbook import cli, synth

    database, folder, kill_at = sys.argv[1:4]
    real = synth.load_duckdb

    def load(db, source, progress=None, **kw):
        def tick(table, rows):
            progress(table, rows)
            if table == kill_at:  # this table is inserted, the transaction is open
                os.kill(os.getpid(), signal.SIGKILL)
        if kill_at == "before-checkpoint":  # committed, not yet checkpointed
            execute, seen = db.execute, []
            def counted(sql, params=None):
                if sql == "CHECKPOINT":
                    seen.append(sql)
                    if len(seen) == 2:
                        os.kill(os.getpid(), signal.SIGKILL)
                return execute(sql, params)
            db.execute = counted
        return real(db, source, progress=tick, **kw)

    synth.load_duckdb = load
    sys.exit(cli.main(["data", "load", "--database", database, "--from", folder]))
    """
)


@pytest.mark.parametrize("kill_at", [*synth.LOAD_ORDER, "before-checkpoint"])
def test_kill_during_duckdb_load_then_load_again(runs, tmp_path, capsys, kill_at):
    """Killed in the data phase of a load into a fresh file (after the CLI migrated it)."""
    folder, manifest = runs["old"]
    path = tmp_path / "fresh.duckdb"
    child = subprocess.run(
        [sys.executable, "-c", CHILD_LOAD, str(path), str(folder), kill_at], capture_output=True, text=True
    )
    assert child.returncode == -signal.SIGKILL, child.stderr
    if kill_at == "before-checkpoint":  # the load had committed: it is all there, and stays
        with connect("duckdb", path) as db:
            assert counts(db) == rows_of(manifest)
        assert main(["data", "load", "--database", str(path), "--from", str(folder)]) == 1
        one_error_line(capsys.readouterr().err, "already holds data")
    else:
        with connect("duckdb", path) as db:
            assert len(migrate.applied(db)) == len(migrate.discover())
            assert counts(db) == EMPTY, "nothing of the killed load is visible"
        assert main(["data", "load", "--database", str(path), "--from", str(folder)]) == 0
    with connect("duckdb", path) as db:
        assert counts(db) == rows_of(manifest)
        assert db.scalar("SELECT sum(usage_count) FROM patterns") == manifest.rows["pattern_applications"]


def test_a_successful_duckdb_load_is_checkpointed(runs, migrated_file, tmp_path):
    """The loaded rows are in the database file itself, not only in the write-ahead log."""
    path = tmp_path / "x.duckdb"
    shutil.copy(migrated_file, path)
    wal = Path(f"{path}.wal")
    with connect("duckdb", path) as db:
        # DuckDB checkpoints by itself once the log passes this size; take that out of the picture.
        db.execute("SET checkpoint_threshold = '1TB'")
        synth.load_duckdb(db, runs["old"][0])
        assert not wal.exists() or wal.stat().st_size == 0, "checked while the connection is still open"
        size = path.stat().st_size
    assert size > migrated_file.stat().st_size
    with connect("duckdb", path) as db:
        assert counts(db) == rows_of(runs["old"][1])


CHILD_MIGRATE_THEN_LOAD = textwrap.dedent(
    """
    import os, signal, sys
    from workbook import cli, migrate
    from workbook.engines import DuckDBEngine

    database, folder, after = sys.argv[1], sys.argv[2], int(sys.argv[3])
    real = DuckDBEngine.checkpoint

    def checkpoint(self):
        # The first checkpoint that sees migration `after` recorded is the one right after its
        # commit: its log is unflushed, the window DuckDB could not replay.
        if len(migrate.applied(self)) == after:
            os.kill(os.getpid(), signal.SIGKILL)
        return real(self)

    DuckDBEngine.checkpoint = checkpoint
    sys.exit(cli.main(["data", "load", "--database", database, "--from", folder]))
    """
)


@pytest.mark.parametrize("after", [3, 12])
def test_kill_during_the_migration_step_of_a_load_then_load_again(runs, tmp_path, capsys, after):
    """Killed while the CLI migrates the fresh file (after migration `after` committed, before its
    checkpoint): the next load opens the file, applies what is pending and loads everything."""
    folder, manifest = runs["old"]
    path = tmp_path / "fresh.duckdb"
    child = subprocess.run(
        [sys.executable, "-c", CHILD_MIGRATE_THEN_LOAD, str(path), str(folder), str(after)],
        capture_output=True,
        text=True,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr
    assert main(["data", "load", "--database", str(path), "--from", str(folder)]) == 0
    assert "duckdb: loaded" in capsys.readouterr().out
    with connect("duckdb", path) as db:
        assert len(migrate.applied(db)) == len(migrate.discover())
        assert counts(db) == rows_of(manifest)
