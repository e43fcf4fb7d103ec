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
                "SELECT count(*) FROM information_schema.tables WHERE table_name = ? AND table_schema = "
                + self._schema_expr,
                [name],
            )
        )

    _schema_expr = "current_schema()"

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
    """A PostgreSQL connection (psycopg 3) in autocommit mode; transactions are explicit."""

    name = "postgres"

    def __init__(self, dsn: str, *, server: Any = None) -> None:
        import psycopg

        self.dsn = dsn
        self.server = server  # a throwaway server this engine owns, stopped on close
        try:
            self.con = psycopg.connect(dsn, autocommit=True, connect_timeout=10)
        except psycopg.Error as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise WorkbookError(f"PostgreSQL DSN cannot connect: {first}") from None

    def _sql(self, sql: str) -> str:
        return sql.replace("?", "%s") if "?" in sql and "'" not in sql else sql

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> None:
        self.con.execute(self._sql(sql) if params else sql, params, prepare=False)

    def query(self, sql: str, params: Sequence[Any] | None = None) -> tuple[list[str], list[tuple]]:
        cur = self.con.execute(self._sql(sql) if params else sql, params, prepare=False)
        cols = [d.name for d in cur.description] if cur.description else []
        return cols, cur.fetchall() if cur.description else []

    @contextmanager
    def transaction(self) -> Iterator[None]:
        with self.con.transaction():
            yield

    def close(self) -> None:
        try:
            self.con.close()
        finally:
            if self.server is not None:
                self.server.stop()
                self.server = None


def connect(engine: str, database: str | Path | None = None) -> Engine:
    """Open an engine by name; for duckdb `database` is a file path (None: in memory)."""
    if engine == "duckdb":
        return DuckDBEngine(database if database is not None else ":memory:")
    if engine == "postgres":
        from . import pgserver

        return pgserver.connect(database)
    raise WorkbookError(f"--engine {engine}: unknown engine (choose from {', '.join(ENGINES)})")
