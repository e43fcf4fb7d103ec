"""Run a statement and name the constraint that rejected it, on either engine."""

from __future__ import annotations

import re

from .catalog import normalise_expr
from .engines import Engine
from .model import Catalog

_DUCK_CHECK = re.compile(r"CHECK constraint failed on table (\w+) with expression CHECK\((.*)\)$")
_DUCK_UNIQUE = re.compile(r'Duplicate key "(.*)" violates (?:unique|primary key) constraint')
_DUCK_KEY = re.compile(r"(?:^|, )([\w()]+): ")
_DUCK_NOT_NULL = re.compile(r"NOT NULL constraint failed: (\w+)\.(\w+)")
_DUCK_FK = re.compile(r'Violates foreign key constraint because key "(.*?): .*" does not exist')


def first_line(exc: BaseException) -> str:
    """The first line of an engine error, without the class prefix DuckDB adds."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text


def constraint_name(engine: Engine, catalog: Catalog, table: str, exc: BaseException) -> str:
    """The name of the constraint that rejected a write to `table`, or the error's first line."""
    diag = getattr(exc, "diag", None)
    if diag is not None:
        if diag.constraint_name:
            return diag.constraint_name
        if diag.column_name:
            return f"{diag.table_name}.{diag.column_name} NOT NULL"
        return first_line(exc)
    msg = first_line(exc)
    t = catalog.table(table)
    if m := _DUCK_NOT_NULL.search(msg):
        return f"{m.group(1)}.{m.group(2)} NOT NULL"
    if m := _DUCK_CHECK.search(msg):
        want = normalise_expr(m.group(2))
        for c in t.constraints:
            if c.kind == "CHECK" and normalise_expr(c.definition[len("CHECK (") : -1]) == want:
                return c.name
    if m := _DUCK_UNIQUE.search(msg):
        keys = tuple(normalise_expr(k) for k in _DUCK_KEY.findall(m.group(1)))
        for c in t.constraints:
            if c.kind in ("PRIMARY KEY", "UNIQUE") and tuple(c.columns) == keys:
                return c.name
        for i in t.indexes:
            if i.unique and tuple(i.keys) == keys:
                return i.name
    if m := _DUCK_FK.search(msg):
        for c in t.foreign_keys:
            if tuple(c.ref_columns) == tuple(m.group(1).split(", ")):
                return c.name
    return msg


def try_write(engine: Engine, catalog: Catalog, table: str, sql: str, params=None) -> str | None:
    """Run a write inside a rolled-back savepoint-free transaction; None if accepted, else the rejecting name."""
    try:
        with engine.transaction():
            engine.execute(sql, params)
            raise _Accepted
    except _Accepted:
        return None
    except Exception as exc:
        return constraint_name(engine, catalog, table, exc)


class _Accepted(Exception):
    """Raised to roll back an accepted write."""
