"""The triggers the migrations declare, read with PostgreSQL's own parser.

PostgreSQL runs them; DuckDB has none, so the write API (writes.py) fires the same declarations
itself, with a Python form of each trigger function. Reading them from the migrations keeps one
source of truth: a trigger added in a migration is fired on DuckDB too, or the write API says it
has no form for it.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from .migrate import Migration
from .sqlsplit import split_sql

_TIMING = {2: "BEFORE", 64: "INSTEAD OF", 0: "AFTER"}
_EVENTS = {4: "INSERT", 8: "DELETE", 16: "UPDATE", 32: "TRUNCATE"}


@dataclass(frozen=True)
class Trigger:
    """One trigger as declared: when it fires and the function it runs."""

    name: str
    table: str
    function: str
    timing: str  # BEFORE | AFTER | INSTEAD OF
    events: frozenset[str]
    row: bool  # FOR EACH ROW (else FOR EACH STATEMENT)
    columns: tuple[str, ...] = ()  # UPDATE OF these columns only

    def fires(self, timing: str, event: str, changed: set[str] | None = None) -> bool:
        """Whether this trigger fires for a row `event` at `timing` (`changed`: the UPDATE's SET columns)."""
        if not self.row or self.timing != timing or event not in self.events:
            return False
        return not (
            event == "UPDATE" and self.columns and changed is not None and not changed & set(self.columns)
        )


def declared(migrations: list[Migration]) -> list[Trigger]:
    """The triggers in force after every migration, ordered as PostgreSQL fires them (by name)."""
    return list(_declared(tuple((m.name, m.text) for m in migrations)))


@functools.lru_cache(maxsize=16)
def _declared(files: tuple[tuple[str, str], ...]) -> tuple[Trigger, ...]:
    from pglast import ast, parser

    found: dict[tuple[str, str], Trigger] = {}
    for name, text in files:
        for stmt in split_sql(text, name):
            node = parser.parse_sql(stmt.sql)[0].stmt
            if isinstance(node, ast.CreateTrigStmt):
                events = frozenset(name for bit, name in _EVENTS.items() if node.events & bit)
                trig = Trigger(
                    node.trigname,
                    node.relation.relname,
                    node.funcname[-1].sval,
                    _TIMING[node.timing & 66],
                    events,
                    bool(node.row),
                    tuple(c.sval for c in node.columns or ()),
                )
                found[(trig.table, trig.name)] = trig
            elif isinstance(node, ast.DropStmt) and node.removeType.name == "OBJECT_TRIGGER":
                for obj in node.objects:
                    *_, table, name = (n.sval for n in obj)
                    found.pop((table, name), None)
    return tuple(sorted(found.values(), key=lambda t: (t.table, t.name)))
