"""Fault injection at every statement of every migration, on either engine.

For each file, in version order, the runner is stopped after each of its statements in turn, before
the file's ledger row and commit: by an error raised in the runner (`fail`) or by `kill -9` of the
process running it (`kill`). After each stop the database's snapshot (every object of the schema
and every ledger row) must equal the snapshot taken before the file; then the file is applied for
real and the next file is tried. At the end the database must equal one migrated without faults.

A file marked `-- workbook: no-transaction` runs statement by statement outside a transaction, so
a stop leaves the statements before it in place by design; for those files the check is that the
next run converges (an INVALID index left by an interrupted concurrent build is rebuilt, never kept).

The kill children are forked from a server process that has already imported the workbook, so a
point costs a fork and a connection rather than an interpreter start.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from . import migrate
from .engines import DuckDBEngine, Engine, PostgresEngine
from .errors import WorkbookError

MODES = ("fail", "kill")


class InjectedFault(Exception):
    """Raised by the runner's statement hook where a fault is injected."""


# --- snapshots -----------------------------------------------------------------------------------

_PG_SNAPSHOT = """
WITH s AS (SELECT oid FROM pg_namespace WHERE nspname = current_schema())
SELECT 'relation', c.relname, c.relkind::text FROM pg_class c WHERE c.relnamespace = (SELECT oid FROM s)
UNION ALL
SELECT 'column', c.relname || '.' || a.attname,
       format_type(a.atttypid, a.atttypmod) || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END
       || coalesce(' default ' || pg_get_expr(d.adbin, d.adrelid), '')
       || CASE WHEN a.attgenerated <> '' THEN ' generated' ELSE '' END
FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE c.relnamespace = (SELECT oid FROM s) AND a.attnum > 0 AND NOT a.attisdropped
UNION ALL
SELECT 'constraint', conrelid::regclass::text || '.' || conname, pg_get_constraintdef(oid)
FROM pg_constraint WHERE connamespace = (SELECT oid FROM s)
UNION ALL
SELECT 'index', i.indexrelid::regclass::text,
       pg_get_indexdef(i.indexrelid) || CASE WHEN i.indisvalid THEN '' ELSE ' INVALID' END
FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relnamespace = (SELECT oid FROM s)
UNION ALL
SELECT 'trigger', t.tgrelid::regclass::text || '.' || t.tgname, pg_get_triggerdef(t.oid)
FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
WHERE c.relnamespace = (SELECT oid FROM s) AND NOT t.tgisinternal
UNION ALL
SELECT 'function', p.oid::regprocedure::text,
       md5(p.prosrc || ' ' || pg_get_function_result(p.oid) || ' ' || p.prokind::text || p.provolatile::text
           || ' ' || pg_get_userbyid(p.proowner) || ' ' || p.prosecdef::text || ' ' || coalesce(p.proacl::text, '')
           || ' ' || replace(coalesce(array_to_string(p.proconfig, ','), ''), current_schema(), '<schema>'))
FROM pg_proc p WHERE p.pronamespace = (SELECT oid FROM s) AND p.prokind IN ('f', 'p')
UNION ALL
SELECT 'privileges', c.relname, 'owner ' || pg_get_userbyid(c.relowner) || ' acl ' || coalesce(c.relacl::text, '')
       || ' rls ' || c.relrowsecurity::text || ' forced ' || c.relforcerowsecurity::text
       || ' options ' || coalesce(array_to_string(c.reloptions, ','), '')
FROM pg_class c WHERE c.relnamespace = (SELECT oid FROM s) AND c.relkind IN ('r', 'p', 'v', 'S')
UNION ALL
SELECT 'policy', tablename || '.' || policyname,
       cmd || ' ' || array_to_string(roles, ',') || ' ' || coalesce(qual, '') || ' ' || coalesce(with_check, '')
FROM pg_policies WHERE schemaname = current_schema()
UNION ALL
SELECT 'type', t.typname, t.typtype::text FROM pg_type t
WHERE t.typnamespace = (SELECT oid FROM s) AND t.typtype IN ('e', 'd')
UNION ALL
SELECT 'comment', c.relname || coalesce('.' || a.attname, ''), d.description
FROM pg_description d JOIN pg_class c ON c.oid = d.objoid AND d.classoid = 'pg_class'::regclass
LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = d.objsubid AND d.objsubid > 0
WHERE c.relnamespace = (SELECT oid FROM s)
"""

_DUCK_SNAPSHOT = """
SELECT 'table', table_name, '' FROM duckdb_tables() WHERE NOT internal AND schema_name = current_schema()
UNION ALL
SELECT 'column', table_name || '.' || column_name,
       data_type || CASE WHEN is_nullable THEN '' ELSE ' not null' END || coalesce(' default ' || column_default, '')
FROM duckdb_columns() WHERE NOT internal AND schema_name = current_schema()
UNION ALL
SELECT 'constraint', table_name || '.' || constraint_type || coalesce('.' || constraint_name, ''),
       coalesce(expression, '') || ' ' || array_to_string(constraint_column_names, ',')
FROM duckdb_constraints() WHERE schema_name = current_schema()
UNION ALL
SELECT 'index', index_name, coalesce(sql, '') FROM duckdb_indexes() WHERE schema_name = current_schema()
UNION ALL
SELECT 'view', view_name, coalesce(sql, '') FROM duckdb_views() WHERE NOT internal AND schema_name = current_schema()
UNION ALL
SELECT 'macro', function_name, coalesce(macro_definition, '') FROM duckdb_functions()
WHERE NOT internal AND schema_name = current_schema() AND function_type IN ('macro', 'table_macro')
UNION ALL
SELECT 'sequence', sequence_name, '' FROM duckdb_sequences() WHERE schema_name = current_schema()
UNION ALL
SELECT 'type', type_name, logical_type FROM duckdb_types() WHERE NOT internal AND schema_name = current_schema()
"""


def snapshot(engine: Engine) -> tuple[tuple[str, str, str], ...]:
    """Every object of the engine's schema with its definition, and every ledger row, sorted."""
    sql = _PG_SNAPSHOT if engine.name == "postgres" else _DUCK_SNAPSHOT
    schema = str(engine.scalar("SELECT current_schema()"))
    unqualify = (f'"{schema}".', f"{schema}.")  # the same design in another schema is the same snapshot

    def plain(v: object) -> str:
        text = str(v)
        for q in unqualify:
            text = text.replace(q, "")
        return text

    rows = [tuple(plain(v) for v in r) for r in engine.fetchall(sql)]
    for row in migrate.ledger_rows(engine):
        rows.append(("ledger", row[0], " ".join(str(v) for v in row[1:])))
    return tuple(sorted(rows))


def difference(before: tuple, after: tuple) -> str:
    """The first object that differs between two snapshots, as a short phrase."""
    a, b = set(before), set(after)
    for row in sorted(b - a):
        return f"{row[0]} {row[1]} appeared ({row[2][:80]})"
    for row in sorted(a - b):
        return f"{row[0]} {row[1]} disappeared"
    return "no difference"


# --- the harness ---------------------------------------------------------------------------------


@dataclass
class Point:
    """One injection: a file, the statement after which the run stopped, and what was found."""

    file: str
    statement: int  # 1-based index of the last statement run
    line: int
    mode: str
    outcome: str  # "as before" | "converged" | a difference


@dataclass
class Report:
    engine: str
    mode: str
    points: list[Point] = field(default_factory=list)
    converged: bool = False

    @property
    def failures(self) -> list[Point]:
        return [p for p in self.points if p.outcome not in ("as before", "converged")]

    def summary(self) -> dict:
        return {
            "engine": self.engine,
            "mode": self.mode,
            "points": len(self.points),
            "files": len({p.file for p in self.points}),
            "as_before": sum(p.outcome == "as before" for p in self.points),
            "no_transaction_converged": sum(p.outcome == "converged" for p in self.points),
            "failures": [
                f"{p.file} after statement {p.statement} (line {p.line}): {p.outcome}" for p in self.failures
            ],
            "final_equals_clean_run": self.converged,
        }


def _stop_after(index: int, action: Callable[[], None]) -> Callable[[migrate.Migration, int], None]:
    def hook(_mig: migrate.Migration, i: int) -> None:
        if i == index:
            action()

    return hook


def _raise() -> None:
    raise InjectedFault("injected fault")


def _kill() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _child(engine: str, target: str, schema: str | None, directory: str, name: str, index: int) -> None:
    """In a forked child: apply one file and be killed after statement `index`."""
    eng = _open(engine, target, schema)
    mig = next(m for m in migrate.discover(Path(directory)) if m.name == name)
    migrate.apply(eng, mig, after_statement=_stop_after(index, _kill))
    os._exit(3)  # not killed: the point was never reached


def _open(engine: str, target: str, schema: str | None) -> Engine:
    if engine == "duckdb":
        return DuckDBEngine(target)
    eng = PostgresEngine(target)
    eng.execute(f'SET search_path TO "{schema}"')
    return eng


def run(
    engine: Engine,
    mode: str = "fail",
    directory: Path | None = None,
    files: list[str] | None = None,
    progress: Callable[[str], None] | None = None,
) -> Report:
    """Inject a fault after every statement of every migration (or of `files`) into `engine`.

    `engine` must be empty. For `kill` on DuckDB it must be a file; on PostgreSQL its schema is used
    by the children through the same DSN.
    """
    if mode not in MODES:
        raise WorkbookError(f"fault mode {mode!r}: choose from {', '.join(MODES)}")
    if migrate.applied(engine):
        raise WorkbookError("fault injection needs an empty database")
    directory = Path(directory or migrate.default_directory())
    report = Report(engine.name, mode)
    ctx = None
    if mode == "kill":
        if isinstance(engine, DuckDBEngine) and engine.path == ":memory:":
            raise WorkbookError("kill injection on DuckDB needs a database file")
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(
            ["workbook.faults", "workbook.migrate", "workbook.engines", "psycopg", "duckdb"]
        )
    for mig in migrate.discover(directory):
        statements = mig.statements(engine.name)
        if files is not None and mig.name not in files:
            migrate.apply(engine, mig, statements)
            continue
        before = snapshot(engine)
        no_tx = mig.no_transaction and engine.name == "postgres"
        for i, stmt in enumerate(statements):
            if progress:
                progress(f"{engine.name} {mode}: {mig.name} after statement {i + 1}/{len(statements)}")
            # A no-transaction file keeps what ran before the fault: each point gets a schema of its own
            # at the state before the file, and the check is that the retry converges.
            target = _schema_before(engine, directory, mig) if no_tx else engine
            if mode == "fail":
                try:
                    migrate.apply(target, mig, statements, after_statement=_stop_after(i, _raise))
                except WorkbookError as exc:
                    if not isinstance(exc.__cause__, InjectedFault) and "injected fault" not in str(exc):
                        raise
                else:
                    raise WorkbookError(f"{mig.name}: the fault after statement {i + 1} was never reached")
            else:
                _kill_child(ctx, target, mig, i)
            if no_tx:
                migrate.apply(target, mig, statements)  # the retry must converge
                after, want = snapshot(target), _after_clean(engine, directory, mig)
                target.close()
                outcome = "converged" if after == want else difference(want, after)
                report.points.append(Point(mig.name, i + 1, stmt.line, mode, outcome))
                continue
            after = snapshot(engine)
            outcome = "as before" if after == before else difference(before, after)
            report.points.append(Point(mig.name, i + 1, stmt.line, mode, outcome))
        migrate.apply(engine, mig, statements)
    report.converged = snapshot(engine) == _clean(engine.name, directory)
    return report


def _kill_child(ctx, engine: Engine, mig: migrate.Migration, index: int) -> None:  # noqa: ANN001
    if isinstance(engine, DuckDBEngine):
        engine.close()  # one writer per file: the child takes it
        target, schema = engine.path, None
    else:
        target, schema = engine.dsn, engine.schema
    proc = ctx.Process(
        target=_child, args=(engine.name, target, schema, str(mig.path.parent), mig.name, index)
    )
    proc.start()
    proc.join(120)
    if proc.exitcode != -signal.SIGKILL:
        raise WorkbookError(
            f"{mig.name}: the kill after statement {index + 1} did not happen (exit {proc.exitcode})"
        )
    if isinstance(engine, DuckDBEngine):
        engine.reopen()
    else:
        _wait_backends_gone(engine)


def _wait_backends_gone(engine: Engine) -> None:
    """Until the killed child's server backend has rolled back and ended (its locks released)."""
    import time

    for _ in range(2000):
        n = engine.scalar(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND backend_type = 'client backend' AND state <> 'idle'"
        )
        if not n:
            return
        time.sleep(0.005)


_clean_cache: dict[tuple, tuple] = {}


def _scratch(engine_name: str) -> Engine:
    from .engines import connect

    return connect(engine_name)


def _clean(engine_name: str, directory: Path, upto: str | None = None) -> tuple:
    """The snapshot of a database migrated without faults (up to and including `upto`)."""
    key = (engine_name, str(directory), upto, migrate.fingerprint(directory))
    if key not in _clean_cache:
        with _scratch(engine_name) as eng:
            for mig in migrate.discover(directory):
                migrate.apply(eng, mig)
                if mig.version == upto:
                    break
            _clean_cache[key] = snapshot(eng)
    return _clean_cache[key]


def _after_clean(engine: Engine, directory: Path, mig: migrate.Migration) -> tuple:
    return _clean(engine.name, directory, mig.version)


_schemas = iter(range(1, 1 << 30))


def _schema_before(engine: Engine, directory: Path, mig: migrate.Migration) -> Engine:
    """A new schema on the same PostgreSQL server, migrated up to the file before `mig`."""
    scratch = PostgresEngine(engine.dsn, schema=f"workbook_faults_{os.getpid()}_{next(_schemas)}")
    for m in migrate.discover(directory):
        if int(m.version) >= int(mig.version):
            break
        migrate.apply(scratch, m)
    return scratch


def temp_duckdb() -> tuple[tempfile.TemporaryDirectory, Path]:
    tmp = tempfile.TemporaryDirectory(prefix="workbook-faults-")
    return tmp, Path(tmp.name) / "faults.duckdb"


# --- two migrators at the same instant ------------------------------------------------------------


def _cli_child(argv: list[str], err_path: str, go) -> None:  # noqa: ANN001 - a multiprocessing Event
    """In a forked child: wait for the start signal, run the CLI, exit with its status; stderr to a file."""
    import contextlib
    import io
    import sys

    from . import cli

    buf = io.StringIO()
    go.wait(30)
    with contextlib.redirect_stderr(buf), contextlib.redirect_stdout(io.StringIO()):
        code = cli.main(argv)
    Path(err_path).write_text(buf.getvalue())
    sys.stdout.flush()
    os._exit(code)


def race(argv: list[str], folder: Path, runners: int = 2) -> list[tuple[int, str]]:
    """Start `runners` processes running `workbook <argv>` at the same instant: (exit status, stderr) each."""
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["workbook.faults", "workbook.cli", "workbook.migrate", "psycopg", "duckdb"])
    go = ctx.Event()
    procs = []
    for i in range(runners):
        err = Path(folder) / f"runner-{i}.err"
        p = ctx.Process(target=_cli_child, args=(argv, str(err), go))
        p.start()
        procs.append((p, err))
    go.set()
    out = []
    for p, err in procs:
        p.join(300)
        out.append((p.exitcode, err.read_text() if err.exists() else ""))
    return out


def main(argv: list[str] | None = None) -> int:
    """`make fault-injection`: fail and kill -9 after every statement of every file, both engines (JSON)."""
    import argparse
    import json
    import sys

    from .engines import connect

    parser = argparse.ArgumentParser(prog="python -m workbook.faults", description=main.__doc__)
    parser.add_argument("--engine", action="append", choices=("duckdb", "postgres"))
    parser.add_argument("--mode", action="append", choices=MODES)
    args = parser.parse_args(argv)
    results, ok = [], True
    for engine in args.engine or ["duckdb", "postgres"]:
        for mode in args.mode or list(MODES):
            print(f"{engine} {mode}: injecting after every statement of every migration", file=sys.stderr)
            tmp = None
            if engine == "duckdb":
                tmp, path = temp_duckdb()
                db: Engine = DuckDBEngine(path)
            else:
                db = connect("postgres")
            try:
                summary = run(db, mode).summary()
            finally:
                db.close()
                if tmp is not None:
                    tmp.cleanup()
            ok &= not summary["failures"] and summary["final_equals_clean_run"]
            print(
                f"  {summary['points']} points in {summary['files']} files, failures: {len(summary['failures'])}",
                file=sys.stderr,
            )
            results.append(summary)
    print(json.dumps({"runs": results, "points": sum(r["points"] for r in results), "ok": ok}, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
