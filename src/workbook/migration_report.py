"""The Migration Strategy section's evidence: each table is produced by running the runner, never typed.

Every function here works on a copy of a migrations folder (or the folder itself, read only) and
returns markdown whose content is the same on every build: states, messages, counts and lock modes,
no times, no process ids, no random names.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path

from . import faults, migrate
from .engines import DuckDBEngine, connect
from .errors import WorkbookError
from .tables import md_table

ENGINES = ("duckdb", "postgres")
LABEL = {"duckdb": "DuckDB", "postgres": "PostgreSQL"}


def _copy(into: Path, directory: Path | None = None) -> Path:
    return migrate.staged({}, into / "migrations", directory or migrate.default_directory())


def states_table(directory: Path | None = None) -> str:
    """Every state, produced on one DuckDB database by doing what causes it, with what `info` says."""
    with tempfile.TemporaryDirectory() as tmp, DuckDBEngine() as db:
        folder = _copy(Path(tmp), directory)
        files = migrate.discover(folder)
        last = files[-1]
        held = last.path.rename(last.path.with_suffix(".held"))
        migrate.migrate(db, folder)
        held.rename(last.path)
        (folder / "V9001__fails.sql").write_text("CREATE TABLE t9 (id INT);\nINSERT INTO t9 VALUES ('x');\n")
        failed = ""
        try:
            migrate.migrate(db, folder)
        except WorkbookError as exc:
            failed = str(exc)
        (folder / "V9001__fails.sql").write_text("CREATE TABLE t9 (id INT);\n")
        migrate.migrate(db, folder)
        (folder / "V9000__below.sql").write_text("CREATE TABLE t8 (id INT);\n")
        edited = files[3].path
        edited.write_text(edited.read_text() + "\n-- edited after it was applied\n")
        (folder / "V9001__fails.sql").rename(folder / "V9001__fails.sql.gone")
        causes = {
            "applied": "in the ledger with the file's sha256",
            "modified": f"{edited.name} edited after it was applied: migrate refuses until the file is restored "
            "or `workbook repair --reason` accepts the edit",
            "out-of-order": "V9000__below.sql added below the last applied version (V9001): refused",
            "missing": "V9001 applied, then its file deleted: refused",
        }
        states = migrate.status(db, migrate.discover(folder))
        rows, seen = [], set()
        for s in states:
            if s.state in seen and s.state == "applied":
                continue
            seen.add(s.state)
            rows.append([f"`{s.version}`", s.state, causes.get(s.state, "")])
        # the failed and pending states, observed before they were resolved above
        rows.append(["`9001`", "failed", f"an attempt that failed, rolled back, then recorded: `{failed}`"])
        rows.append(
            [f"`{last.version}`", "pending", "a file not yet applied, above the last applied version"]
        )
        rows.sort(
            key=lambda r: ["applied", "pending", "failed", "modified", "out-of-order", "missing"].index(r[1])
        )
    return md_table(["Version", "State", "How it arose (and what migrate does)"], rows)


def baseline_table(directory: Path | None = None) -> str:
    """Baseline on a hand-built database: refused at a wrong version, accepted at the right one, then migrate."""
    from .baseline import differs_from_schema

    rows = []
    with tempfile.TemporaryDirectory() as tmp, DuckDBEngine() as db:
        folder = _copy(Path(tmp), directory)
        files = migrate.discover(folder)
        upto = files[len(files) // 2]
        for m in files:
            if int(m.version) > int(upto.version):
                break
            for stmt in m.statements("duckdb"):
                db.execute(stmt.sql)
        for table in (migrate.REPAIRS, migrate.LEDGER):
            db.execute(f"DROP TABLE IF EXISTS {table}")

        def compare(e, v):  # noqa: ANN001, ANN202
            return differs_from_schema(e, v, folder)

        wrong = files[len(files) // 2 + 1]
        for version, what in (
            (wrong.version, "a version the database does not have"),
            (upto.version, "its version"),
        ):
            try:
                migrate.baseline(db, version, folder, compare=compare)
                rows.append(
                    [f"baseline --version {version} ({what})", "accepted: files up to it count as applied"]
                )
            except WorkbookError as exc:
                rows.append([f"baseline --version {version} ({what})", f"refused: `{exc}`"])
        done = migrate.migrate(db, folder)
        rows.append(["migrate", f"applied the {len(done)} files after V{upto.version}"])
        try:
            migrate.baseline(db, upto.version, folder)
        except WorkbookError as exc:
            rows.append(["baseline again", f"refused: `{exc}`"])
    return md_table(["Command", "Result"], rows)


def refusals_table(cases: Sequence[tuple[str, str, bytes, str]], directory: Path | None = None) -> str:
    """Each bad file added after the real migrations, on both engines: the message, and nothing applied."""
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        base = _copy(Path(tmp) / "base", directory)
        dbs = {e: connect(e) for e in ENGINES}
        try:
            for db in dbs.values():
                migrate.migrate(db, base)
            before = {e: faults.snapshot(db) for e, db in dbs.items()}
            for i, (label, name, content, start) in enumerate(cases):
                folder = _copy(Path(tmp) / f"case{i}", base)
                (folder / "V9000__first.sql").write_text("CREATE TABLE t_first (id INT);\n")
                (folder / name).write_bytes(content)
                said = {}
                for e, db in dbs.items():
                    try:
                        migrate.migrate(db, folder)
                        raise WorkbookError(f"{label}: {e} applied it")
                    except WorkbookError as exc:
                        said[e] = str(exc)
                    if not said[e].startswith(start):
                        raise WorkbookError(
                            f"{label}: {e} said {said[e]!r}, expected it to start with {start!r}"
                        )
                    if faults.snapshot(db) != before[e]:
                        raise WorkbookError(f"{label}: {e}: the database changed")
                same = said["duckdb"] == said["postgres"]
                rows.append(
                    [
                        label,
                        f"`{said['postgres']}`" + ("" if same else f" (DuckDB: `{said['duckdb']}`)"),
                        "yes",
                    ]
                )
        finally:
            for db in dbs.values():
                db.close()
    return md_table(
        ["Bad input", "The one line the runner prints (both engines)", "Database as before"], rows
    )


def race_table(rounds: int = 3) -> str:
    """Two `workbook migrate` processes started at the same instant, `rounds` times per engine."""
    from psycopg.conninfo import make_conninfo

    from . import pgserver

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for engine in ENGINES:
            exits, once = [], 0
            for i in range(rounds):
                if engine == "duckdb":
                    target = str(Path(tmp) / f"race{i}.duckdb")
                    argv = ["migrate", "--database", target]
                    results = faults.race(argv, Path(tmp))
                    with DuckDBEngine(target) as db:
                        versions = [
                            r[0]
                            for r in db.fetchall(
                                "SELECT version FROM schema_migrations WHERE state = 'applied'"
                            )
                        ]
                else:
                    dsn, _ = pgserver.server_dsn()
                    with connect("postgres", dsn, isolated=False) as admin:
                        name = f"workbook_race_{i}"
                        admin.execute(f"DROP DATABASE IF EXISTS {name}")
                        admin.execute(f"CREATE DATABASE {name}")
                        target = make_conninfo(dsn, dbname=name)
                        results = faults.race(
                            ["migrate", "--engine", "postgres", "--database", target], Path(tmp)
                        )
                        with connect("postgres", target, isolated=False) as db:
                            versions = [
                                r[0]
                                for r in db.fetchall(
                                    "SELECT version FROM schema_migrations WHERE state = 'applied'"
                                )
                            ]
                        admin.execute(f"DROP DATABASE {name}")
                exits.append(tuple(c for c, _ in results))
                want = [m.version for m in migrate.discover()]
                once += sorted(versions) == want
            if any(e != (0, 0) for e in exits) or once != rounds:
                raise WorkbookError(
                    f"two migrators on {engine}: exits {exits}, versions once in {once}/{rounds} rounds"
                )
            how = (
                "the second waits for the file (DuckDB: one writer), then finds nothing pending"
                if engine == "duckdb"
                else "the second waits on the advisory lock, then finds nothing pending"
            )
            rows.append([LABEL[engine], str(rounds), "0 and 0, every round", f"{once} of {rounds}", how])
    return md_table(["Engine", "Rounds", "Exit statuses", "Every version applied exactly once", "How"], rows)


FAULT_SUMMARIES: list[dict] = []  # every faults_table run's summaries, for the Quality Checklist's check


def faults_table(runs: Sequence[tuple[str, str]], directory: Path | None = None) -> str:
    """Fault injection (engine, mode) runs as a table: points, files, outcome."""
    rows = []
    for engine, mode in runs:
        tmp = None
        if engine == "duckdb" and mode == "kill":
            tmp, path = faults.temp_duckdb()
            db = DuckDBEngine(path)
        else:
            db = connect(engine)
        try:
            s = faults.run(db, mode, directory).summary()
            FAULT_SUMMARIES.append(s)
        finally:
            db.close()
            if tmp is not None:
                tmp.cleanup()
        if s["failures"] or not s["final_equals_clean_run"]:
            raise WorkbookError(
                f"fault injection {engine} {mode}: {s['failures'][:1]} (final equals clean: {s['final_equals_clean_run']})"
            )
        what = "an error raised by the runner" if mode == "fail" else "kill -9 of the process"
        rows.append(
            [
                LABEL[engine],
                what,
                str(s["points"]),
                str(s["files"]),
                str(s["as_before"]),
                str(s["no_transaction_converged"]),
                "yes" if s["final_equals_clean_run"] else "no",
            ]
        )
    return md_table(
        [
            "Engine",
            "Fault after each statement",
            "Points",
            "Files",
            "Database as before the file",
            "No-transaction points whose retry converged",
            "Finally equal to a clean run",
        ],
        rows,
    )


def gap_table(versions: Sequence[str], directory: Path | None = None) -> str:
    """The DuckDB gap rows of the given migration versions."""
    rows = []
    for m in migrate.discover(directory or migrate.default_directory()):
        if m.version not in versions:
            continue
        for g in m.adapted().gaps:
            rows.append([f"`{g.where}`", f"`{g.rule}`", g.construct, g.duckdb])
    return md_table(["Where", "Rule", "Construct", "What DuckDB does"], rows)


def lock_markdown(rows: Sequence[dict]) -> str:
    """The tags migration's lock table (bench_migration.lock_table) as markdown."""
    out = []
    for r in rows:
        if not r["relations"] or r["relations"] != "templates":
            continue
        out.append(
            [
                r["form"],
                r["step"],
                r["lock_modes"],
                "wait" if r["writes_wait"] else "go on",
                "wait" if r["reads_wait"] else "go on",
                r["row_locks_until"] or "",
                r["observed"],
            ]
        )
    return md_table(
        ["Form", "Step", "Locks on templates", "Writes", "Reads", "Row locks held until", "Observed"], out
    )


def safe_walkthrough(
    procedures, rows_sql: Sequence[str], target: str, predicate: str, change: str, failing: str, actor: str
) -> str:  # noqa: ANN001 - a safe_migration.Procedures
    """A migration that succeeds and is then restored, and one that fails midway, on a fresh schema."""
    from . import safe_migration as sm

    with connect("postgres") as pg:
        migrate.migrate(pg)
        pg.set_session_actor(actor)
        for sql in rows_sql:
            pg.execute(sql)
        ok = sm.run(pg, procedures, "retitle", target, predicate, change, actor=actor)
        try:
            sm.run(pg, procedures, "retitle-broken", target, predicate, failing, actor=actor)
            raise WorkbookError("the failing data migration succeeded")
        except sm.MigrationFailed as exc:
            bad = exc.log
        restored = sm.restore(pg, procedures, ok["id"], actor=actor)
        return sm.evidence_table([restored, bad])
