"""One interface over both engines: connect, execute, fetch, explain, transactions."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .errors import DatabaseBusy, WorkbookError

ENGINES = ("duckdb", "postgres")


class Engine:
    """Base class: a live connection to one engine."""

    name: str = ""

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> None:
        """Run one statement, discarding any result."""
        raise NotImplementedError

    def query(self, sql: str, params: Sequence[Any] | None = None) -> tuple[list[str], list[tuple]]:
        """Run one statement and return (column names, rows)."""
        raise NotImplementedError

    def fetchall(self, sql: str, params: Sequence[Any] | None = None) -> list[tuple]:
        """Run one statement and return its rows."""
        return self.query(sql, params)[1]

    def scalar(self, sql: str, params: Sequence[Any] | None = None) -> Any:
        """Run one statement and return the first column of the first row (None if no row)."""
        rows = self.fetchall(sql, params)
        return rows[0][0] if rows else None

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Commit the block's statements together, or roll all of them back."""
        self.execute("BEGIN")
        try:
            yield
        except BaseException:
            self.execute("ROLLBACK")
            raise
        self.execute("COMMIT")

    def table_exists(self, name: str) -> bool:
        """True when a base table of that name exists in the default schema."""
        return bool(
            self.scalar(
                "SELECT count(*) FROM information_schema.tables WHERE table_name = ? AND table_schema = current_schema()",
                [name],
            )
        )

    @contextmanager
    def migrating(self, name: str) -> Iterator[None]:
        """Wrap the application of one migration file (a hook for engines that need one)."""
        yield

    def set_session_actor(self, actor: str) -> None:
        """Act as `actor` for every later transaction of this session (tools and notebooks only).

        Applications set the actor per transaction instead (the write API does), so a pooled
        connection cannot carry one request's actor into the next. DuckDB has no audit triggers.
        """
        if self.name == "postgres":
            from .design import ACTOR_SETTING

            self.execute("SELECT set_config(?, ?, false)", [ACTOR_SETTING, actor])

    def close(self) -> None:
        """Close the connection."""

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class DuckDBEngine(Engine):
    """An embedded DuckDB database, in memory or in a file."""

    name = "duckdb"

    def __init__(self, path: str | Path = ":memory:", *, read_only: bool = False) -> None:
        import duckdb

        self.path = str(path)
        self.recovered: str | None = None  # the unfinished migration whose log was set aside on open
        if not self.path.strip():
            raise WorkbookError("--database is empty: give a DuckDB file path (or ':memory:')")
        if self.path != ":memory:":
            parent = Path(self.path).parent
            if not parent.is_dir():
                raise WorkbookError(f"--database {self.path}: folder {parent} does not exist")
        config = {"autoinstall_known_extensions": False, "autoload_known_extensions": True}
        try:
            self.con = duckdb.connect(self.path, read_only=read_only, config=config)
        except duckdb.Error as exc:
            first = str(exc).splitlines()[0]
            busy = re.search(r"Conflicting lock is held in .*?\(PID (\d+)\)", first)
            if busy:
                pid = int(busy.group(1))
                raise DatabaseBusy(f"--database {self.path} is busy: {_holder(pid)}", pid) from None
            marker = self._marker()
            if "replaying WAL" not in first or marker is None or not marker.is_file() or read_only:
                raise WorkbookError(f"--database {self.path}: cannot open: {first}") from None
            self.con = self._recover(marker, duckdb, config, first)
        marker = self._marker()
        if marker is not None and marker.is_file() and not read_only:
            marker.unlink()  # the log replayed (or held nothing of that migration): nothing to undo
        from . import duckext

        duckext.load(self.con)  # full-text search offline: the extension from its pinned package

    def _marker(self) -> Path | None:
        """The file naming the migration in flight; None for an in-memory database."""
        return None if self.path == ":memory:" else Path(self.path + ".migrating")

    def _recover(self, marker: Path, duckdb, config: dict, error: str):  # noqa: ANN001
        """Set aside the log of a migration killed between its commit and its checkpoint, then open.

        The marker is written only after a checkpoint (so the log was empty) and removed after the
        next one, so the log holds that one migration and nothing else: the file without it is the
        database as it was before that migration, which the next migrate applies again.
        """
        wal = Path(self.path + ".wal")
        name = marker.read_text().strip() or "a migration"
        aside = Path(f"{self.path}.wal.unreplayable")
        try:
            os.replace(wal, aside)
            con = duckdb.connect(self.path, config=config)
        except (OSError, duckdb.Error) as exc:
            raise WorkbookError(
                f"--database {self.path}: cannot open: {error}; recovery failed: {exc}"
            ) from None
        marker.unlink(missing_ok=True)
        self.recovered = name
        return con

    @contextmanager
    def migrating(self, name: str) -> Iterator[None]:
        """Checkpoint around one migration, with a marker naming it while its log is unflushed."""
        marker = self._marker()
        if marker is None:
            yield
            return
        self.checkpoint()
        _write_synced(marker, name)
        try:
            yield
            self.checkpoint()
        finally:  # after a rollback the log holds nothing of this migration either
            marker.unlink(missing_ok=True)

    def reopen(self) -> None:
        """Close and open the same file again (after another process wrote it)."""
        self.con.close()
        self.__init__(self.path)

    def checkpoint(self) -> None:
        """Write the log into the database file, so a kill leaves nothing to replay."""
        self.con.execute("CHECKPOINT")

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> None:
        self.con.execute(sql, params)

    def query(self, sql: str, params: Sequence[Any] | None = None) -> tuple[list[str], list[tuple]]:
        cur = self.con.execute(sql, params)
        cols = [d[0] for d in cur.description] if cur.description else []
        return cols, cur.fetchall()

    def close(self) -> None:
        self.con.close()


def _holder(pid: int) -> str:
    """Who holds a database file: 'another migrate is running (pid N)' when that is what it is."""
    try:
        import psutil

        cmd = " ".join(psutil.Process(pid).cmdline())
    except Exception:  # noqa: BLE001 - gone, or not ours to inspect
        cmd = ""
    if re.search(r"\bworkbook\b.*\b(migrate|baseline|repair)\b", cmd):
        return f"another migrate is running (pid {pid})"
    return f"another process (pid {pid}{': ' + cmd[:60] if cmd else ''}) has it open for writing"


def _write_synced(path: Path, text: str) -> None:
    """Write a small file and flush it to disk before going on."""
    with open(path, "w") as f:
        f.write(text + "\n")
        f.flush()
        os.fsync(f.fileno())


class PostgresEngine(Engine):
    """A PostgreSQL connection (psycopg 3) in autocommit mode, in a schema of its own."""

    name = "postgres"

    def __init__(
        self, dsn: str, *, schema: str | None = None, server: Any = None, source: str = "DSN"
    ) -> None:
        import psycopg

        self.dsn = dsn
        self.schema = schema
        self.server = server  # the throwaway server this engine runs on, if any
        where = "the throwaway PostgreSQL server" if server is not None else f"PostgreSQL {source}"
        try:
            self.con = psycopg.connect(dsn, autocommit=True, connect_timeout=10)
        except psycopg.Error as exc:
            text = str(exc).strip()
            first = text.splitlines()[0].strip() if text else repr(exc)
            raise WorkbookError(
                f"{where} cannot connect: {first}; check the DSN and that the server is running"
            ) from None
        if schema:
            self.con.execute(f'CREATE SCHEMA "{schema}"')
            self.con.execute(f'SET search_path TO "{schema}"')
        self.con.execute("SET TimeZone TO 'UTC'")

    @staticmethod
    def _sql(sql: str, params: Sequence[Any] | None) -> str:
        """Turn the workbook's `?` placeholders into psycopg's `%s` when parameters are given."""
        return sql.replace("%", "%%").replace("?", "%s") if params else sql

    def _guard(self, exc: Exception) -> None:
        import psycopg

        if isinstance(exc, psycopg.OperationalError) and self.server is not None and not self.server.alive():
            raise WorkbookError(
                f"the throwaway PostgreSQL server exited during the run: {self.server.last_log_line()}"
            ) from exc

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> None:
        try:
            self.con.execute(self._sql(sql, params), params, prepare=False)
        except Exception as exc:
            self._guard(exc)
            raise

    def query(self, sql: str, params: Sequence[Any] | None = None) -> tuple[list[str], list[tuple]]:
        try:
            cur = self.con.execute(self._sql(sql, params), params, prepare=False)
        except Exception as exc:
            self._guard(exc)
            raise
        cols = [d.name for d in cur.description] if cur.description else []
        return cols, cur.fetchall() if cur.description else []

    @contextmanager
    def transaction(self) -> Iterator[None]:
        with self.con.transaction():
            yield

    def sibling(self) -> PostgresEngine:
        """Another connection to the same server and schema; closing it leaves the schema alone."""
        other = PostgresEngine(self.dsn, server=self.server)
        if self.schema:
            other.con.execute(f'SET search_path TO "{self.schema}"')
        return other

    def close(self) -> None:
        if self.con.closed:
            return
        try:
            if self.schema and (self.server is None or self.server.alive()):
                self.con.execute(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')
        except Exception:  # noqa: S110 - best effort on a server that may be gone
            pass
        finally:
            self.con.close()


def connect(engine: str, database: str | Path | None = None, *, isolated: bool = True) -> Engine:
    """Open an engine by name; `database` is a DuckDB file (None: in memory) or a PostgreSQL DSN."""
    if engine == "duckdb":
        return DuckDBEngine(database if database is not None else ":memory:")
    if engine == "postgres":
        from . import pgserver

        return pgserver.connect(database, isolated=isolated)
    raise WorkbookError(f"--engine {engine}: unknown engine (choose from {', '.join(ENGINES)})")
