"""Run a statement and name the constraint that rejected it, on either engine."""

from __future__ import annotations

import re

from .catalog import normalise_expr
from .engines import Engine
from .errors import first_line
from .model import Catalog

_DUCK_CHECK = re.compile(r"CHECK constraint failed on table (\w+) with expression CHECK\((.*)\)$")
_DUCK_UNIQUE = re.compile(r'Duplicate key "(.*)" violates (?:unique|primary key) constraint')
_DUCK_KEY = re.compile(r"(?:^|, )([\w()]+): ")
_DUCK_NOT_NULL = re.compile(r"NOT NULL constraint failed: (\w+)\.(\w+)")
_DUCK_FK = re.compile(r'Violates foreign key constraint because key "(.*?): .*" does not exist')


# DuckDB rewrites an UPDATE of an indexed column as delete + insert, which its foreign keys refuse
# while other rows reference the old row; the matrix shows that outcome under this name.
REFERENCED = "refused: row is referenced (DuckDB update limitation)"
# PostgreSQL's jsonb cannot hold U+0000 (SQLSTATE 22P05); the error names no constraint or column.
JSONB_NUL = "jsonb: U+0000 not storable"


def constraint_name(
    engine: Engine, catalog: Catalog, table: str, exc: BaseException, values: dict[str, str] | None = None
) -> str:
    """The name of the constraint that rejected a write to `table`, or the error's first line."""
    diag = getattr(exc, "diag", None)
    if diag is not None:
        if diag.sqlstate == "22P05":
            return JSONB_NUL
        if diag.constraint_name:
            return diag.constraint_name
        if diag.column_name:
            return f"{diag.table_name}.{diag.column_name} NOT NULL"
        return first_line(exc)
    msg = first_line(exc)
    if "is still referenced by a foreign key" in msg:
        return REFERENCED
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
        key = re.search(r'because key "[^:]+: ([^"]*)"', msg)
        candidates = [c for c in t.foreign_keys if tuple(c.ref_columns) == tuple(m.group(1).split(", "))]
        if len(candidates) > 1 and key and values:
            by_value = [c for c in candidates if values.get(c.columns[0], "").strip("'") == key.group(1)]
            candidates = by_value or candidates
        if len(candidates) == 1:
            return candidates[0].name
    return msg


def try_write(
    engine: Engine, catalog: Catalog, table: str, sql: str, params=None, values: dict[str, str] | None = None
) -> str | None:
    """Run a write in a transaction that is always rolled back; None if accepted, else what rejected it."""
    try:
        with engine.transaction():
            engine.execute(sql, params)
            raise _Accepted
    except _Accepted:
        return None
    except Exception as exc:
        return constraint_name(engine, catalog, table, exc, values)


class _Accepted(Exception):
    """Raised to roll back an accepted write."""
