"""The migration runner: versioned PostgreSQL files are the schema, applied in order to either engine.

States, as Flyway names them, derived from the live ledger and the files on every call:

- applied: in the ledger with the file's checksum; baseline: below or at a `workbook baseline`
  row (the database had that schema before the workbook knew it);
- pending: a file not in the ledger, above the last applied version; out-of-order: one below it
  (a file inserted under history that has already run: refused);
- failed: the last attempt failed (recorded after its rollback; the next migrate retries it);
- modified: in the ledger with another checksum (refused until the file is restored or a reviewed
  edit is accepted with `workbook repair --reason`, which records both checksums, who and when);
- missing: in the ledger, no file (refused).

Integrity is checked row by row (each applied version against its file's sha256) plus the rule that
nothing pending lies below the last applied version. That catches what an Atlas-style chained hash
catches (an edit, a reorder, an insertion below history, a removal) and names the file; `head()`
folds the applied (version, checksum) pairs into one chained sha256 so two databases can be compared
at a glance.

One migrator at a time: on PostgreSQL every command that writes the ledger holds a session advisory
lock (keyed by database and schema) and re-reads the ledger once it has it, so a second process
waits and then finds nothing to do; DuckDB allows one writer per file, and a second process is told
which process holds it.

Each file runs in one transaction with its ledger row. A file may not issue BEGIN/COMMIT/ROLLBACK
itself (refused before anything runs). A file whose header says `-- workbook: no-transaction` holds
only concurrent index statements (and SET); it runs statement by statement in autocommit, and a
retry after an interruption rebuilds an INVALID index the interrupted build left instead of keeping it.
"""

from __future__ import annotations

import functools
import getpass
import hashlib
import os
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from . import config
from .dialect import Adapted, Context, Gap, adapt_script
from .engines import Engine
from .errors import WorkbookError, first_line
from .sqlsplit import Statement, split_sql

FILE_RE = re.compile(r"^V(?P<version>\d{4,})__(?P<slug>[A-Za-z0-9_]+)\.sql$")
LEDGER = "schema_migrations"
REPAIRS = "schema_migration_repairs"
BASELINE = "<< baseline >>"
DIRECTIVE_RE = re.compile(r"^--\s*workbook:\s*(?P<word>\S+)\s*$")
DIRECTIVES = ("no-transaction",)
LOCK_WAIT_ENV = "WORKBOOK_MIGRATE_LOCK_WAIT"  # seconds a second migrator waits (default 600)

StatementHook = Callable[["Migration", int], None]


def default_directory() -> Path:
    return config.MIGRATIONS_DIR


@dataclass(frozen=True)
class Migration:
    """One versioned migration file."""

    version: str
    description: str
    path: Path

    @cached_property
    def raw(self) -> bytes:
        return self.path.read_bytes()

    @property
    def text(self) -> str:
        try:
            return self.raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = self.raw.count(b"\n", 0, exc.start) + 1
            raise WorkbookError(
                f"{self.name}:{line}: not valid UTF-8 (byte 0x{self.raw[exc.start]:02x} at offset {exc.start}); "
                "save the file as UTF-8"
            ) from None

    @property
    def checksum(self) -> str:
        """sha256 of the file's bytes."""
        return hashlib.sha256(self.raw).hexdigest()

    @property
    def name(self) -> str:
        return self.path.name

    @cached_property
    def directives(self) -> tuple[str, ...]:
        """The `-- workbook: word` lines of the file's header (the comments before its first statement)."""
        found = []
        for n, line in enumerate(self.text.splitlines(), 1):
            stripped = line.strip()
            if not stripped:
                continue
            if not stripped.startswith("--"):
                break
            m = DIRECTIVE_RE.match(stripped)
            if m:
                if m["word"] not in DIRECTIVES:
                    raise WorkbookError(
                        f"{self.name}:{n}: unknown directive 'workbook: {m['word']}' "
                        f"(known: {', '.join(DIRECTIVES)})"
                    )
                found.append(m["word"])
        return tuple(found)

    @property
    def no_transaction(self) -> bool:
        return "no-transaction" in self.directives

    def adapted(self) -> Adapted:
        """DuckDB's form of this file, with its gap rows (after the files before it in its folder)."""
        return _adapted_folder(self.path.parent, fingerprint(self.path.parent))[self.name]

    def statements(self, engine: str) -> list[Statement]:
        """The statements to run on `engine`: the file itself, or DuckDB's derived form.

        Either way every statement must first be valid PostgreSQL by PostgreSQL's own parser, so a
        DuckDB-only user cannot apply a file that the design's target would refuse (sqlglot, which
        derives the DuckDB form, forgives some syntax errors); and no statement may end or open a
        transaction, which belongs to the runner.
        """
        statements = split_sql(self.text, self.name)
        for stmt in statements:
            check_postgres_syntax(stmt, self.name)
            check_statement_fits(stmt, self)
        return self.adapted().statements if engine == "duckdb" else statements


def _node(sql: str):  # noqa: ANN202 - a pglast node
    from pglast import parser

    return parser.parse_sql(sql)[0].stmt


def check_postgres_syntax(stmt: Statement, source: str) -> None:
    """Raise a one-line error naming the file and line when PostgreSQL's parser rejects `stmt`."""
    from pglast import parser

    try:
        parser.parse_sql(stmt.sql)
    except parser.ParseError as exc:
        message, at = (exc.args + (0,))[:2]
        line = stmt.line + stmt.sql.count("\n", 0, at if isinstance(at, int) else 0)
        raise WorkbookError(
            f"{source}:{line}: not valid PostgreSQL: {message} (statement: {stmt.head})"
        ) from None


def _concurrent_index(node) -> str | None:  # noqa: ANN001
    """The index name of CREATE/DROP INDEX CONCURRENTLY (None for anything else)."""
    from pglast import ast

    if isinstance(node, ast.IndexStmt) and node.concurrent:
        return node.idxname or "?"
    if isinstance(node, ast.DropStmt) and node.concurrent and node.removeType.name == "OBJECT_INDEX":
        return ",".join(o[-1].sval for o in node.objects)
    if isinstance(node, ast.ReindexStmt) and any(
        getattr(p, "defname", "") == "concurrently" for p in node.params or ()
    ):
        return node.relation.relname if node.relation is not None else node.name
    return None


BATCH_ROWS = 500  # rows per transaction of a backfill in a no-transaction file


def _batchable(node) -> bool:  # noqa: ANN001
    """An UPDATE of one table with a WHERE and no FROM, RETURNING or WITH: a backfill the runner batches."""
    from pglast import ast

    return (
        isinstance(node, ast.UpdateStmt)
        and node.whereClause is not None
        and not node.fromClause
        and not node.returningClause
        and node.withClause is None
    )


def _primary_key(engine: Engine, table: str) -> str:
    cols = engine.fetchall(
        "SELECT a.attname FROM pg_index i JOIN pg_attribute a "
        "ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) "
        "WHERE i.indrelid = ?::regclass AND i.indisprimary",
        [table],
    )
    if len(cols) != 1:
        raise WorkbookError(f"{table}: a batched backfill needs a one-column primary key ({len(cols)} found)")
    return cols[0][0]


def _backfill(engine: Engine, mig: Migration, stmt: Statement, progress: Callable[[str], None] | None) -> int:
    """Run `UPDATE t SET ... WHERE cond` in batches of BATCH_ROWS rows, each in its own transaction.

    The batches walk the primary key; each locks only its own rows, for one short transaction, so a
    writer to another row never waits and a writer to a row of the batch waits for one batch. The
    WHERE must exclude rows already done (so an interrupted backfill resumes where it stopped): after
    the walk one sweep catches rows a writer changed meanwhile, and a second sweep that still finds
    rows means the WHERE does not exclude what it updated: refused.
    """
    from pglast.stream import RawStream

    node = _node(stmt.sql)
    table = node.relation.relname
    key = _primary_key(engine, table)
    where = RawStream()(node.whereClause)
    sets = ", ".join(f"{t.name} = {RawStream()(t.val)}" for t in node.targetList)
    total, last = 0, None
    while True:
        after = "" if last is None else f" AND {key} > ?"
        with engine.transaction():
            rows = engine.fetchall(
                f"UPDATE {table} SET {sets} WHERE {key} IN (SELECT {key} FROM {table} WHERE ({where}){after} "
                f"ORDER BY {key} LIMIT {BATCH_ROWS} FOR UPDATE) RETURNING {key}",
                [last] if last is not None else None,
            )
        if not rows:
            break
        total += len(rows)
        last = max(r[0] for r in rows)
        if progress:
            progress(f"{mig.name}:{stmt.line}: backfill of {table}: {total:,} rows")
    for sweep in (1, 2):
        with engine.transaction():
            n = len(engine.fetchall(f"UPDATE {table} SET {sets} WHERE {where} RETURNING {key}"))
        if not n:
            break
        if sweep == 2:
            raise WorkbookError(
                f"{mig.name}:{stmt.line}: the backfill's WHERE still matches {n} row(s) right after updating "
                f"them: it must exclude rows already done (statement: {stmt.head})"
            )
        total += n
    return total


def check_statement_fits(stmt: Statement, mig: Migration) -> None:
    """Refuse what cannot run where the runner will run it, naming the file and line."""
    from pglast import ast

    node = _node(stmt.sql)
    if isinstance(node, ast.TransactionStmt):
        word = stmt.sql.split()[0].upper()
        raise WorkbookError(
            f"{mig.name}:{stmt.line}: {word} in a migration: the runner runs each file in one transaction "
            "of its own and records it in the same one; remove it (a file that must run outside a "
            "transaction starts with '-- workbook: no-transaction')"
        )
    concurrent = _concurrent_index(node)
    if mig.no_transaction:
        if concurrent is None and not isinstance(node, ast.VariableSetStmt) and not _batchable(node):
            raise WorkbookError(
                f"{mig.name}:{stmt.line}: a '-- workbook: no-transaction' file holds only CREATE/DROP/REINDEX "
                "INDEX CONCURRENTLY, SET, and UPDATE ... WHERE (a backfill, run in batches), each safe to "
                f"retry; move this statement to a file of its own (statement: {stmt.head})"
            )
    elif concurrent is not None:
        raise WorkbookError(
            f"{mig.name}:{stmt.line}: CONCURRENTLY cannot run inside a transaction: put it in a file whose "
            f"header has '-- workbook: no-transaction' (statement: {stmt.head})"
        )


@dataclass(frozen=True)
class Applied:
    """A row of schema_migrations."""

    version: str
    description: str
    checksum: str
    applied_at: object
    state: str = "applied"  # applied | baseline | failed
    error: str | None = None


@dataclass(frozen=True)
class Status:
    """A migration file or ledger row with its state."""

    version: str
    description: str
    state: str  # applied | baseline | pending | out-of-order | failed | modified | missing
    checksum: str
    applied_at: object = None
    detail: str = ""


def discover(directory: Path = config.MIGRATIONS_DIR) -> list[Migration]:
    """All migration files of a folder in version order; a misnamed or duplicate file is an error."""
    directory = Path(directory)
    if not directory.is_dir():
        raise WorkbookError(f"migrations folder {directory} does not exist")
    found: dict[int, Migration] = {}
    for path in sorted(directory.glob("*.sql")):
        m = FILE_RE.match(path.name)
        if not m:
            raise WorkbookError(f"{path.name}: migration file names must look like V0001__description.sql")
        number = int(m["version"])
        if number in found:
            raise WorkbookError(f"{path.name}: version {m['version']} is also used by {found[number].name}")
        found[number] = Migration(m["version"], m["slug"].replace("_", " "), path)
    return [found[k] for k in sorted(found)]


def fingerprint(directory: Path) -> tuple[tuple[str, int, int], ...]:
    return tuple(
        (p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in sorted(Path(directory).glob("*.sql"))
    )


@functools.lru_cache(maxsize=8)
def _adapted_folder(directory: Path, _fingerprint: tuple) -> dict[str, Adapted]:
    """Every file's DuckDB form, derived in version order: a rule may depend on what earlier files did."""
    ctx = Context()
    return {m.name: adapt_script(m.text, m.name, ctx) for m in discover(directory)}


# --- the ledger ----------------------------------------------------------------------------------


def _columns(engine: Engine, table: str) -> set[str]:
    if engine.name == "postgres":
        sql = (
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name = ?"
        )
    else:
        sql = (
            "SELECT column_name FROM duckdb_columns() WHERE schema_name = current_schema() AND table_name = ?"
        )
    return {r[0] for r in engine.fetchall(sql, [table])}


def _rows(engine: Engine) -> list[Applied]:
    if not engine.table_exists(LEDGER):
        return []
    has_state = "state" in _columns(engine, LEDGER)
    extra = ", state, error" if has_state else ""
    rows = engine.fetchall(f"SELECT version, description, checksum, applied_at{extra} FROM {LEDGER}")
    return sorted((Applied(*r) for r in rows), key=lambda a: int(a.version))


def applied(engine: Engine) -> list[Applied]:
    """Ledger rows that succeeded (applied, or the baseline row) in version order; empty before any."""
    return [r for r in _rows(engine) if r.state != "failed"]


def ledger_rows(engine: Engine) -> list[tuple[str, str, str]]:
    """(version, checksum, state) of every successful ledger row: what a snapshot compares."""
    return [(r.version, r.checksum, r.state) for r in applied(engine)]


def _baseline_row(rows: list[Applied]) -> Applied | None:
    return next((r for r in rows if r.description == BASELINE), None)


def chain(pairs: list[tuple[str, str]]) -> str:
    """One sha256 folded over (version, checksum) pairs in order: equal heads, equal histories."""
    head = ""
    for version, checksum in pairs:
        head = hashlib.sha256(f"{head}\n{version} {checksum}".encode()).hexdigest()
    return head


def baseline_checksum(migrations: list[Migration], version: str) -> str:
    """The baseline row's checksum: the chain of every file up to and including `version`."""
    return chain([(m.version, m.checksum) for m in migrations if int(m.version) <= int(version)])


def head(engine: Engine, migrations: list[Migration]) -> str:
    """The chained sha256 of the history the database has (files up to its last applied version)."""
    done = applied(engine)
    if not done:
        return ""
    last = int(done[-1].version)
    return chain([(m.version, m.checksum) for m in migrations if int(m.version) <= last])


def status(engine: Engine, migrations: list[Migration]) -> list[Status]:
    """Every file and ledger row with its state, without raising on drift."""
    rows = _rows(engine)
    base = _baseline_row(rows)
    base_version = int(base.version) if base else -1
    done = {int(a.version): a for a in rows}
    last = max((int(a.version) for a in rows if a.state != "failed"), default=-1)
    out = []
    for mig in migrations:
        v = int(mig.version)
        row = done.pop(v, None)
        if row is not None and row.description == BASELINE:
            want = baseline_checksum(migrations, mig.version)
            state = "baseline" if row.checksum == want else "modified"
            detail = "" if state == "baseline" else "a file at or below the baseline changed"
            out.append(Status(mig.version, mig.description, state, row.checksum, row.applied_at, detail))
        elif row is None and v < base_version:
            out.append(Status(mig.version, mig.description, "baseline", mig.checksum))
        elif row is None:
            state = "out-of-order" if v < last else "pending"
            out.append(Status(mig.version, mig.description, state, mig.checksum))
        elif row.state == "failed":
            out.append(
                Status(mig.version, mig.description, "failed", mig.checksum, row.applied_at, row.error or "")
            )
        elif row.checksum != mig.checksum:
            detail = f"applied {row.checksum[:12]}, file {mig.checksum[:12]}"
            out.append(Status(mig.version, mig.description, "modified", mig.checksum, row.applied_at, detail))
        else:
            out.append(Status(mig.version, mig.description, "applied", row.checksum, row.applied_at))
    for row in done.values():
        out.append(Status(row.version, row.description, "missing", row.checksum, row.applied_at))
    return sorted(out, key=lambda s: int(s.version))


def _file_name(s: Status) -> str:
    return f"V{s.version}__{s.description.replace(' ', '_')}.sql"


def pending(engine: Engine, migrations: list[Migration]) -> list[Migration]:
    """Files to apply (pending, and failed ones again), after checking the ledger; raises on drift."""
    by_version = {m.version: m for m in migrations}
    todo = []
    for s in status(engine, migrations):
        if s.state == "missing":
            raise WorkbookError(f"{_file_name(s)}: applied migration file is missing")
        if s.state == "modified":
            name = by_version[s.version].name
            raise WorkbookError(
                f"{name}: checksum changed since it was applied ({s.detail}); add a new migration instead, "
                "or accept a reviewed edit with 'workbook repair --reason ...'"
            )
        if s.state == "out-of-order":
            raise WorkbookError(
                f"{by_version[s.version].name}: version {s.version} is older than the last applied version; "
                "give it a version above every applied one"
            )
        if s.state in ("pending", "failed"):
            todo.append(by_version[s.version])
    return todo


# --- one migrator at a time ----------------------------------------------------------------------


@contextmanager
def exclusive(engine: Engine, progress: Callable[[str], None] | None = None) -> Iterator[None]:
    """Hold the migration lock of this database (PostgreSQL: a session advisory lock) while inside.

    A second holder waits (saying once that it waits, and for whom) up to WORKBOOK_MIGRATE_LOCK_WAIT
    seconds (default 600), then stops with one line naming the backend that holds it.
    """
    if engine.name != "postgres":
        yield  # DuckDB: the open file is the lock (one writer per file)
        return
    key = "hashtext('workbook.migrate'), hashtext(current_database() || '.' || current_schema())"
    wait = float(os.environ.get(LOCK_WAIT_ENV, "600"))
    deadline = time.monotonic() + wait
    told = False
    while not engine.scalar(f"SELECT pg_try_advisory_lock({key})"):
        holder = engine.scalar(
            "SELECT l.pid FROM pg_locks l WHERE l.locktype = 'advisory' AND l.granted "
            "AND l.classid::int = hashtext('workbook.migrate') "
            "AND l.objid::int = hashtext(current_database() || '.' || current_schema()) LIMIT 1"
        )
        if time.monotonic() > deadline:
            raise WorkbookError(
                f"another migrate is running on this database (backend pid {holder}) and still holds the "
                f"migration lock after {wait:g} s; wait for it, or stop it, and re-run"
            )
        if not told and progress:
            progress(f"waiting: another migrate is running on this database (backend pid {holder})")
            told = True
        time.sleep(0.05)
    try:
        yield
    finally:
        try:
            engine.execute(f"SELECT pg_advisory_unlock({key})")
        except Exception:  # noqa: S110 - a closed connection releases it anyway
            pass


# --- applying ------------------------------------------------------------------------------------


def _record_failure(engine: Engine, mig: Migration, error: str) -> None:
    """Write the failed row after the rollback (only once the ledger has a state column, V0020)."""
    try:
        if not engine.table_exists(LEDGER) or "state" not in _columns(engine, LEDGER):
            return
        with engine.transaction():
            engine.execute(f"DELETE FROM {LEDGER} WHERE version = ? AND state = 'failed'", [mig.version])
            engine.execute(
                f"INSERT INTO {LEDGER} (version, description, checksum, state, error, installed_by) "
                "VALUES (?, ?, ?, 'failed', ?, ?)",
                [mig.version, mig.description, mig.checksum, error[:1000], _who()],
            )
    except Exception:  # noqa: S110 - the failure itself is what the caller reports
        pass


def _who() -> str:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no user name in this environment
        return f"uid {os.getuid()}"


def _record(engine: Engine, mig: Migration, started: float) -> None:
    cols = _columns(engine, LEDGER)
    if "state" in cols:
        engine.execute(f"DELETE FROM {LEDGER} WHERE version = ? AND state = 'failed'", [mig.version])
        engine.execute(
            f"INSERT INTO {LEDGER} (version, description, checksum, state, installed_by, execution_ms) "
            "VALUES (?, ?, ?, 'applied', ?, ?)",
            [mig.version, mig.description, mig.checksum, _who(), int((time.monotonic() - started) * 1000)],
        )
    else:
        engine.execute(
            f"INSERT INTO {LEDGER} (version, description, checksum) VALUES (?, ?, ?)",
            [mig.version, mig.description, mig.checksum],
        )


def invalid_index(engine: Engine, name: str) -> bool | None:
    """None when no index of that name exists in the schema; True when it exists and is INVALID."""
    valid = engine.scalar(
        "SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
        "WHERE c.relname = ? AND c.relnamespace = current_schema()::regnamespace",
        [name],
    )
    return None if valid is None else not valid


def _after(hook: StatementHook | None, mig: Migration, i: int, stmt: Statement) -> None:
    if hook is None:
        return
    try:
        hook(mig, i)
    except Exception as exc:
        raise WorkbookError(f"{mig.name}:{stmt.line}: {first_line(exc)} (after: {stmt.head})") from exc


def _run_no_transaction(
    engine: Engine,
    mig: Migration,
    statements: list[Statement],
    after_statement: StatementHook | None,
    progress: Callable[[str], None] | None,
) -> None:
    """Statement by statement in autocommit; an INVALID index from an interrupted build is rebuilt."""
    from pglast import ast

    started = time.monotonic()
    names = {n.name for n in map(_node, (st.sql for st in statements)) if isinstance(n, ast.VariableSetStmt)}
    before = {name: engine.scalar("SELECT current_setting(?, true)", [name]) for name in sorted(names)}
    try:
        for i, stmt in enumerate(statements):
            node = _node(stmt.sql)
            if isinstance(node, ast.IndexStmt) and node.idxname:
                state = invalid_index(engine, node.idxname)
                if state:
                    if progress:
                        progress(
                            f"{mig.name}:{stmt.line}: index {node.idxname} is INVALID (an interrupted build); rebuilding it"
                        )
                    engine.execute(f'DROP INDEX CONCURRENTLY IF EXISTS "{node.idxname}"')
                elif state is False:
                    _after(after_statement, mig, i, stmt)
                    continue  # built and valid by an earlier attempt of this file
            try:
                if _batchable(node):
                    _backfill(engine, mig, stmt, progress)
                else:
                    engine.execute(stmt.sql)
            except WorkbookError:
                raise
            except Exception as exc:
                raise WorkbookError(
                    f"{mig.name}:{stmt.line}: {first_line(exc)} (statement: {stmt.head})"
                ) from exc
            _after(after_statement, mig, i, stmt)
    finally:  # outside a transaction SET lasts for the session: not past the file, even a failed one
        for name, value in before.items():
            try:
                engine.execute("SELECT set_config(?, ?, false)", [name, value or ""])
            except Exception:  # noqa: S110 - a dead connection keeps nothing anyway
                pass
    with engine.transaction():
        _record(engine, mig, started)


def apply(
    engine: Engine,
    mig: Migration,
    statements: list[Statement] | None = None,
    *,
    after_statement: StatementHook | None = None,
    progress: Callable[[str], None] | None = None,
) -> None:
    """Apply one file in its own transaction and record it; on error nothing of it remains.

    `after_statement(mig, i)` runs after statement i (0-based) succeeds, inside the transaction: the
    fault-injection hook. On a DuckDB file the transaction is checkpointed straight after its commit,
    with a marker file naming the migration in between (see DuckDBEngine.migrating): DuckDB cannot
    replay a log that alters a column of a table whose CHECK calls a function, so a kill in that window
    must leave something the next open can recognise and undo, rather than a file nobody can open.
    """
    statements = mig.statements(engine.name) if statements is None else statements
    if mig.no_transaction and engine.name == "postgres":
        try:
            _run_no_transaction(engine, mig, statements, after_statement, progress)
        except WorkbookError as exc:
            _record_failure(engine, mig, str(exc))
            raise
        return
    started = time.monotonic()
    with engine.migrating(mig.name):
        try:
            with engine.transaction():
                for i, stmt in enumerate(statements):
                    try:
                        engine.execute(stmt.sql)
                    except Exception as exc:
                        raise WorkbookError(
                            f"{mig.name}:{stmt.line}: {first_line(exc)} (statement: {stmt.head})"
                        ) from exc
                    if after_statement:
                        try:
                            after_statement(mig, i)
                        except Exception as exc:
                            raise WorkbookError(
                                f"{mig.name}:{stmt.line}: {first_line(exc)} (after: {stmt.head})"
                            ) from exc
                _record(engine, mig, started)
        except WorkbookError as exc:
            _record_failure(engine, mig, str(exc))
            raise
        except Exception as exc:  # commit-time failures
            _record_failure(engine, mig, first_line(exc))
            raise WorkbookError(f"{mig.name}: {first_line(exc)}") from exc


def migrate(
    engine: Engine,
    directory: Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> list[Migration]:
    """Apply every pending migration in order; returns the files applied (none: a no-op).

    Every pending file is read, split, checked and (for DuckDB) adapted before the first one runs, so
    a file that cannot be read or translated stops the run with nothing applied. The lock is taken
    first and the ledger read under it.
    """
    migrations = discover(directory or config.MIGRATIONS_DIR)
    with exclusive(engine, progress):
        todo = pending(engine, migrations)
        prepared = [(mig, mig.statements(engine.name)) for mig in todo]
        for i, (mig, statements) in enumerate(prepared, 1):
            if progress:
                progress(f"[{i}/{len(todo)}] applying {mig.name}")
            apply(engine, mig, statements, progress=progress)
    return todo


# --- baseline and repair -------------------------------------------------------------------------


def _ledger_files(migrations: list[Migration]) -> list[Migration]:
    """The files that build the ledger itself: the runner's own tables, run by baseline too."""
    own = (LEDGER, REPAIRS)
    out = []
    for m in migrations:
        text = m.text.lower()
        creates = re.findall(r"create\s+table\s+(\w+)", text) + re.findall(r"alter\s+table\s+(\w+)", text)
        if creates and all(t in own for t in creates):
            out.append(m)
    return out


def baseline(
    engine: Engine,
    version: str,
    directory: Path | None = None,
    *,
    compare: Callable[[Engine, str], str | None] | None = None,
    progress: Callable[[str], None] | None = None,
) -> Status:
    """Record that this database, made without the workbook, already has the schema up to `version`.

    Refused when the database already has a ledger, when `version` names no file, and (with
    `compare`, which returns the first difference or None) when its objects differ from the schema at
    that version. The ledger's own files up to `version` are run; one baseline row stands for every
    file up to it, with the chained checksum of those files, so a later edit to one is still caught.
    """
    migrations = discover(directory or config.MIGRATIONS_DIR)
    target = next((m for m in migrations if int(m.version) == int(version) if version.isdigit()), None)
    if target is None:
        raise WorkbookError(f"baseline --version {version}: no migration file has that version")
    with exclusive(engine, progress):
        if engine.table_exists(LEDGER):
            n = len(_rows(engine))
            raise WorkbookError(
                f"baseline: this database already has a ledger ({LEDGER}, {n} row(s)); baseline is for a "
                "database made without the workbook (see 'workbook info')"
            )
        if compare is not None:
            diff = compare(engine, target.version)
            if diff:
                raise WorkbookError(
                    f"baseline --version {version}: the database differs from the schema at {target.name}: {diff}"
                )
        own = [m for m in _ledger_files(migrations) if int(m.version) <= int(target.version)]
        with engine.transaction():
            for m in own:
                for stmt in m.statements(engine.name):
                    try:
                        engine.execute(stmt.sql)
                    except Exception as exc:
                        raise WorkbookError(
                            f"{m.name}:{stmt.line}: {first_line(exc)} (statement: {stmt.head})"
                        ) from exc
            engine.execute(
                f"INSERT INTO {LEDGER} (version, description, checksum) VALUES (?, ?, ?)",
                [target.version, BASELINE, baseline_checksum(migrations, target.version)],
            )
    return next(s for s in status(engine, migrations) if s.version == target.version)


@dataclass(frozen=True)
class Repair:
    version: str
    old_checksum: str
    new_checksum: str | None
    what: str


def repair(
    engine: Engine,
    reason: str,
    directory: Path | None = None,
    *,
    by: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> list[Repair]:
    """Accept reviewed edits and clear failed rows, recording each with the reason, who and when.

    A modified file's ledger row takes the file's checksum (the old and new checksums go into
    schema_migration_repairs); a failed row is removed so the file is pending again. A missing file
    is not repaired: restore it. Without a reason nothing happens.
    """
    reason = (reason or "").strip()
    if not reason:
        raise WorkbookError("repair: give --reason: what was reviewed and why the edit is accepted")
    migrations = discover(directory or config.MIGRATIONS_DIR)
    by = by or _who()
    with exclusive(engine, progress):
        states = status(engine, migrations)
        missing = [s for s in states if s.state == "missing"]
        if missing:
            raise WorkbookError(
                f"{_file_name(missing[0])}: applied migration file is missing; repair accepts reviewed edits, "
                "not deletions: restore the file"
            )
        todo = [s for s in states if s.state in ("modified", "failed")]
        if not todo:
            return []
        if not engine.table_exists(REPAIRS):
            raise WorkbookError(
                f"repair: this database has no {REPAIRS} table yet (a later migration creates it); "
                "restore the edited file, migrate, then repair"
            )
        by_version = {m.version: m for m in migrations}
        done = []
        with engine.transaction():
            for s in todo:
                mig = by_version[s.version]
                old = engine.scalar(f"SELECT checksum FROM {LEDGER} WHERE version = ?", [s.version])
                if s.state == "failed":
                    engine.execute(
                        f"DELETE FROM {LEDGER} WHERE version = ? AND state = 'failed'", [s.version]
                    )
                    new, what = None, "failed row cleared; the file is pending again"
                else:
                    row = engine.scalar(f"SELECT description FROM {LEDGER} WHERE version = ?", [s.version])
                    new = baseline_checksum(migrations, s.version) if row == BASELINE else mig.checksum
                    engine.execute(f"UPDATE {LEDGER} SET checksum = ? WHERE version = ?", [new, s.version])
                    what = "edit accepted"
                engine.execute(
                    f"INSERT INTO {REPAIRS} (version, old_checksum, new_checksum, reason, repaired_by) "
                    "VALUES (?, ?, ?, ?, ?)",
                    [s.version, old, new, reason, by],
                )
                done.append(Repair(s.version, old, new, what))
        return done


def repairs(engine: Engine) -> list[tuple]:
    """The recorded repairs, oldest first."""
    if not engine.table_exists(REPAIRS):
        return []
    return engine.fetchall(
        f"SELECT version, old_checksum, new_checksum, reason, repaired_by, repaired_at FROM {REPAIRS} "
        "ORDER BY repaired_at, version"
    )


def staged(extra: dict[str, str], into: Path, directory: Path = config.MIGRATIONS_DIR) -> Path:
    """A copy of the migrations folder in `into` with `extra` files ({name: text}) added: a later release."""
    into = Path(into)
    into.mkdir(parents=True, exist_ok=True)
    for mig in discover(directory):
        (into / mig.name).write_bytes(mig.raw)
    for name, text in extra.items():
        (into / name).write_text(text)
    discover(into)  # names and versions checked now, not when the first file runs
    return into


def gaps(directory: Path = config.MIGRATIONS_DIR) -> list[Gap]:
    """Every DuckDB adaptation the migrations need, in file and line order."""
    out: list[Gap] = []
    for mig in discover(directory):
        out += mig.adapted().gaps
    return out
