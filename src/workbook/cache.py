"""What to cache and when it goes stale, derived from the patterns' SQL and the writes' audit rows.

A read pattern's result depends on the columns its SQL reads (parsed with sqlglot); a write changes
the columns its audit rows say it changed (the audit trail is the change feed: every write leaves
one row per changed row, with the row's old and new images). A cached page is stale exactly when a
write changed a column it reads in a row inside its scope (the rows its parameters select, declared
by the design as parameter -> column). `invalidation_matrix` is computed from writes run in a
transaction that is rolled back; `check` runs writes for real against a cache of every read
pattern's first pages and proves that no entry it keeps is stale.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from . import access
from .engines import Engine

PARAM = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")
AUDIT_COLUMNS = (
    "id",
    "table_name",
    "record_id",
    "operation",
    "old_values",
    "new_values",
    "changed_by",
    "changed_at",
    "seq",
    "txid",
)


def reads(p: access.Pattern) -> dict[str, frozenset[str]]:
    """The columns of each table that the pattern's PostgreSQL query reads."""
    import sqlglot
    from sqlglot import exp

    sql = PARAM.sub(lambda m: f"'{m.group(1)}'", p.query.on("postgres"))
    tree = sqlglot.parse_one(sql, read="postgres")
    alias = {t.alias_or_name: t.name for t in tree.find_all(exp.Table)}
    out: dict[str, set[str]] = {}
    for c in tree.find_all(exp.Column):
        table = (
            alias.get(c.table)
            if c.table
            else (next(iter(alias.values())) if len(set(alias.values())) == 1 else None)
        )
        if table:
            out.setdefault(table, set()).add(c.name)
    return {t: frozenset(cols) for t, cols in out.items()}


@dataclass(frozen=True)
class Change:
    """One row a write changed, as its audit row records it."""

    table: str
    operation: str
    columns: frozenset[str]  # changed columns (every column for INSERT and DELETE)
    images: tuple[dict, ...]  # the old and new row images


def changes_since(db: Engine, seq: int) -> list[Change]:
    """The changes audit_log recorded after sequence number `seq`."""
    out = []
    for table, op, old, new, record, actor in db.fetchall(
        "SELECT table_name, operation, old_values::text, new_values::text, record_id::text, changed_by::text "
        "FROM audit_log WHERE seq > ? ORDER BY seq",
        [seq],
    ):
        # The audit row is itself a new row of audit_log, which the history patterns read.
        image = {"table_name": table, "record_id": record, "changed_by": actor, "operation": op}
        out.append(Change("audit_log", "INSERT", frozenset(AUDIT_COLUMNS), (image,)))
        old_i, new_i = (json.loads(x) if x else None for x in (old, new))
        if op == "UPDATE":
            cols = frozenset(k for k in set(old_i) | set(new_i) if old_i.get(k) != new_i.get(k))
        else:
            cols = frozenset((old_i or new_i).keys())
        out.append(Change(table, op, cols, tuple(i for i in (old_i, new_i) if i)))
    return out


@dataclass(frozen=True)
class Scope:
    """The rows a cached page covers: its parameter `param` equals `column` of `table` (or of the row it joins)."""

    table: str
    column: str
    param: str


def stale(
    p: access.Pattern, values: dict[str, object], change: Change, scopes: dict[str, tuple[Scope, ...]]
) -> bool:
    """Whether `change` can alter the page `p` returns for `values`."""
    cols = reads(p).get(change.table)
    if not cols or not (cols & change.columns):
        return False
    for scope in scopes.get(p.name, ()):
        if scope.table == change.table:
            want = str(values.get(scope.param))
            return any(str(img.get(scope.column)) == want for img in change.images)
    return True  # no scope on this table: any change to a column it reads may change the page


def write_changes(db: Engine, write: access.Pattern, values: dict[str, object]) -> list[Change]:
    """What one write changes, read from its audit rows inside a transaction that is rolled back."""
    checked = {q.name: access.check_value(write.name, q, values.get(q.name)) for q in write.params}
    text, params = access.bind(write.query.on("postgres"), checked)
    found: list[Change] = []

    class _Undo(Exception):
        pass

    try:
        with db.transaction():
            seq = db.scalar("SELECT coalesce(max(seq), 0) FROM audit_log")
            db.execute(text, params)
            found = changes_since(db, seq)
            raise _Undo
    except _Undo:
        pass
    return found


def invalidation_matrix(db: Engine, reports, scopes) -> list[tuple[str, str, str]]:  # noqa: ANN001
    """(write, read pattern, what it invalidates) for every write pattern and read pattern."""
    rows = []
    writes = [r for r in reports if r.pattern.write]
    readers = [r for r in reports if not r.pattern.write]
    for w in writes:
        for cr in w.runs:
            changes = write_changes(db, w.pattern, cr.values)
            touched = sorted(
                {f"{c.table}.{col}" for c in changes for col in c.columns if c.operation == "UPDATE"}
                | {f"{c.table} (new row)" for c in changes if c.operation == "INSERT"}
            )
            for r in readers:
                hit = [c for c in changes if (reads(r.pattern).get(c.table) or frozenset()) & c.columns]
                if not hit:
                    what = "nothing"
                elif any(s.table in {c.table for c in hit} for s in scopes.get(r.pattern.name, ())):
                    keys = [s for s in scopes[r.pattern.name] if s.table in {c.table for c in hit}]
                    what = "the pages of the same " + ", ".join(sorted({s.param for s in keys}))
                else:
                    what = "every page"
                rows.append((w.pattern.name, r.pattern.name, what, ", ".join(touched)))
    return rows


@dataclass
class CacheCheck:
    """The outcome of running writes against a cache of every read pattern's first pages."""

    entries: int
    writes: list[str] = field(default_factory=list)
    invalidated: int = 0
    kept: int = 0
    stale_kept: list[str] = field(default_factory=list)  # must stay empty
    needless: int = 0  # invalidated, yet unchanged (the price of coarse scopes)


def check(db: Engine, reports, scopes, writes: list[tuple[str, str, list]]) -> CacheCheck:  # noqa: ANN001
    """Cache every read case's first page, run `writes` (label, SQL, params) for real, invalidate, compare.

    Every kept entry is re-run: it must equal the cached page. Writes are committed on `db`.
    """
    cache = {}
    for r in reports:
        if r.pattern.write:
            continue
        for cr in r.runs:
            res = access.run(db, r.pattern, cr.values)
            cache[(r.pattern.name, cr.case.name)] = (
                r.pattern,
                cr.values,
                access.rows_of(res.columns, res.rows),
            )
    out = CacheCheck(len(cache))
    for label, sql, params in writes:
        seq = db.scalar("SELECT coalesce(max(seq), 0) FROM audit_log")
        with db.transaction():
            db.execute(sql, params)
        out.writes.append(label)
        changes = changes_since(db, seq)
        for key, (p, values, rows) in list(cache.items()):
            now = access.run(db, p, values)
            fresh = access.rows_of(now.columns, now.rows)
            if any(stale(p, values, c, scopes) for c in changes):
                out.invalidated += 1
                out.needless += fresh == rows
                cache[key] = (p, values, fresh)  # refilled after the write
            else:
                out.kept += 1
                if fresh != rows:
                    out.stale_kept.append(f"{label}: {key[0]} ({key[1]})")
    return out
