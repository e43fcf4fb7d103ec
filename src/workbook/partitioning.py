"""PostgreSQL declarative partitioning of a loaded table, and the plans that show partition pruning.

A design declares a `Partitioning` (`workbook.design.distribution.PARTITIONING`): the scheme it chose, the
ones it weighed against it, and `Probe`s, its access patterns written against ``{table}``. This module
builds each scheme as a partitioned copy of the loaded table (same columns, defaults, checks, indexes and
foreign keys; no triggers, so copying does not write audit rows or move usage counts), checks that the
copy holds exactly the original's rows (count and an order-independent checksum), and runs every probe
through EXPLAIN against every copy. It names no table of the design.

The general trade-off the probes measure: RANGE on a time column prunes time-range reads and turns
retention into dropping partitions, but a read by any other key visits every partition; HASH on a key
sends a read by that key to one partition, but time-range reads and retention visit all. A primary key or
unique constraint on a partitioned table must include the partition key (each partition's index enforces
it only within the partition), so a key on another column alone is refused; the copy shows PostgreSQL's
refusal and adds the partition column to the key.

The evidence keeps only what is stable across runs of the same data: how many partitions each plan
holds, how many it ran (EXPLAIN ANALYZE, where executing is harmless), how many were removed at run time
(a prepared statement's generic plan prunes at executor start-up, "Subplans Removed"), and the scan node
types. Timings are left out. Node types follow the planner's statistics; the partition counts follow
only the partition bounds and the parameter values, which the probes take from the data.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from .engines import Engine
from .errors import WorkbookError, first_line

PERIODS = ("year", "quarter", "month")
_MONTHS = {"year": 12, "quarter": 3, "month": 1}


@dataclass(frozen=True)
class Scheme:
    """One way to partition a table: RANGE on a time column by calendar period, or HASH on a column into N."""

    name: str
    table: str
    copy: str
    method: Literal["range", "hash"]
    column: str
    every: str | None = None  # range: "year" | "quarter" | "month"
    ahead: int = 1  # range: empty partitions created after the data's last period, for the inserts to come
    modulus: int | None = None  # hash: the number of partitions

    def __post_init__(self) -> None:
        if self.method == "range" and self.every not in PERIODS:
            raise WorkbookError(f"partitioning {self.name}: RANGE needs every= one of {', '.join(PERIODS)}")
        if self.method == "hash" and not (self.modulus and self.modulus > 0):
            raise WorkbookError(f"partitioning {self.name}: HASH needs a positive modulus")
        if self.method not in ("range", "hash"):
            raise WorkbookError(f"partitioning {self.name}: method {self.method!r} is not range or hash")


@dataclass(frozen=True)
class Probe:
    """An access pattern run against each copy: SQL with {table} and ? placeholders, values from the data."""

    label: str
    sql: str
    params: str | None = None  # SQL returning one row: the values of the ? placeholders, in order
    analyze: bool = True  # run it (EXPLAIN ANALYZE); off for statements that change data
    generic: bool = False  # PREPARE it and EXPLAIN EXECUTE under a generic plan: run-time pruning


@dataclass(frozen=True)
class Partitioning:
    """A design's partitioning: the chosen scheme, the alternatives it was compared with, and the probes."""

    chosen: Scheme
    alternatives: tuple[Scheme, ...] = ()
    probes: tuple[Probe, ...] = field(default_factory=tuple)

    @property
    def schemes(self) -> tuple[Scheme, ...]:
        """The chosen scheme first, then the alternatives."""
        return (self.chosen, *self.alternatives)


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _design() -> Partitioning:
    from .design.distribution import PARTITIONING

    return PARTITIONING


def _columns(db: Engine, table: str) -> list[tuple[str, str]]:
    """(name, type) of the table's columns in order; WorkbookError if the table is not in the schema."""
    rows = db.fetchall(
        "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
        "WHERE a.attrelid = to_regclass(?) AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
        [_q(table)],
    )
    if not rows:
        raise WorkbookError(
            f"partitioning: table {table} is not in schema {db.scalar('SELECT current_schema()')}"
        )
    return rows


def _period_start(t: datetime, every: str) -> datetime:
    t = t.astimezone(UTC)
    month = (t.month - 1) // _MONTHS[every] * _MONTHS[every] + 1
    return datetime(t.year, month, 1, tzinfo=UTC)


def _add_months(t: datetime, months: int) -> datetime:
    m = t.month - 1 + months
    return t.replace(year=t.year + m // 12, month=m % 12 + 1)


def _suffix(t: datetime, every: str) -> str:
    if every == "year":
        return f"{t.year}"
    if every == "quarter":
        return f"{t.year}q{(t.month - 1) // 3 + 1}"
    return f"{t.year}m{t.month:02d}"


def partition_bounds(db: Engine, scheme: Scheme) -> list[tuple[str, str]]:
    """(partition name, FOR VALUES clause) of every partition the scheme gives the table's current data."""
    if scheme.method == "hash":
        return [
            (f"{scheme.copy}_h{r}", f"FOR VALUES WITH (MODULUS {scheme.modulus}, REMAINDER {r})")
            for r in range(scheme.modulus or 0)
        ]
    types = dict(_columns(db, scheme.table))
    if scheme.column not in types:
        raise WorkbookError(f"partitioning {scheme.name}: {scheme.table} has no column {scheme.column}")
    if not types[scheme.column].startswith(("timestamp", "date")):
        raise WorkbookError(
            f"partitioning {scheme.name}: RANGE by {scheme.every} needs a date or timestamp column, "
            f"{scheme.column} is {types[scheme.column]}"
        )
    lo, hi = db.fetchall(
        f"SELECT min({_q(scheme.column)}), max({_q(scheme.column)}) FROM {_q(scheme.table)}"
    )[0]
    if lo is None:
        raise WorkbookError(
            f"partitioning {scheme.name}: {scheme.table} has no rows to derive the ranges from"
        )
    if not isinstance(lo, datetime):  # a date column
        lo, hi = (datetime(v.year, v.month, v.day, tzinfo=UTC) for v in (lo, hi))
    step = _MONTHS[scheme.every or "year"]
    start, last = _period_start(lo, scheme.every or "year"), _period_start(hi, scheme.every or "year")
    out = []
    t = start
    end = _add_months(last, step * (scheme.ahead + 1))
    while t < end:
        nxt = _add_months(t, step)
        out.append(
            (
                f"{scheme.copy}_{_suffix(t, scheme.every or 'year')}",
                f"FOR VALUES FROM ('{t.isoformat(sep=' ')}') TO ('{nxt.isoformat(sep=' ')}')",
            )
        )
        t = nxt
    return out


def _primary_key(db: Engine, table: str) -> tuple[str, list[str]] | None:
    row = db.fetchall(
        "SELECT k.conname, array_agg(a.attname ORDER BY u.ord) FROM pg_constraint k "
        "CROSS JOIN LATERAL unnest(k.conkey) WITH ORDINALITY AS u(attnum, ord) "
        "JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.attnum "
        "WHERE k.conrelid = to_regclass(?) AND k.contype = 'p' GROUP BY k.conname",
        [_q(table)],
    )
    return (row[0][0], list(row[0][1])) if row else None


def _renamed(name: str, table: str, copy: str) -> str:
    return name.replace(table, copy) if table in name else f"{copy}_{name}"


def create_partitioned_copy(db: Engine, scheme: Scheme | None = None, *, foreign_keys: bool = True) -> dict:
    """Build the scheme's partitioned copy of its table from the loaded rows, replacing an earlier copy.

    In one transaction: the copy (LIKE the table: columns, defaults, NOT NULL and CHECK constraints,
    comments) partitioned as the scheme says, its partitions, the rows, the primary key with the partition
    column added when the original's lacks it (PostgreSQL's refusal of the original key is kept), the
    other indexes, the foreign keys, then ANALYZE. Returns the partitions with their bounds and rows.
    """
    scheme = scheme or _design().chosen
    if db.name != "postgres":
        raise WorkbookError(f"partitioning: declarative partitioning needs PostgreSQL, got {db.name}")
    cols = [c for c, _ in _columns(db, scheme.table)]
    if scheme.column not in cols:
        raise WorkbookError(f"partitioning {scheme.name}: {scheme.table} has no column {scheme.column}")
    bounds = partition_bounds(db, scheme)
    pk = _primary_key(db, scheme.table)
    t, c = _q(scheme.table), _q(scheme.copy)
    collist = ", ".join(_q(x) for x in cols)
    refusal = None
    with db.transaction():
        db.execute("SET LOCAL maintenance_work_mem = '256MB'")
        db.execute(f"DROP TABLE IF EXISTS {c} CASCADE")
        db.execute(
            f"CREATE TABLE {c} (LIKE {t} INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING GENERATED "
            f"INCLUDING COMMENTS INCLUDING STORAGE) PARTITION BY {scheme.method.upper()} ({_q(scheme.column)})"
        )
        for name, values in bounds:
            db.execute(f"CREATE TABLE {_q(name)} PARTITION OF {c} {values}")
        key = list(pk[1]) if pk else [scheme.column]
        if pk and scheme.column not in key:
            refusal = _refused(db, f"ALTER TABLE {c} ADD PRIMARY KEY ({', '.join(_q(k) for k in key)})")
            key.append(scheme.column)
        db.execute(f"INSERT INTO {c} ({collist}) SELECT {collist} FROM {t}")
        pk_name = f"pk_{scheme.copy}"
        db.execute(
            f"ALTER TABLE {c} ADD CONSTRAINT {_q(pk_name)} PRIMARY KEY ({', '.join(_q(k) for k in key)})"
        )
        for iname, idef, unique in db.fetchall(
            "SELECT ic.relname, pg_get_indexdef(i.indexrelid), i.indisunique FROM pg_index i "
            "JOIN pg_class ic ON ic.oid = i.indexrelid WHERE i.indrelid = to_regclass(?) AND NOT EXISTS "
            "(SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid AND k.conrelid = i.indrelid) "
            "ORDER BY ic.relname",
            [_q(scheme.table)],
        ):
            if unique:
                raise WorkbookError(
                    f"partitioning {scheme.name}: unique index {iname} of {scheme.table} cannot be enforced "
                    f"across partitions without {scheme.column}; the design must say what replaces it"
                )
            body = re.sub(r"^CREATE INDEX \S+ ON (ONLY )?\S+ ", "", idef)
            db.execute(f"CREATE INDEX {_q(_renamed(iname, scheme.table, scheme.copy))} ON {c} {body}")
        if foreign_keys:
            for fname, fdef in db.fetchall(
                "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = to_regclass(?) "
                "AND contype = 'f' ORDER BY conname",
                [_q(scheme.table)],
            ):
                db.execute(
                    f"ALTER TABLE {c} ADD CONSTRAINT {_q(_renamed(fname, scheme.table, scheme.copy))} {fdef}"
                )
    db.execute(f"ANALYZE {c}")
    rows = dict(
        db.fetchall(
            f"SELECT c.relname, x.n FROM (SELECT tableoid, count(*) AS n FROM {c} GROUP BY 1) AS x "
            "JOIN pg_class c ON c.oid = x.tableoid"
        )
    )
    return {
        "scheme": scheme.name,
        "copy": scheme.copy,
        "partitions": [
            {
                "name": name,
                "bounds": values.removeprefix("FOR VALUES "),
                "rows": rows.get(name, 0),
            }
            for name, values in bounds
        ],
        "primary_key": key,
        "pk_refusal": refusal,
    }


class _Undo(Exception):
    """Raised to roll a savepoint back after a statement was accepted."""


def _refused(db: Engine, sql: str) -> str | None:
    """PostgreSQL's message (and detail) when it refuses `sql`, inside a savepoint; None if it is accepted."""
    import psycopg

    try:
        with db.transaction():
            db.execute(sql)
            raise _Undo  # accepted: roll the savepoint back
    except _Undo:
        return None
    except psycopg.Error as exc:
        detail = getattr(exc.diag, "message_detail", None)
        return first_line(exc) + (f" ({detail})" if detail else "")
    return None


def fingerprint(db: Engine, table: str, columns: list[str] | None = None) -> tuple[int, int]:
    """(row count, order-independent checksum of every row's text) of a table; equal tables give equal pairs."""
    cols = columns or [c for c, _ in _columns(db, table)]
    row = ", ".join(_q(c) for c in cols)
    n, total = db.fetchall(
        f"SELECT count(*), coalesce(sum(('x' || substr(md5(ROW({row})::text), 1, 15))::bit(60)::bigint), 0) "
        f"FROM {_q(table)}"
    )[0]
    return int(n), int(total)


def partitions_of(db: Engine, table: str) -> list[str]:
    """Names of the table's partitions (leaf level), sorted."""
    return [
        r[0]
        for r in db.fetchall(
            "SELECT c.relname FROM pg_partition_tree(to_regclass(?)) p JOIN pg_class c ON c.oid = p.relid "
            "WHERE p.isleaf ORDER BY 1",
            [_q(table)],
        )
    ]


def _literal(db: Engine, value: Any) -> str:
    from psycopg import sql

    return sql.Literal(value).as_string(db.con)  # type: ignore[attr-defined]


def _plan(db: Engine, sql: str, analyze: bool) -> dict:
    opts = "FORMAT JSON, COSTS OFF" + (", ANALYZE, TIMING OFF, SUMMARY OFF, BUFFERS OFF" if analyze else "")
    rows = db.fetchall(f"EXPLAIN ({opts}) {sql}")
    raw = rows[0][0] if len(rows) == 1 else "".join(r[0] for r in rows)
    doc = json.loads(raw) if isinstance(raw, str) else raw
    return doc[0]["Plan"]


# What a scan node read, per loop: the rows it returned and those its filter or recheck discarded.
_READ = ("Actual Rows", "Rows Removed by Filter", "Rows Removed by Index Recheck")


def _walk(node: dict):  # noqa: ANN202 - a generator of plan nodes
    yield node
    for child in node.get("Plans", []):
        yield from _walk(child)


def plan_facts(db: Engine, sql: str, partitions: list[str], *, analyze: bool) -> dict:
    """The stable facts of one plan over a partitioned table: partitions planned, run, removed; scan types."""
    plan = _plan(db, sql, analyze)
    wanted = set(partitions)
    planned: set[str] = set()
    executed: set[str] = set()
    scans: set[str] = set()
    removed = 0
    rows_read = 0.0
    for node in _walk(plan):
        removed += int(node.get("Subplans Removed", 0))
        rel = node.get("Relation Name")
        if rel in wanted and node["Node Type"] != "ModifyTable":
            planned.add(rel)
            ran = not analyze or node.get("Actual Loops", 0) > 0
            if ran:
                executed.add(rel)
                scans.add(node["Node Type"])
                seen = sum(float(node.get(k, 0)) for k in _READ)
                rows_read += seen * float(node.get("Actual Loops", 0))
    scanned = len(executed)
    if scanned == len(wanted):
        pruning = "none"
    elif removed:
        pruning = "run time (executor start-up)"
    elif len(planned) < len(wanted):
        pruning = "plan time"
    else:
        pruning = "skipped while running"  # per-loop pruning, or a LIMIT met before the last partition
    return {
        "partitions": len(wanted),
        "planned": len(planned),
        "removed_at_run_time": removed,
        "executed": scanned if analyze else None,
        "rows_read": round(rows_read) if analyze else None,
        "scanned": scanned,
        "pruning": pruning,
        "scans": sorted(scans),
        "top": plan["Node Type"],
    }


def _params(db: Engine, probe: Probe) -> list[Any]:
    if not probe.params:
        return []
    rows = db.fetchall(probe.params)
    if not rows or any(v is None for v in rows[0]):
        raise WorkbookError(f"partitioning probe {probe.label!r}: its parameter query found no values")
    return list(rows[0])


def run_probe(db: Engine, probe: Probe, table: str, values: list[Any]) -> dict:
    """EXPLAIN one probe against one partitioned table, with literal values or as a generic prepared plan.

    Plans are serial (max_parallel_workers_per_gather = 0 for the probe): a parallel scan reports rows
    per worker, rounded, and the number of workers that start varies, so the rows read would too.
    """
    db.execute("SET max_parallel_workers_per_gather = 0")
    try:
        return _run_probe(db, probe, table, values)
    finally:
        db.execute("RESET max_parallel_workers_per_gather")


def _run_probe(db: Engine, probe: Probe, table: str, values: list[Any]) -> dict:
    sql = probe.sql.replace("{table}", _q(table))
    parts = partitions_of(db, table)
    if sql.count("?") != len(values):
        raise WorkbookError(
            f"partitioning probe {probe.label!r}: {sql.count('?')} placeholders, {len(values)} values"
        )
    if not probe.generic:
        for v in values:
            sql = sql.replace("?", _literal(db, v), 1)
        return plan_facts(db, sql, parts, analyze=probe.analyze)
    n = iter(range(1, len(values) + 1))
    prepared = re.sub(r"\?", lambda _: f"${next(n)}", sql)
    db.execute("SET plan_cache_mode = force_generic_plan")
    db.execute(f"PREPARE workbook_probe AS {prepared}")
    try:
        args = ", ".join(_literal(db, v) for v in values)
        return plan_facts(db, f"EXECUTE workbook_probe({args})", parts, analyze=probe.analyze)
    finally:
        db.execute("DEALLOCATE workbook_probe")
        db.execute("RESET plan_cache_mode")


def pruning_evidence(
    db: Engine, design: Partitioning | None = None, *, build: bool = True, keep: bool = False
) -> dict:
    """Build every scheme's copy (checked row for row against the original), then EXPLAIN every probe on each.

    Returns the chosen scheme, each copy's partitions, key and row check, and per probe the plan facts on
    each copy; `render_markdown` turns it into the document's tables. The copies are dropped afterwards
    unless `keep` (at SF 1 each is about as large as the table itself).
    """
    design = design or _design()
    schemes = []
    for scheme in design.schemes:
        info = create_partitioned_copy(db, scheme) if build else {"scheme": scheme.name, "copy": scheme.copy}
        cols = [c for c, _ in _columns(db, scheme.table)]
        original, copy = fingerprint(db, scheme.table, cols), fingerprint(db, scheme.copy, cols)
        if original != copy:
            raise WorkbookError(
                f"partitioning {scheme.name}: {scheme.copy} holds {copy[0]} rows, {scheme.table} {original[0]} "
                "(or their checksums differ): the copy is not the table"
            )
        schemes.append({**info, "rows": original[0], "same_rows": True, "method": scheme.method})
    probes = []
    for probe in design.probes:
        values = _params(db, probe)
        results = {s.name: run_probe(db, probe, s.copy, values) for s in design.schemes}
        probes.append({"label": probe.label, "sql": probe.sql, "generic": probe.generic, "results": results})
    if not keep:
        for scheme in design.schemes:
            db.execute(f"DROP TABLE IF EXISTS {_q(scheme.copy)} CASCADE")
    return {"chosen": design.chosen.name, "table": design.chosen.table, "schemes": schemes, "probes": probes}


def _cell(f: dict) -> str:
    how = {
        "none": "no pruning",
        "plan time": "pruned at plan time",
        "skipped while running": "the rest not run",
    }.get(f["pruning"], f"pruned at {f['pruning']}")
    read = f"{f['rows_read']:,} rows read" if f["rows_read"] is not None else "EXPLAIN only"
    scans = ", ".join(f["scans"]) or "-"
    return f"{f['scanned']} of {f['partitions']}; {how}; {read}; {scans}"


def render_markdown(evidence: dict) -> str:
    """The pruning evidence as markdown: the partitions of each copy, then partitions scanned per probe."""
    names = [s["scheme"] for s in evidence["schemes"]]
    lines = []
    for s in evidence["schemes"]:
        chosen = " (chosen)" if s["scheme"] == evidence["chosen"] else ""
        key = ", ".join(s.get("primary_key", []))
        lines += [
            f"**{s['scheme']}{chosen}**: `{s['copy']}`, {len(s.get('partitions', []))} partitions, "
            f"{s['rows']:,} rows, the same rows as `{evidence['table']}` (count and checksum); "
            f"primary key ({key}).",
            "",
        ]
        if s.get("pk_refusal"):
            lines += [f"PostgreSQL refuses the original key on it: `{s['pk_refusal']}`", ""]
        if s["method"] == "range":
            lines += ["| Partition | Bounds | Rows |", "|---|---|---:|"]
            lines += [f"| {p['name']} | {p['bounds']} | {p['rows']:,} |" for p in s["partitions"]]
            lines.append("")
    lines += [
        "| Access pattern | " + " | ".join(names) + " |",
        "|---|" + "---|" * len(names),
    ]
    for p in evidence["probes"]:
        cells = " | ".join(_cell(p["results"][n]) for n in names)
        lines.append(f"| {p['label']} | {cells} |")
    lines += [
        "",
        "Each cell: partitions scanned of all (EXPLAIN ANALYZE: those the executor ran), how they were pruned, "
        "the rows the scans read (returned plus discarded by their filters), and the scan nodes. A generic plan is PostgreSQL's plan for a prepared statement whose parameters are "
        "not known when it is planned; it prunes when the executor starts (Subplans Removed).",
    ]
    return "\n".join(lines) + "\n"
