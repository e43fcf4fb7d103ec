"""One interface over both engines: connect, execute, fetch, explain, transactions."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .errors import WorkbookError

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
        if self.path != ":memory:":
            parent = Path(self.path).parent
            if not parent.is_dir():
                raise WorkbookError(f"--database {self.path}: folder {parent} does not exist")
        config = {"autoinstall_known_extensions": False, "autoload_known_extensions": True}
        try:
            self.con = duckdb.connect(self.path, read_only=read_only, config=config)
        except duckdb.Error as exc:
            first = str(exc).splitlines()[0]
            raise WorkbookError(f"--database {self.path}: cannot open: {first}") from None

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> None:
        self.con.execute(sql, params)

    def query(self, sql: str, params: Sequence[Any] | None = None) -> tuple[list[str], list[tuple]]:
        cur = self.con.execute(sql, params)
        cols = [d[0] for d in cur.description] if cur.description else []
        return cols, cur.fetchall()

    def close(self) -> None:
        self.con.close()


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
