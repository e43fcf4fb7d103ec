"""The migration runner: versioned PostgreSQL files are the schema, applied in order to either engine."""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Callable
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

    def adapted(self) -> Adapted:
        """DuckDB's form of this file, with its gap rows (after the files before it in its folder)."""
        return _adapted_folder(self.path.parent, _fingerprint(self.path.parent))[self.name]

    def statements(self, engine: str) -> list[Statement]:
        """The statements to run on `engine`: the file itself, or DuckDB's derived form.

        Either way every statement must first be valid PostgreSQL by PostgreSQL's own parser, so a
        DuckDB-only user cannot apply a file that the design's target would refuse (sqlglot, which
        derives the DuckDB form, forgives some syntax errors).
        """
        statements = split_sql(self.text, self.name)
        for stmt in statements:
            check_postgres_syntax(stmt, self.name)
        return self.adapted().statements if engine == "duckdb" else statements


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


@dataclass(frozen=True)
class Applied:
    """A row of schema_migrations."""

    version: str
    description: str
    checksum: str
    applied_at: object


@dataclass(frozen=True)
class Status:
    """A migration file or ledger row with its state: applied, pending or missing."""

    version: str
    description: str
    state: str
    checksum: str
    applied_at: object = None


def discover(directory: Path = config.MIGRATIONS_DIR) -> list[Migration]:
    """All migration files of a folder in version order; a misnamed or duplicate file is an error."""
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


def _fingerprint(directory: Path) -> tuple[tuple[str, int, int], ...]:
    return tuple(
        (p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in sorted(Path(directory).glob("*.sql"))
    )


@functools.lru_cache(maxsize=8)
def _adapted_folder(directory: Path, _fingerprint: tuple) -> dict[str, Adapted]:
    """Every file's DuckDB form, derived in version order: a rule may depend on what earlier files did."""
    ctx = Context()
    return {m.name: adapt_script(m.text, m.name, ctx) for m in discover(directory)}


def applied(engine: Engine) -> list[Applied]:
    """Rows of schema_migrations in version order; empty before the first migration."""
    if not engine.table_exists(LEDGER):
        return []
    rows = engine.fetchall(f"SELECT version, description, checksum, applied_at FROM {LEDGER}")
    return sorted((Applied(*r) for r in rows), key=lambda a: int(a.version))


def pending(engine: Engine, migrations: list[Migration]) -> list[Migration]:
    """Files not yet applied, after checking the ledger against the files; raises on drift."""
    done = applied(engine)
    by_version = {int(m.version): m for m in migrations}
    for row in done:
        mig = by_version.get(int(row.version))
        if mig is None:
            raise WorkbookError(
                f"V{row.version}__{row.description.replace(' ', '_')}.sql: applied migration file is missing"
            )
        if mig.checksum != row.checksum:
            raise WorkbookError(
                f"{mig.name}: checksum changed since it was applied "
                f"(applied {row.checksum[:12]}, file {mig.checksum[:12]}); add a new migration instead"
            )
    done_versions = {int(r.version) for r in done}
    last = max(done_versions, default=-1)
    todo = [m for m in migrations if int(m.version) not in done_versions]
    for mig in todo:
        if int(mig.version) < last:
            raise WorkbookError(
                f"{mig.name}: version {mig.version} is older than the last applied version; "
                "give it a version above every applied one"
            )
    return todo


def status(engine: Engine, migrations: list[Migration]) -> list[Status]:
    """Every file and ledger row with its state, without raising on drift."""
    done = {int(a.version): a for a in applied(engine)}
    rows = []
    for mig in migrations:
        row = done.pop(int(mig.version), None)
        if row is None:
            rows.append(Status(mig.version, mig.description, "pending", mig.checksum))
        elif row.checksum != mig.checksum:
            rows.append(Status(mig.version, mig.description, "changed", mig.checksum, row.applied_at))
        else:
            rows.append(Status(mig.version, mig.description, "applied", row.checksum, row.applied_at))
    for row in done.values():
        rows.append(Status(row.version, row.description, "missing", row.checksum, row.applied_at))
    return sorted(rows, key=lambda s: int(s.version))


def apply(engine: Engine, mig: Migration, statements: list[Statement] | None = None) -> None:
    """Apply one file in its own transaction and record it; on error nothing of it remains.

    On a DuckDB file the transaction is checkpointed straight after its commit, with a marker file
    naming the migration in between (see DuckDBEngine.migrating): DuckDB cannot replay a log that
    alters a column of a table whose CHECK calls a function, so a kill in that window must leave
    something the next open can recognise and undo, rather than a file nobody can open.
    """
    statements = mig.statements(engine.name) if statements is None else statements
    with engine.migrating(mig.name):
        try:
            with engine.transaction():
                for stmt in statements:
                    try:
                        engine.execute(stmt.sql)
                    except Exception as exc:
                        raise WorkbookError(
                            f"{mig.name}:{stmt.line}: {first_line(exc)} (statement: {stmt.head})"
                        ) from exc
                engine.execute(
                    f"INSERT INTO {LEDGER} (version, description, checksum) VALUES (?, ?, ?)",
                    [mig.version, mig.description, mig.checksum],
                )
        except WorkbookError:
            raise
        except Exception as exc:  # commit-time failures
            raise WorkbookError(f"{mig.name}: {first_line(exc)}") from exc


def migrate(
    engine: Engine,
    directory: Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> list[Migration]:
    """Apply every pending migration in order; returns the files applied (none: a no-op).

    Every pending file is read, split and (for DuckDB) adapted before the first one runs, so a file
    that cannot be read or translated stops the run with nothing applied.
    """
    migrations = discover(directory or config.MIGRATIONS_DIR)
    todo = pending(engine, migrations)
    prepared = [(mig, mig.statements(engine.name)) for mig in todo]
    for i, (mig, statements) in enumerate(prepared, 1):
        if progress:
            progress(f"[{i}/{len(todo)}] applying {mig.name}")
        apply(engine, mig, statements)
    return todo


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
