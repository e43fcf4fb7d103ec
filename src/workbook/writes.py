"""The write API: one function per operation, the same behaviour on both engines.

On PostgreSQL each operation is plain SQL in one transaction that first sets the actor
(`set_config('workbook.actor_id', <uuid>, true)`: transaction-local, so a pooled connection never
carries it into the next request); the design's triggers and functions do the rest. On DuckDB,
which has neither, the same operation runs row by row through `Runtime`, which fires the triggers
the migrations declare (triggers.py) using a Python form of each trigger function and calls the
Python form of each SQL function, in the same transaction: audit rows, updated_at, counters and
refusals come out the same.

What runs here names no table of the design: which triggers exist comes from the migrations, what
their functions do comes from the design's `FUNCTIONS` (workbook.design.functions).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cached_property
from typing import Any

from .engines import Engine
from .errors import WorkbookError, first_line

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)


class RuleViolation(WorkbookError):
    """A write the design refuses: names the rule (constraint, trigger or function rule) that refused it."""

    def __init__(self, rule: str, message: str) -> None:
        self.rule = rule
        self.detail = " ".join(str(message).split())
        super().__init__(f"{self.detail} (rule {rule})")


def quote_nullable(value: object) -> str:
    """PostgreSQL's quote_nullable for a message: 'text' quoted, NULL for None."""
    return "NULL" if value is None else "'" + str(value).replace("'", "''") + "'"


# --------------------------------------------------------------------------------------------- DuckDB


class Runtime:
    """Row-level writes on DuckDB that fire the migrations' triggers through their Python forms."""

    def __init__(  # noqa: ANN001
        self, db: Engine, actor: str | None, triggers: list, functions: dict[str, Callable], catalog
    ) -> None:
        self.db = db
        self.actor = actor
        self.triggers = triggers
        self.functions = functions
        self.catalog = catalog  # read before the transaction: an aborted one cannot be queried
        self.depth = 0  # nesting of trigger calls, as pg_trigger_depth()

    @cached_property
    def _types(self) -> dict[str, dict[str, str]]:
        out: dict[str, dict[str, str]] = {}
        for table, column, kind in self.db.fetchall(
            "SELECT table_name, column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = current_schema()"
        ):
            out.setdefault(table, {})[column] = kind
        return out

    def has_column(self, table: object, column: str) -> bool:
        return isinstance(table, str) and column in self._types.get(table, {})

    def now(self) -> str:
        """The transaction's time, formatted as a row image formats timestamps."""
        return json.loads(self.db.scalar("SELECT to_json(now()::TIMESTAMPTZ)"))

    def greatest_now(self, other: str | None) -> str:
        """GREATEST(NOW(), other) as an image string."""
        return json.loads(self.db.scalar("SELECT to_json(greatest(now(), ?::TIMESTAMPTZ))", [other]))

    def row(self, table: str, record_id: object) -> dict | None:
        """The row's image (to_json), or None."""
        try:
            text = self.db.scalar(f'SELECT to_json(t) FROM "{table}" t WHERE id = ?', [str(record_id)])
        except Exception as exc:  # a malformed id or an unknown table, as PostgreSQL would report it
            raise self._refused(exc, table) from None
        return json.loads(text) if text is not None else None

    def rows(self, table: str, where: str, params: list) -> list[dict]:
        return [
            json.loads(r[0])
            for r in self.db.fetchall(f'SELECT to_json(t) FROM "{table}" t WHERE {where}', params)
        ]

    def _param(self, table: str, column: str, value: object) -> object:
        if value is not None and self._types[table].get(column) == "JSON":
            return json.dumps(value)
        return value

    def _fire(self, timing: str, event: str, table: str, old: dict | None, new: dict | None, changed=None):
        for trig in self.triggers:
            if trig.table != table or not trig.fires(timing, event, changed):
                continue
            fn = self.functions.get(trig.function)
            if fn is None:
                raise WorkbookError(
                    f"trigger {trig.name} on {table}: no DuckDB form of function {trig.function}() in the design"
                )
            self.depth += 1
            try:
                result = fn(self, trig, event, table, old, new)
            finally:
                self.depth -= 1
            if timing == "BEFORE" and event != "DELETE" and result is not None:
                new = result
        return new

    def _refused(self, exc: Exception, table: str, values: dict | None = None) -> RuleViolation:
        from .violations import constraint_name

        message = first_line(exc)
        name = constraint_name(
            self.db, self.catalog, table, exc, {k: str(v) for k, v in (values or {}).items()}
        )
        return RuleViolation(name if name != message else "engine", message)

    def insert(self, table: str, values: dict) -> dict:
        new = self._fire("BEFORE", "INSERT", table, None, dict(values))
        cols = list(new)
        try:
            rid = self.db.scalar(
                f'INSERT INTO "{table}" ({", ".join(cols)}) VALUES ({", ".join("?" for _ in cols)}) RETURNING id',
                [self._param(table, c, new[c]) for c in cols],
            )
        except Exception as exc:
            if isinstance(exc, WorkbookError):
                raise
            raise self._refused(exc, table, new) from None
        image = self.row(table, rid)
        self._fire("AFTER", "INSERT", table, None, image)
        return image

    def update(self, table: str, record_id: object, changes: dict) -> dict:
        old = self.row(table, record_id)
        if old is None:
            raise RuleViolation("row_exists", f"no row {record_id} in {table}")
        new = self._fire("BEFORE", "UPDATE", table, old, {**old, **changes}, set(changes))
        diff = {c: v for c, v in new.items() if old.get(c) != v}
        if diff:
            sets = ", ".join(f"{c} = ?" for c in diff)
            try:
                self.db.execute(
                    f'UPDATE "{table}" SET {sets} WHERE id = ?',
                    [self._param(table, c, v) for c, v in diff.items()] + [str(record_id)],
                )
            except Exception as exc:
                raise self._refused(exc, table, diff) from None
        image = self.row(table, record_id)
        self._fire("AFTER", "UPDATE", table, old, image, set(changes))
        return image

    def delete(self, table: str, record_id: object) -> dict:
        old = self.row(table, record_id)
        if old is None:
            raise RuleViolation("row_exists", f"no row {record_id} in {table}")
        self._fire("BEFORE", "DELETE", table, old, None)
        try:
            self.db.execute(f'DELETE FROM "{table}" WHERE id = ?', [str(record_id)])
        except Exception as exc:
            refused = self._refused(exc, table)
            raise RuleViolation(
                refused.rule,
                f"DuckDB cannot delete {table} {record_id}: other rows reference it (PostgreSQL applies the "
                f"foreign keys' ON DELETE actions; dialect gap fk-referential-action): {refused.detail}",
            ) from None
        self._fire("AFTER", "DELETE", table, old, None)
        return old


# ---------------------------------------------------------------------------------------- the API


class Writer:
    """Writes as `actor`, each call one transaction, with the same effects on either engine."""

    def __init__(self, db: Engine, actor: str | None, *, migrations=None, functions=None) -> None:  # noqa: ANN001
        from . import migrate, triggers
        from .design.functions import FUNCTIONS

        self.db = db
        self.actor = actor
        self.functions = FUNCTIONS if functions is None else functions
        self._triggers = triggers.declared(migrations if migrations is not None else migrate.discover())

    # ---- plumbing

    @cached_property
    def _catalog(self):  # noqa: ANN202
        from .catalog import read_catalog

        return read_catalog(self.db)

    @contextmanager
    def _transaction(self) -> Iterator[Runtime | None]:
        if self.db.name != "postgres":
            self._catalog  # noqa: B018 - read it now, outside the transaction
        with self.db.transaction():
            if self.db.name == "postgres":
                from .design import ACTOR_SETTING

                self.db.execute("SELECT set_config(?, ?, true)", [ACTOR_SETTING, self.actor or ""])
                yield None
            else:
                yield Runtime(self.db, self.actor, self._triggers, self.functions, self._catalog)

    def _pg(self, sql: str, params: list, table: str | None = None) -> list[tuple]:
        import psycopg

        try:
            return self.db.fetchall(sql, params)
        except psycopg.Error as exc:
            raise _pg_refusal(self.db, exc, table) from None

    @staticmethod
    def _pg_value(value: object) -> object:
        from psycopg.types.json import Jsonb

        return Jsonb(value) if isinstance(value, (dict, list)) else value

    # ---- one function per operation

    def insert(self, table: str, values: dict) -> str:
        """Insert a row; returns its id."""
        with self._transaction() as rt:
            if rt is not None:
                return rt.insert(table, values)["id"]
            cols = list(values)
            rows = self._pg(
                f'INSERT INTO "{table}" ({", ".join(cols)}) VALUES ({", ".join("?" for _ in cols)}) RETURNING id::text',
                [self._pg_value(values[c]) for c in cols],
                table,
            )
            return rows[0][0]

    def update(self, table: str, record_id: str, values: dict) -> None:
        """Change some columns of one row."""
        with self._transaction() as rt:
            if rt is not None:
                rt.update(table, record_id, values)
                return
            sets = ", ".join(f"{c} = ?" for c in values)
            rows = self._pg(
                f'UPDATE "{table}" SET {sets} WHERE id = ? RETURNING id',
                [self._pg_value(v) for v in values.values()] + [record_id],
                table,
            )
            if not rows:
                raise RuleViolation("row_exists", f"no row {record_id} in {table}")

    def delete(self, table: str, record_id: str) -> None:
        """Delete one row (PostgreSQL applies the foreign keys' ON DELETE actions)."""
        with self._transaction() as rt:
            if rt is not None:
                rt.delete(table, record_id)
                return
            if not self._pg(f'DELETE FROM "{table}" WHERE id = ? RETURNING id', [record_id], table):
                raise RuleViolation("row_exists", f"no row {record_id} in {table}")

    def upsert(self, table: str, values: dict) -> str:
        """Insert the row, or update the row with its id: returns the operation that happened."""
        with self._transaction() as rt:
            if rt is not None:
                if rt.row(table, values["id"]) is None:
                    rt.insert(table, values)
                    return "INSERT"
                rt.update(table, values["id"], {k: v for k, v in values.items() if k != "id"})
                return "UPDATE"
            cols = list(values)
            sets = ", ".join(f"{c} = EXCLUDED.{c}" for c in cols if c != "id")
            rows = self._pg(
                f'INSERT INTO "{table}" ({", ".join(cols)}) VALUES ({", ".join("?" for _ in cols)}) '
                f"ON CONFLICT (id) DO UPDATE SET {sets} RETURNING (xmax = 0)",
                [self._pg_value(values[c]) for c in cols],
                table,
            )
            return "INSERT" if rows[0][0] else "UPDATE"

    def call(self, function: str, *args: object) -> Any:
        """Call one of the design's SQL functions (soft_delete, restore, create_template_version, ...)."""
        with self._transaction() as rt:
            if rt is not None:
                fn = self.functions.get(function)
                if fn is None:
                    raise WorkbookError(f"{function}(): no DuckDB form of this function in the design")
                return fn(rt, *args)
            rows = self._pg(
                f"SELECT {function}({', '.join('?' for _ in args)})", [self._pg_value(a) for a in args]
            )
            value = rows[0][0]
            return str(value) if value is not None and type(value).__name__ == "UUID" else value


def _pg_refusal(db: Engine, exc: Exception, table: str | None) -> RuleViolation:
    """A PostgreSQL error as the rule that refused the write."""
    diag = getattr(exc, "diag", None)
    message = (diag.message_primary if diag is not None else None) or first_line(exc)
    if diag is not None and diag.constraint_name:
        return RuleViolation(diag.constraint_name, message)
    if diag is not None and diag.column_name and diag.sqlstate == "23502":
        return RuleViolation(f"{diag.table_name}.{diag.column_name} NOT NULL", message)
    return RuleViolation("engine", message)
