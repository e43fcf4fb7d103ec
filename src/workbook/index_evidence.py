"""Evidence about every index: who reads it, what it costs, whether another index already does its job.

Read from the live PostgreSQL catalog and from the plans of the access patterns (`access_report`):
which patterns' plans read each index, its size, the foreign key whose checks and cascades it
serves, whether its keys are a prefix of another index's; and the "what if" of a proposed change
(an index added or dropped inside a transaction that is rolled back, every pattern planned again).
Write cost is a timing, measured live (`write_cost`), never written into the document.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from . import access, plans
from .engines import Engine
from .errors import WorkbookError


@dataclass
class IndexFacts:
    """One index of the live schema and what the evidence says about it."""

    name: str
    table: str
    keys: str
    predicate: str | None
    method: str
    unique: bool
    constraint: bool  # backs a PRIMARY KEY or UNIQUE constraint
    size: int  # bytes
    used_by: list[str] = field(
        default_factory=list
    )  # patterns whose plans read it ("name (seed)" for the seed's)
    foreign_keys: list[str] = field(default_factory=list)  # foreign keys whose columns lead its keys
    prefix_of: str | None = None  # another index of the same table whose keys start with these
    kept: str | None = None  # the design's reason to keep an index no pattern reads yet

    @property
    def verdict(self) -> str:
        if self.used_by:
            return "read by a pattern"
        if self.constraint or self.unique:
            return "enforces a key"
        if self.foreign_keys:
            return "serves a foreign key's checks and cascades"
        if self.kept:
            return f"kept, no pattern yet: {self.kept}"
        return "serves nothing"


CATALOG = """
SELECT c.relname AS index_name, t.relname AS table_name, am.amname,
       i.indisunique, con.conname IS NOT NULL AS is_constraint,
       pg_get_expr(i.indpred, i.indrelid) AS predicate,
       pg_relation_size(c.oid) AS size,
       array_to_string(ARRAY(SELECT pg_get_indexdef(i.indexrelid, k + 1, true)
                             FROM generate_subscripts(i.indkey, 1) AS k ORDER BY k), ', ') AS keys
FROM pg_index AS i
JOIN pg_class AS c ON c.oid = i.indexrelid
JOIN pg_class AS t ON t.oid = i.indrelid
JOIN pg_am AS am ON am.oid = c.relam
LEFT JOIN pg_constraint AS con ON con.conindid = i.indexrelid AND con.contype IN ('p', 'u')
WHERE t.relnamespace = current_schema()::regnamespace
ORDER BY t.relname, c.relname
"""

FOREIGN_KEYS = """
SELECT con.conname, t.relname,
       array_to_string(ARRAY(SELECT a.attname FROM unnest(con.conkey) WITH ORDINALITY AS k(n, o)
                             JOIN pg_attribute AS a ON a.attrelid = con.conrelid AND a.attnum = k.n
                             ORDER BY k.o), ', ')
FROM pg_constraint AS con JOIN pg_class AS t ON t.oid = con.conrelid
WHERE con.contype = 'f' AND con.connamespace = current_schema()::regnamespace
"""


def facts(pg: Engine, reports, kept: dict[str, str] | None = None) -> list[IndexFacts]:  # noqa: ANN001
    """Every index of the schema with who reads it, what it serves and what it duplicates.

    `kept` names indexes the design keeps although no pattern of the registry reads them, each with
    its reason; a name that is not an index of the schema is an error, and so is one a pattern reads
    (the reason would be stale).
    """
    kept = dict(kept or {})
    used: dict[str, set[str]] = {}
    for r in reports:
        for cr in r.runs:
            for label, plan in (("", cr.plans.get("postgres")), (" (seed)", cr.seed_plans.get("postgres"))):
                for ix in plan.indexes() if plan is not None else ():
                    used.setdefault(ix, set()).add(r.pattern.name + label)
    fks = pg.fetchall(FOREIGN_KEYS)
    out = []
    for name, table, method, unique, constraint, predicate, size, keys in pg.fetchall(CATALOG):
        f = IndexFacts(
            name, table, keys, predicate, method, unique, constraint, size, sorted(used.get(name, ()))
        )
        f.kept = kept.pop(name, None)
        if f.kept and f.used_by:
            raise WorkbookError(
                f"{name}: kept 'without a pattern', but {', '.join(f.used_by)} reads it: drop the reason"
            )
        f.foreign_keys = [fk for fk, t, cols in fks if t == table and (keys + ", ").startswith(cols + ", ")]
        out.append(f)
    for f in out:
        for g in out:
            if (
                g is not f
                and g.table == f.table
                and g.method == f.method == "btree"
                and not f.unique
                and (g.keys + ", ").startswith(f.keys + ", ")
                and (f.predicate is None or f.predicate == g.predicate)
                and g.keys != f.keys
            ):
                f.prefix_of = g.name
    if kept:
        raise WorkbookError(f"kept indexes not in the schema: {', '.join(sorted(kept))}")
    return out


def markdown(items: list[IndexFacts]) -> str:
    """The index table for the document (sizes in kB: the same bytes on every build of the same data)."""
    from .tables import md_table

    rows = [
        [
            f"`{f.name}`",
            f.table,
            f.keys + (f" WHERE {f.predicate}" if f.predicate else ""),
            f"{f.size // 1024:,}",
            ", ".join(f"`{u}`" for u in f.used_by) or "none",
            ", ".join(f.foreign_keys) or "",
            f"`{f.prefix_of}`" if f.prefix_of else "",
            f.verdict,
        ]
        for f in items
    ]
    return md_table(
        ["Index", "Table", "Keys", "Size (kB)", "Read by", "Foreign key served", "Prefix of", "Verdict"], rows
    )


def write_cost(pg: Engine, table: str, index: str, rows: int = 2000, rounds: int = 3) -> dict[str, float]:
    """Inserts/s into a copy of `table` with all its indexes, and without `index` (median of `rounds`).

    A timing: for JupyterLab and the benchmark, never the document. The copy has the table's columns
    and indexes but no triggers or foreign keys, so only index maintenance differs between the runs.
    """
    import statistics

    defs = dict(
        pg.fetchall(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() AND tablename = ?",
            [table],
        )
    )

    def rate(skip: str | None) -> float:
        pg.execute("DROP TABLE IF EXISTS index_cost_probe")
        pg.execute(f"CREATE TABLE index_cost_probe (LIKE {table} INCLUDING DEFAULTS)")
        for name, ddl in defs.items():
            if name != skip:
                pg.execute(
                    ddl.replace(f" ON {pg.schema}.{table} ", " ON index_cost_probe ").replace(
                        f"INDEX {name}", f"INDEX probe_{name}"
                    )
                )
        t0 = time.perf_counter()
        pg.execute(f"INSERT INTO index_cost_probe SELECT * FROM {table} LIMIT {rows}")
        seconds = time.perf_counter() - t0
        pg.execute("DROP TABLE index_cost_probe")
        return rows / seconds

    with_all = statistics.median(rate(None) for _ in range(rounds))
    without = statistics.median(rate(index) for _ in range(rounds))
    return {
        "with_rows_per_s": round(with_all),
        "without_rows_per_s": round(without),
        "slowdown": round(without / with_all, 2),
    }


@dataclass
class WhatIf:
    """One proposed change and its effect on each pattern case whose plan it changes."""

    label: str
    ddl: str
    effects: list[
        tuple[str, str, str, float, float]
    ]  # pattern (case), access before, after, cost before, after


def _access(plan) -> str:  # noqa: ANN001
    scans = [n for n in plan.nodes() if n.relation and n.op != "Bitmap Index Scan"]
    return "; ".join(sorted({n.access() for n in scans})) or plan.root.op


def _cost(plan) -> float:  # noqa: ANN001
    return float(plan.root.raw.get("Total Cost") or 0.0)


def _plan(db: Engine, p, cr) -> plans.Plan:  # noqa: ANN001
    checked = {q.name: access.check_value(p.name, q, cr.values.get(q.name)) for q in p.params}
    text, params = access.bind(p.query.on("postgres"), checked)
    return plans.explain(db, text, params, analyze=False)


def what_if(pg: Engine, reports, changes: list[tuple[str, str]]) -> list[WhatIf]:  # noqa: ANN001
    """Each change applied in a transaction that is rolled back, every read pattern planned before and after."""
    reads = [
        (r.pattern, cr)
        for r in reports
        if not r.pattern.write
        for cr in r.runs
        if r.pattern.query.on("postgres")
    ]
    before = {(p.name, cr.case.name): _plan(pg, p, cr) for p, cr in reads}
    out = []
    for label, ddl in changes:
        effects = []
        try:
            with pg.transaction():
                pg.execute(ddl)
                for p, cr in reads:
                    a, b = before[(p.name, cr.case.name)], _plan(pg, p, cr)
                    if _access(a) != _access(b) or abs(_cost(a) - _cost(b)) > 0.01 * max(_cost(a), 1):
                        effects.append(
                            (f"{p.name} ({cr.case.name})", _access(a), _access(b), _cost(a), _cost(b))
                        )
                raise _RolledBack
        except _RolledBack:
            pass
        out.append(WhatIf(label, ddl, effects))
    return out


class _RolledBack(Exception):
    """Leaves a what-if's transaction: everything it did is rolled back."""


def what_if_markdown(items: list[WhatIf]) -> str:
    from .tables import md_table

    rows = []
    for w in items:
        if not w.effects:
            rows.append([w.label, "no pattern's plan changes", "", "", ""])
        for k, (case, a, b, ca, cb) in enumerate(w.effects):
            rows.append([w.label if k == 0 else "", case, a, b, f"{ca:,.0f} → {cb:,.0f}"])
    return md_table(["Change", "Pattern (case)", "Plan reads, before", "After", "Estimated cost"], rows)
