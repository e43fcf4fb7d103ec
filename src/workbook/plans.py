"""Query plans of both engines in one model: parsed from their JSON, rendered for notebooks and the document.

`explain(db, sql)` runs EXPLAIN ANALYZE (PostgreSQL: with BUFFERS) in JSON and parses it into a `Plan`, a
tree of `PlanNode`s whose `op` uses one vocabulary on both engines ("Seq Scan", "Index Scan", "Hash Join",
"Aggregate", "Sort", "Limit", ...) while `raw_op` keeps the engine's own name and `label` the name the
engine's text EXPLAIN would print ("Parallel Seq Scan", "Hash Right Anti Join", "Partial HashAggregate").

What each number means:

- `estimated_rows`: the planner's estimate for one execution of the node (PostgreSQL's "Plan Rows", per
  loop and, under a Gather, per process; DuckDB's "Estimated Cardinality", absent on some operators).
- `actual_rows`: rows the node returned in all its loops together (PostgreSQL: "Actual Rows", a per-loop
  average, times "Actual Loops"; DuckDB: `operator_cardinality`); None when the plan was not analysed.
- `time_ms`: inclusive wall-clock milliseconds. PostgreSQL reports "Actual Total Time" per loop; we store
  it times the loops and, beneath a Gather, divided by the number of processes that ran the subtree (the
  Gather's child's loops), since those processes ran at the same time. DuckDB reports per-operator
  `operator_timing` in seconds, exclusive of its children and summed over threads; we store that as
  `self_time_ms` and derive `time_ms` as the sum over the subtree.
- `self_time_ms`: exclusive milliseconds; on PostgreSQL `time_ms` minus the children's, clamped at zero
  (a CTE's plan is timed both where it is defined and in the CTE Scan reading it).
- `buffers`: PostgreSQL shared blocks hit + read, inclusive of the children (workers' included), when
  BUFFERS was requested.

The outline and the side-by-side table are for the committed document and show only what is stable
across runs of the same plan: operators, relations, indexes, keys and a power-of-ten band of the
estimate; never times, actual rows, buffers or costs. The Graphviz tree is for notebooks and shows all of
it. This module is machinery: it names none of the design's tables.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import graphviz

ENGINES = ("postgres", "duckdb")

# Rows below which an estimate and an actual count are treated as equal for the error ratio: estimating
# 1 row where 3 come back is not a 3x mistake that matters. Both sides are raised to the floor first.
ESTIMATE_FLOOR = 10.0
# An estimate this many times off (either way) is highlighted in the graph.
HIGHLIGHT_ERROR = 10.0
# Longest key, condition or filter text the outline shows before cutting it with an ellipsis.
DETAIL_CHARS = 60

# Operators writing their relation: they do not read it (scans_of leaves them out).
MODIFY_OPS = frozenset({"Insert", "Update", "Delete", "Merge"})
# Operators that read all their input before returning a row: beneath one, a Limit's early stop is over.
# (PostgreSQL's GroupAggregate, WindowAgg, Unique and Materialize stream; DuckDB's window is a sink.)
BLOCKING_OPS = frozenset({"Sort", "Hash", "Aggregate"})

# DuckDB operator types -> (op, label); scans, joins and a few others get their label computed.
_DUCKDB_OPS: dict[str, tuple[str, str]] = {
    "TABLE_SCAN": ("Seq Scan", "Seq Scan"),
    "SEQ_SCAN": ("Seq Scan", "Seq Scan"),
    "INDEX_SCAN": ("Index Scan", "Index Scan"),
    "HASH_JOIN": ("Hash Join", "Hash Join"),
    "NESTED_LOOP_JOIN": ("Nested Loop", "Nested Loop"),
    "BLOCKWISE_NL_JOIN": ("Nested Loop", "Blockwise Nested Loop"),
    "PIECEWISE_MERGE_JOIN": ("Merge Join", "Piecewise Merge Join"),
    "IE_JOIN": ("IE Join", "IE Join"),
    "ASOF_JOIN": ("AsOf Join", "AsOf Join"),
    "CROSS_PRODUCT": ("Cross Product", "Cross Product"),
    "POSITIONAL_JOIN": ("Positional Join", "Positional Join"),
    "LEFT_DELIM_JOIN": ("Delim Join", "Left Delim Join"),
    "RIGHT_DELIM_JOIN": ("Delim Join", "Right Delim Join"),
    "DELIM_JOIN": ("Delim Join", "Delim Join"),
    "DELIM_SCAN": ("Delim Scan", "Delim Scan"),
    "HASH_GROUP_BY": ("Aggregate", "Hash Group By"),
    "PERFECT_HASH_GROUP_BY": ("Aggregate", "Perfect Hash Group By"),
    "PARTITIONED_AGGREGATE": ("Aggregate", "Partitioned Aggregate"),
    "UNGROUPED_AGGREGATE": ("Aggregate", "Ungrouped Aggregate"),
    "SIMPLE_AGGREGATE": ("Aggregate", "Simple Aggregate"),
    "STREAMING_WINDOW": ("WindowAgg", "Streaming Window"),
    "WINDOW": ("WindowAgg", "Window"),
    "ORDER_BY": ("Sort", "Order By"),
    "TOP_N": ("Sort", "Top-N"),
    "LIMIT": ("Limit", "Limit"),
    "STREAMING_LIMIT": ("Limit", "Streaming Limit"),
    "LIMIT_PERCENT": ("Limit", "Limit Percent"),
    "FILTER": ("Filter", "Filter"),
    "PROJECTION": ("Projection", "Projection"),
    "UNION": ("Append", "Union"),
    "COLUMN_DATA_SCAN": ("Column Data Scan", "Column Data Scan"),
    "CHUNK_SCAN": ("Column Data Scan", "Chunk Scan"),
    "CTE": ("CTE", "CTE"),
    "CTE_SCAN": ("CTE Scan", "CTE Scan"),
    "RECURSIVE_CTE": ("Recursive Union", "Recursive CTE"),
    "RECURSIVE_CTE_SCAN": ("WorkTable Scan", "Recursive CTE Scan"),
    "RECURSIVE_RECURRING_CTE_SCAN": ("WorkTable Scan", "Recursive CTE Scan"),
    "EMPTY_RESULT": ("Result", "Empty Result"),
    "DUMMY_SCAN": ("Result", "Dummy Scan"),
    "UNNEST": ("Unnest", "Unnest"),
    "INSERT": ("Insert", "Insert"),
    "BATCH_INSERT": ("Insert", "Batch Insert"),
    "UPDATE": ("Update", "Update"),
    "DELETE": ("Delete", "Delete"),
    "DELETE_OPERATOR": ("Delete", "Delete"),
    "MERGE_INTO": ("Merge", "Merge Into"),
    "CREATE_TABLE_AS": ("Create Table As", "Create Table As"),
    "BATCH_CREATE_TABLE_AS": ("Create Table As", "Batch Create Table As"),
    "COPY_TO_FILE": ("Copy To", "Copy To File"),
    "BATCH_COPY_TO_FILE": ("Copy To", "Batch Copy To File"),
    "POSITIONAL_SCAN": ("Positional Scan", "Positional Scan"),
    "INOUT_FUNCTION": ("Function Scan", "In-Out Function"),
    "STREAMING_SAMPLE": ("Sample", "Streaming Sample"),
    "RESERVOIR_SAMPLE": ("Sample", "Reservoir Sample"),
}
# DuckDB profiling wrappers around the query's own plan.
_DUCKDB_WRAPPERS = frozenset({"", "EXPLAIN_ANALYZE", "EXPLAIN", "RESULT_COLLECTOR", "QUERY"})
_PG_AGG = {
    "Plain": "Aggregate",
    "Sorted": "GroupAggregate",
    "Hashed": "HashAggregate",
    "Mixed": "MixedAggregate",
}
# PostgreSQL fields shown as a node's detail, in this order.
_PG_DETAIL = ("Hash Cond", "Merge Cond", "Index Cond", "Join Filter", "Sort Key", "Group Key", "Tid Cond")
# DuckDB extra_info fields shown as a node's detail (Dynamic Filters are runtime values: never shown).
_DUCKDB_DETAIL = ("Conditions", "Order By", "Groups", "Top")


@dataclass(eq=False)
class PlanNode:
    """One operator of a plan, in a vocabulary shared by both engines."""

    op: str  # normalised operator family ("Seq Scan", "Hash Join", "Aggregate", ...), or the raw name
    raw_op: str  # the engine's own name (PostgreSQL "Node Type", DuckDB operator_type)
    label: str = ""  # what the engine's text EXPLAIN calls it ("Parallel Seq Scan", "Hash Left Join")
    relation: str | None = None  # table read or written, bare (no schema or catalog)
    alias: str | None = None  # the query's name for the relation, when it differs
    index: str | None = None  # index the node uses
    source: str | None = None  # a CTE or function the node reads (not a table)
    index_inferred: bool = False  # DuckDB: the index was named from the catalog, not by the plan
    estimated_rows: float | None = None  # planner estimate for one execution (loop)
    actual_rows: float | None = None  # rows returned over all loops; None when not analysed
    loops: int | None = None  # executions (PostgreSQL "Actual Loops"; 1 on DuckDB when analysed)
    time_ms: float | None = None  # inclusive wall-clock milliseconds (see the module docstring)
    self_time_ms: float | None = None  # exclusive milliseconds
    buffers: int | None = None  # PostgreSQL shared hit + read blocks, inclusive of children
    rows_scanned: int | None = None  # DuckDB operator_rows_scanned
    detail: str | None = None  # keys and conditions: index condition, join condition, sort or group key
    filter: str | None = None  # row filter applied by the node
    join_type: str | None = None  # "Inner", "Left", "Semi", "Right Anti", ... for joins
    subplan: str | None = None  # PostgreSQL "InitPlan 1" / "SubPlan 2" when the node heads one
    workers: int | None = None  # PostgreSQL Gather: workers launched (planned when not analysed)
    parallel: bool = False  # PostgreSQL: parallel-aware node
    truncated: bool = False  # its consumer stopped early (beneath a Limit): actual rows undercount
    raw: dict[str, Any] = field(default_factory=dict, repr=False)  # the engine's fields, minus children
    children: list[PlanNode] = field(default_factory=list, repr=False)

    def walk(self) -> Iterator[PlanNode]:
        """This node and every node beneath it, depth first in plan order."""
        yield self
        for child in self.children:
            yield from child.walk()

    @property
    def ran(self) -> bool:
        """True when the plan was analysed and this node executed at least once."""
        return self.actual_rows is not None and (self.loops is None or self.loops > 0)

    @property
    def actual_per_loop(self) -> float | None:
        """Actual rows per execution, comparable with `estimated_rows`."""
        if self.actual_rows is None:
            return None
        return self.actual_rows / self.loops if self.loops else self.actual_rows

    def estimate_error(self, floor: float = ESTIMATE_FLOOR) -> float | None:
        """How many times the estimate is off (>= 1, either direction), both sides raised to `floor`."""
        if not self.ran or self.estimated_rows is None:
            return None
        est, act = max(self.estimated_rows, floor), max(self.actual_per_loop or 0.0, floor)
        return max(est / act, act / est)

    def indexes(self) -> list[str]:
        """Indexes this node uses, its own and (for a bitmap heap scan) those of its bitmap children."""
        names = [self.index] if self.index else []
        if self.op == "Bitmap Heap Scan":
            for node in self.walk():
                if node is not self and node.op == "Bitmap Index Scan" and node.index:
                    names.append(node.index)
        return names

    def access(self) -> str:
        """How the node reads its relation, e.g. "Index Scan using pk_x" or "Bitmap Heap Scan using a + b"."""
        names = self.indexes()
        return f"{self.label} using {' + '.join(names)}" if names else self.label


@dataclass(eq=False)
class Plan:
    """A parsed plan: the engine, the root operator and the statement's own timings."""

    engine: str  # "postgres" or "duckdb"
    root: PlanNode
    analysed: bool = False  # True when the query ran (EXPLAIN ANALYZE)
    planning_ms: float | None = None  # PostgreSQL "Planning Time"; DuckDB reports none
    execution_ms: float | None = None  # PostgreSQL "Execution Time"; DuckDB's latency
    triggers: list[dict[str, Any]] = field(default_factory=list)  # PostgreSQL: name, relation, calls, time_ms
    sql: str | None = None
    notes: list[str] = field(default_factory=list)  # what the plan could not show, in one line each
    raw: Any = field(default=None, repr=False)  # the parsed JSON

    def nodes(self) -> list[PlanNode]:
        """Every node, depth first in plan order."""
        return list(self.root.walk())

    def uses_index(self, name: str) -> bool:
        """True when some node uses the named index."""
        return any(node.index == name for node in self.nodes())

    def indexes(self) -> list[str]:
        """The indexes the plan uses, sorted."""
        return sorted({node.index for node in self.nodes() if node.index})

    def relations(self) -> list[str]:
        """The relations the plan reads or writes, sorted."""
        return sorted({node.relation for node in self.nodes() if node.relation})

    def scans_of(self, table: str) -> list[PlanNode]:
        """The nodes reading `table`'s rows (see `PlanNode.access` for how), in plan order."""
        return [
            node
            for node in self.nodes()
            if node.relation == table and node.op != "Bitmap Index Scan" and node.op not in MODIFY_OPS
        ]

    def estimate_errors(self, floor: float = ESTIMATE_FLOOR) -> list[tuple[float, PlanNode]]:
        """(error factor, node) for every node that ran with an estimate, worst first.

        Nodes a Limit stopped early are left out: their estimate is for a full run.
        """
        pairs = [
            (err, node)
            for node in self.nodes()
            if not node.truncated and (err := node.estimate_error(floor)) is not None
        ]
        return sorted(pairs, key=lambda p: -p[0])

    def max_estimate_error(self, floor: float = ESTIMATE_FLOOR) -> float:
        """The worst ratio between estimated and actual rows (1.0 when nothing ran); see `estimate_errors`."""
        errors = self.estimate_errors(floor)
        return errors[0][0] if errors else 1.0

    def total_buffers(self) -> int | None:
        """Shared blocks hit + read by the statement (the root's inclusive count); None without BUFFERS."""
        counts = [node.buffers for node in self.nodes() if node.buffers is not None]
        return max(counts) if counts else None

    def total_self_ms(self) -> float | None:
        """The sum of every node's exclusive time: the denominator of each node's share."""
        times = [node.self_time_ms for node in self.nodes() if node.self_time_ms is not None]
        return sum(times) if times else None


# --------------------------------------------------------------------------- parsing helpers


def _load(data: Any) -> Any:
    """JSON text (or bytes) parsed; anything else returned as it is."""
    if isinstance(data, bytes | bytearray):
        data = data.decode("utf-8")
    return json.loads(data) if isinstance(data, str) else data


def _number(value: Any) -> float | None:
    """A float from a JSON number or numeric string, None otherwise."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        result = float(str(value).strip().lstrip("~"))
    except ValueError:
        return None
    return result if math.isfinite(result) else None


def _text(value: Any) -> str | None:
    """A field as one line of text: lists joined with ", ", whitespace collapsed; None when empty."""
    if value is None:
        return None
    if isinstance(value, list | tuple):
        parts = [t for v in value if (t := _text(v))]
        return ", ".join(parts) if parts else None
    text = " ".join(str(value).split())
    return text or None


def _bare(name: str | None) -> str | None:
    """A relation name without its catalog and schema prefix."""
    if not name:
        return None
    parts = re.findall(r'"(?:[^"]|"")*"|[^.]+', name)
    last = parts[-1] if parts else name
    return last[1:-1].replace('""', '"') if last.startswith('"') else last


def _scrub(text: str | None, schemas: Sequence[str]) -> str | None:
    """Text with the given schema qualifiers removed (a throwaway schema's name changes every run)."""
    if text is None:
        return None
    for schema in schemas:
        if schema:
            text = text.replace(f'"{schema}".', "").replace(f"{schema}.", "")
    return text


_IDENT = r'(?:"(?:[^"]|"")*"|\w+)'
# catalog.schema. before table.column in DuckDB's expressions (the catalog is "memory" or a file's name)
_DUCK_QUALIFIED = re.compile(rf"(?<![\w.\"]){_IDENT}\.{_IDENT}\.(?={_IDENT}\.{_IDENT})")


def _join_label(base: str, join_type: str | None) -> str:
    """A join's display name with its type, as PostgreSQL prints it ("Hash Left Join")."""
    if not join_type or join_type == "Inner":
        return base
    stem = base[: -len(" Join")] if base.endswith(" Join") else base
    return f"{stem} {join_type} Join"


def _mark_truncated(node: PlanNode, cut: bool = False) -> None:
    """Flag nodes whose consumer may stop reading before they finish.

    Beneath a Limit (until an operator that reads all its input), the inner side of a nested-loop semi
    or anti join (it stops at the first match) and both sides of a merge join (it stops when one ends).
    """
    node.truncated = cut
    duck = "operator_type" in node.raw or "name" in node.raw
    if (node.op in BLOCKING_OPS and node.raw.get("Strategy") != "Sorted") or (
        duck and node.raw_op == "WINDOW"
    ):
        cut = False
    for i, child in enumerate(node.children):
        child_cut = cut or node.op == "Limit"
        if node.op == "Hash Join" and duck and i == 1:
            child_cut = False  # DuckDB builds the hash table from its second child, in full
        if node.op == "Nested Loop" and i == 1 and (node.join_type or "").endswith(("Semi", "Anti")):
            child_cut = True
        if node.op == "Merge Join" and not duck:
            child_cut = True
        _mark_truncated(child, child_cut)


# --------------------------------------------------------------------------- PostgreSQL


def parse_postgres(data: Any, schemas: Sequence[str] = ()) -> Plan:
    """A Plan from PostgreSQL's EXPLAIN (FORMAT JSON) output: text, the parsed list, or its first item.

    `schemas` are qualifiers to strip from condition texts (a schema whose name varies between runs).
    """
    doc = _load(data)
    if isinstance(doc, list):
        if not doc:
            raise ValueError("empty PostgreSQL plan")
        doc = doc[0]
    if isinstance(doc, dict) and "Plan" not in doc and "Node Type" in doc:
        doc = {"Plan": doc}
    if not isinstance(doc, dict) or not isinstance(doc.get("Plan"), dict):
        raise ValueError("not a PostgreSQL JSON plan: no 'Plan' object")
    root = _pg_node(doc["Plan"], schemas, None)
    analysed = "Actual Loops" in doc["Plan"] or "Execution Time" in doc
    _pg_times(root, 1.0)
    _mark_truncated(root)
    triggers = [
        {
            "name": t.get("Trigger Name"),
            "constraint": t.get("Constraint Name"),  # a foreign key's own trigger: its OID-based name varies
            "relation": t.get("Relation"),
            "calls": t.get("Calls"),
            "time_ms": _number(t.get("Time")),
        }
        for t in doc.get("Triggers") or []
        if isinstance(t, dict)
    ]
    return Plan(
        engine="postgres",
        root=root,
        analysed=analysed,
        planning_ms=_number(doc.get("Planning Time")),
        execution_ms=_number(doc.get("Execution Time")),
        triggers=triggers,
        raw=doc,
    )


def _pg_node(n: dict[str, Any], schemas: Sequence[str], heap: str | None) -> PlanNode:
    """One PostgreSQL plan node and its children; `heap` is the bitmap heap scan's relation above."""
    raw_op = str(n.get("Node Type") or "Unknown")
    op = raw_op
    join_type = n.get("Join Type")
    parallel = bool(n.get("Parallel Aware"))
    if raw_op == "ModifyTable":
        op = str(n.get("Operation") or raw_op)
        label = op
    elif raw_op == "Aggregate":
        label = _PG_AGG.get(str(n.get("Strategy")), "Aggregate")
    elif raw_op == "SetOp":
        label = "HashSetOp" if n.get("Strategy") == "Hashed" else "SetOp"
    elif raw_op in ("Hash Join", "Merge Join", "Nested Loop"):
        label = _join_label(raw_op if raw_op != "Nested Loop" else "Nested Loop Join", join_type)
        label = "Nested Loop" if label == "Nested Loop Join" else label
    else:
        label = raw_op
    if n.get("Scan Direction") == "Backward":
        label += " Backward"
    if n.get("Partial Mode") in ("Partial", "Finalize"):
        label = f"{n['Partial Mode']} {label}"
    if parallel:
        label = f"Parallel {label}"
    relation = _bare(n.get("Relation Name"))
    if relation is None and raw_op == "Bitmap Index Scan":
        relation = heap
    alias = n.get("Alias")
    details = [t for k in _PG_DETAIL if (t := _text(n.get(k)))]
    filters = [t for t in (_text(n.get("Filter")),) if t]
    hit, read = _number(n.get("Shared Hit Blocks")), _number(n.get("Shared Read Blocks"))
    loops = n.get("Actual Loops")
    rows = _number(n.get("Actual Rows"))
    node = PlanNode(
        op=op,
        raw_op=raw_op,
        label=label,
        relation=relation,
        alias=alias if alias and alias != relation else None,
        index=n.get("Index Name"),
        source=_text(n.get("CTE Name") or n.get("Function Name")),
        estimated_rows=_number(n.get("Plan Rows")),
        actual_rows=None if rows is None else rows * (loops or 0) if loops is not None else rows,
        loops=int(loops) if loops is not None else None,
        buffers=None if hit is None and read is None else int((hit or 0) + (read or 0)),
        detail=_scrub("; ".join(details), schemas) or None,
        filter=_scrub("; ".join(filters), schemas) or None,
        join_type=str(join_type) if join_type else None,
        subplan=n.get("Subplan Name"),
        workers=n.get("Workers Launched", n.get("Workers Planned")),
        parallel=parallel,
        raw={k: v for k, v in n.items() if k != "Plans"},
    )
    below = (
        relation if raw_op == "Bitmap Heap Scan" else heap if raw_op in ("BitmapAnd", "BitmapOr") else None
    )
    node.children = [_pg_node(c, schemas, below) for c in n.get("Plans") or [] if isinstance(c, dict)]
    return node


def _pg_times(node: PlanNode, divisor: float) -> None:
    """Fill inclusive and exclusive times; `divisor` is the number of processes running the subtree."""
    per_loop = _number(node.raw.get("Actual Total Time"))
    if per_loop is not None and node.loops is not None:
        node.time_ms = per_loop * node.loops / divisor
    for child in node.children:
        child_divisor = divisor
        if node.raw_op in ("Gather", "Gather Merge") and child.raw.get("Parent Relationship") == "Outer":
            child_divisor = max(1.0, (child.loops or 1) / max(1, node.loops or 1))
        _pg_times(child, child_divisor)
    if node.time_ms is not None:
        below = sum(c.time_ms for c in node.children if c.time_ms is not None)
        node.self_time_ms = max(0.0, node.time_ms - below)


# --------------------------------------------------------------------------- DuckDB


class NoProfile(ValueError):
    """DuckDB answered EXPLAIN ANALYZE without a profile (it ran the statement but kept no tree)."""


def parse_duckdb(data: Any) -> Plan:
    """A Plan from DuckDB's EXPLAIN (ANALYZE, FORMAT JSON) profile or its EXPLAIN (FORMAT JSON) list."""
    doc = _load(data)
    top = doc
    if isinstance(doc, list):  # plain EXPLAIN: a list of root operators
        if not doc:
            raise ValueError("empty DuckDB plan")
        top = doc[0]
    if not isinstance(top, dict):
        raise ValueError("not a DuckDB JSON plan")
    if set(top) == {"result"}:  # what DuckDB 1.5 returns when it kept no profile, e.g. INSERT ... VALUES
        raise NoProfile(f"DuckDB returned no profile: {json.dumps(top)}")
    analysed = "operator_type" in top or "latency" in top or "operator_timing" in top
    node = top
    while (
        isinstance(node, dict)
        and str(node.get("operator_type", node.get("name", ""))) in _DUCKDB_WRAPPERS
        and len(node.get("children") or []) == 1
    ):
        node = node["children"][0]
    root = _duck_node(node, analysed)
    _duck_times(root)
    _mark_truncated(root)
    latency = _number(top.get("latency")) if analysed else None
    return Plan(
        engine="duckdb",
        root=root,
        analysed=analysed,
        execution_ms=None if latency is None else latency * 1000.0,
        raw=doc,
    )


def _duck_node(n: dict[str, Any], analysed: bool) -> PlanNode:
    """One DuckDB operator and its children."""
    raw_op = str(n.get("operator_type") or n.get("name") or "UNKNOWN")
    info = n.get("extra_info") if isinstance(n.get("extra_info"), dict) else {}
    op, label = _DUCKDB_OPS.get(raw_op, (raw_op, raw_op))
    if op == "Seq Scan":
        if "index" in str(info.get("Type", "")).lower():
            op = label = "Index Scan"
        elif "Table" not in info and info.get("Function"):
            op = label = "Function Scan"
    join_type = None
    if "Join Type" in info:
        join_type = str(info["Join Type"]).replace("_", " ").title()
        if op != "Delim Join":
            label = _join_label(label, join_type)
    details = []
    for k in _DUCKDB_DETAIL:
        if (t := _text(info.get(k))) is None or (k == "Groups" and re.fullmatch(r"[#\d, ]+", t)):
            continue  # Groups as column positions say nothing
        details.append(f"top {t}" if k == "Top" else t)
    filters = [t for k in ("Filters", "Expression") if (t := _text(info.get(k)))]
    est = _number(info.get("Estimated Cardinality"))
    scanned = n.get("operator_rows_scanned")
    node = PlanNode(
        op=op,
        raw_op=raw_op,
        label=label,
        relation=_bare(_text(info.get("Table"))),
        source=_text(info.get("CTE Name") or (info.get("Function") if op == "Function Scan" else None)),
        estimated_rows=est,
        actual_rows=_number(n.get("operator_cardinality")) if analysed else None,
        loops=1 if analysed else None,
        self_time_ms=None if (t := _number(n.get("operator_timing"))) is None else t * 1000.0,
        rows_scanned=int(scanned)
        if isinstance(scanned, int | float) and not isinstance(scanned, bool)
        else None,
        detail=_DUCK_QUALIFIED.sub("", "; ".join(details)) or None,
        filter=_DUCK_QUALIFIED.sub("", "; ".join(filters)) or None,
        join_type=join_type,
        raw={k: v for k, v in n.items() if k != "children"},
    )
    node.children = [_duck_node(c, analysed) for c in n.get("children") or [] if isinstance(c, dict)]
    return node


def _duck_times(node: PlanNode) -> None:
    """Inclusive time as the subtree's sum of DuckDB's exclusive operator timings."""
    for child in node.children:
        _duck_times(child)
    if node.self_time_ms is not None:
        node.time_ms = node.self_time_ms + sum(c.time_ms or 0.0 for c in node.children)


_COMPARISON = re.compile(r"^\(*\s*(.+?)\s*(?:<>|!=|>=|<=|=|<|>|\bIN\b|\bIS\b|\bBETWEEN\b)", re.I)


def _key(text: str) -> str:
    """An expression reduced for comparison: lower case, no quotes, brackets or spaces."""
    return re.sub(r"[\s\"'()\[\]]", "", text.lower())


def _filtered_keys(node: PlanNode) -> set[str]:
    """The expressions a DuckDB scan compares with something in its filters (dynamic ones included)."""
    texts: list[str] = []
    for k in ("Filters", "Dynamic Filters"):
        value = (node.raw.get("extra_info") or {}).get(k)
        texts += value if isinstance(value, list) else [value] if value else []
    keys = set()
    for text in texts:
        for part in re.split(r"\s+AND\s+", str(text)):
            part = re.sub(r"^\s*optional:\s*", "", part)
            if m := _COMPARISON.match(part):
                keys.add(_key(m.group(1)))
    return keys


def _split_top(text: str) -> list[str]:
    """Items of a comma-separated list, ignoring commas inside brackets or quotes."""
    items, depth, quote, cur = [], 0, "", ""
    for ch in text:
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif ch == "," and depth == 0:
            items.append(cur)
            cur = ""
            continue
        cur += ch
    return [i.strip() for i in items + [cur] if i.strip()]


def _name_duckdb_indexes(db: Any, plan: Plan) -> None:
    """Name the index of each DuckDB index scan from the catalog, when exactly one index can serve it.

    DuckDB's profile says a scan is an "Index Scan" but not which index. DuckDB (1.5) scans only
    single-key ART indexes, so the candidates are the table's one-key indexes and one-column primary-key
    or unique constraints whose key is an expression the scan filters on; two candidates leave it None.
    """
    cache: dict[str, list[tuple[str, str]]] = {}
    for node in plan.nodes():
        if node.op != "Index Scan" or node.index or not node.relation:
            continue
        if node.relation not in cache:
            found = []
            for name, exprs in db.fetchall(
                "SELECT index_name, expressions FROM duckdb_indexes() "
                "WHERE table_name = ? AND schema_name = current_schema() ORDER BY index_name",
                [node.relation],
            ):
                keys = _split_top(str(exprs).strip()[1:-1]) if exprs else []
                if len(keys) == 1:
                    found.append((name, _key(keys[0])))
            for name, cols in db.fetchall(
                "SELECT constraint_name, constraint_column_names FROM duckdb_constraints() "
                "WHERE table_name = ? AND schema_name = current_schema() "
                "AND constraint_type IN ('PRIMARY KEY', 'UNIQUE') ORDER BY constraint_name",
                [node.relation],
            ):
                if cols and len(cols) == 1:
                    found.append((name, _key(str(cols[0]))))
            cache[node.relation] = found
        filtered = _filtered_keys(node)
        matches = sorted({name for name, key in cache[node.relation] if key in filtered})
        if len(matches) == 1:
            node.index, node.index_inferred = matches[0], True


# --------------------------------------------------------------------------- running EXPLAIN


def explain(
    db: Any,
    sql: str,
    params: Sequence[Any] | None = None,
    analyze: bool = True,
    *,
    rollback: bool = False,
    setup: Sequence[str | tuple[str, Sequence[Any] | None]] = (),
) -> Plan:
    """EXPLAIN (ANALYZE) a statement on `db` in JSON and parse it; ANALYZE runs the statement.

    PostgreSQL gets `EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON)`, DuckDB `EXPLAIN (ANALYZE, FORMAT JSON)`
    (DuckDB shows index scans only when analysing). With `rollback=True` the EXPLAIN runs in a
    transaction that is rolled back, for INSERT, UPDATE and DELETE; `setup` statements run first in it
    (a transaction-local setting, say). DuckDB's index scans get their index named from the catalog.
    """
    if db.name == "postgres":
        prefix = "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " if analyze else "EXPLAIN (FORMAT JSON) "
    elif db.name == "duckdb":
        prefix = "EXPLAIN (ANALYZE, FORMAT JSON) " if analyze else "EXPLAIN (FORMAT JSON) "
    else:
        raise ValueError(f"explain: unknown engine {db.name!r} (choose from {', '.join(ENGINES)})")
    statements = [(s, None) if isinstance(s, str) else (s[0], s[1]) for s in setup]

    def fetch(text: str) -> Any:
        rows = db.fetchall(text + sql, params)
        if not rows:
            raise ValueError("EXPLAIN returned no rows")
        return rows[0][0] if db.name == "postgres" else rows[0][-1]

    def run() -> Plan:
        for text, args in statements:
            db.execute(text, args)
        if db.name == "postgres":
            schema = getattr(db, "schema", None)
            return parse_postgres(fetch(prefix), [schema] if schema else ())
        try:
            plan = parse_duckdb(fetch(prefix))
        except NoProfile as exc:  # the statement ran; show the plan DuckDB would use, unanalysed
            plan = parse_duckdb(fetch("EXPLAIN (FORMAT JSON) "))
            plan.notes.append(f"{exc}; the plan shown is the estimated one")
        _name_duckdb_indexes(db, plan)
        return plan

    plan = _in_transaction(db, run, rollback) if rollback or statements else run()
    plan.sql = sql
    return plan


def _in_transaction(db: Any, run: Any, rollback: bool) -> Plan:
    """Call `run` inside a transaction that is rolled back (rollback=True) or committed."""
    con = getattr(db, "con", None)
    if db.name == "postgres" and con is not None and hasattr(con, "transaction"):
        with con.transaction(force_rollback=rollback):  # a savepoint when already in a transaction
            return run()
    db.execute("BEGIN")
    try:
        plan = run()
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("ROLLBACK" if rollback else "COMMIT")
    return plan


# --------------------------------------------------------------------------- stable text renderings


def band(rows: float | None) -> str:
    """An estimate rounded to its nearest power of ten: "~1", "~10", ... "~1k", "~1M" ("?" when unknown)."""
    if rows is None:
        return "?"
    if rows < 0.5:
        return "~0"
    power = max(0, math.floor(math.log10(rows) + 0.5))
    for exp, suffix in ((9, "G"), (6, "M"), (3, "k")):
        if power >= exp:
            return f"~{10 ** (power - exp)}{suffix}"
    return f"~{10**power}"


def _short(text: str | None, limit: int = DETAIL_CHARS) -> str | None:
    """Text cut to `limit` characters with an ellipsis."""
    if not text:
        return None
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _visible(node: PlanNode, compact: bool) -> list[PlanNode]:
    """The node, or (compact, a DuckDB projection) its children in its place."""
    if compact and node.op == "Projection":
        return [v for child in node.children for v in _visible(child, compact)]
    return [node]


def _line(node: PlanNode) -> str:
    """One node as stable text: label, relation, index, estimate band, short keys and filter."""
    text = node.label or node.op
    if node.subplan:
        text = f"[{node.subplan}] {text}"
    if node.index and node.op != "Bitmap Index Scan":
        text += f" using {node.index}"
    elif node.index:
        text += f" on {node.index}"
    if node.relation and node.op != "Bitmap Index Scan":
        text += f" on {node.relation}" + (f" {node.alias}" if node.alias else "")
    elif node.source:
        text += f" on {node.source}" + (f" {node.alias}" if node.alias and node.alias != node.source else "")
    if node.estimated_rows is not None:
        text += f"  ({band(node.estimated_rows)} {'row' if band(node.estimated_rows) == '~1' else 'rows'})"
    if detail := _short(node.detail):
        text += f"  key: {detail}"
    if filt := _short(node.filter):
        text += f"  filter: {filt}"
    return text


def _trigger_label(t: dict) -> str:
    """A trigger by a name that is the same on every build: a foreign key's by its constraint."""
    if t.get("constraint"):
        return f"for foreign key {t['constraint']}"
    return str(t.get("name"))


def outline_lines(plan: Plan, compact: bool = True) -> list[str]:
    """The outline as lines, drawn as a tree."""
    lines: list[str] = []

    def visit(node: PlanNode, prefix: str, last: bool, top: bool) -> None:
        lines.append(_line(node) if top else f"{prefix}{'└─ ' if last else '├─ '}{_line(node)}")
        kids = [v for child in node.children for v in _visible(child, compact)]
        inner = "" if top else prefix + ("   " if last else "│  ")
        for i, kid in enumerate(kids):
            visit(kid, inner, i == len(kids) - 1, False)

    roots = _visible(plan.root, compact)
    for i, root in enumerate(roots):
        visit(root, "", i == len(roots) - 1, True)
    for trig in sorted({_trigger_label(t) for t in plan.triggers}):
        lines.append(f"Trigger {trig}")
    return lines


def outline(plan: Plan, compact: bool = True) -> str:
    """An indented plan outline for the document: only what is stable between runs of the same plan.

    Operators, relations, indexes, keys and the estimate's power-of-ten band; never times, actual rows,
    buffers or costs. `compact` leaves out DuckDB's projections (column shuffles and compression).
    """
    return "\n".join(outline_lines(plan, compact)) + "\n"


def _md_code(text: str) -> str:
    """An outline line as a GFM table cell code span: its tree prefix in non-breaking spaces, pipes escaped."""
    prefix = re.match(r"[ │├└─]*", text).group(0)
    text = prefix.replace(" ", "\u00a0") + text[len(prefix) :].replace("|", "\\|")
    fence = "``" if "`" in text else "`"
    pad = " " if fence == "``" else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def side_by_side(
    before: Plan, after: Plan, labels: tuple[str, str] = ("seed", "corrected"), compact: bool = True
) -> str:
    """A GFM table of two plan outlines, one outline line per row in each column (stable text only)."""
    left, right = outline_lines(before, compact), outline_lines(after, compact)
    rows = [f"| {' | '.join(labels)} |", "|---|---|"]
    for i in range(max(len(left), len(right))):
        cells = [_md_code(side[i]) if i < len(side) else "" for side in (left, right)]
        rows.append(f"| {cells[0]} | {cells[1]} |")
    return "\n".join(rows) + "\n"


def summary(plan: Plan, floor: float = ESTIMATE_FLOOR) -> dict[str, Any]:
    """A small JSON-ready digest for benchmarks: ops, scans per relation, indexes, estimate error, times."""
    nodes = plan.nodes()
    scans: dict[str, list[str]] = {}
    for relation in plan.relations():
        methods = sorted(node.access() for node in plan.scans_of(relation))
        if methods:
            scans[relation] = methods
    return {
        "engine": plan.engine,
        "nodes": len(nodes),
        "ops": dict(sorted(Counter(node.op for node in nodes).items())),
        "scans": scans,
        "indexes": plan.indexes(),
        "max_estimate_error": round(plan.max_estimate_error(floor), 2) if plan.analysed else None,
        "execution_ms": None if plan.execution_ms is None else round(plan.execution_ms, 3),
        "planning_ms": None if plan.planning_ms is None else round(plan.planning_ms, 3),
        "buffers": plan.total_buffers(),
    }


# --------------------------------------------------------------------------- Graphviz tree


def _html(text: str) -> str:
    """Text escaped for a Graphviz HTML-like label."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def _count(value: float | None) -> str:
    """A row or block count for a label: 950, 12.3k, 4.1M."""
    if value is None:
        return "?"
    for limit, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= limit:
            return f"{value / limit:.3g}{suffix}"
    return f"{value:.3g}" if value != int(value) else str(int(value))


def _heat(share: float) -> str:
    """A fill colour from white (no time) to deep orange (all of it)."""
    share = min(1.0, max(0.0, share))
    r, g, b = (255, round(255 - 140 * share), round(255 - 235 * share))
    return f"#{r:02x}{g:02x}{b:02x}"


BAR_WIDTH = 120  # points: the width of the time bar that a node taking all the time fills


def _node_label(node: PlanNode, total: float | None, floor: float) -> str:
    """The HTML-like label of one plan node."""
    rows = [f"<TR><TD><B>{_html(node.label or node.op)}</B></TD></TR>"]
    where = " ".join(p for p in (node.relation or node.source, node.alias) if p)
    if node.index:
        where = f"{where} using {node.index}" if where else node.index
        where += " (from catalog)" if node.index_inferred else ""
    if where:
        rows.append(f"<TR><TD>{_html(where)}</TD></TR>")
    if node.subplan:
        rows.append(f"<TR><TD><I>{_html(node.subplan)}</I></TD></TR>")
    if detail := _short(node.detail, 48):
        rows.append(f'<TR><TD><FONT POINT-SIZE="9">{_html(detail)}</FONT></TD></TR>')
    if filt := _short(node.filter, 48):
        rows.append(f'<TR><TD><FONT POINT-SIZE="9">filter: {_html(filt)}</FONT></TD></TR>')
    parts = [] if node.estimated_rows is None else [f"est {_count(node.estimated_rows)}"]
    if node.actual_rows is not None:
        parts.append(f"actual {_count(node.actual_per_loop)}")
    rows_text = " · ".join(parts) or "no estimate"
    if node.loops and node.loops > 1:
        rows_text += f" × {node.loops} loops"
    err = node.estimate_error(floor)
    if err is not None and err > HIGHLIGHT_ERROR:
        colour = "#888888" if node.truncated else "#c00000"
        note = " (stopped early)" if node.truncated else ""
        rows_text = f'{_html(rows_text)} <FONT COLOR="{colour}"><B>{err:.0f}× off{note}</B></FONT>'
    else:
        rows_text = _html(rows_text)
    rows.append(f"<TR><TD>{rows_text}</TD></TR>")
    extras = []
    if node.buffers is not None:
        extras.append(f"buffers {_count(node.buffers)}")
    if node.rows_scanned:
        extras.append(f"scanned {_count(node.rows_scanned)}")
    if node.workers is not None:
        extras.append(f"workers {node.workers}")
    if extras:
        rows.append(f'<TR><TD><FONT POINT-SIZE="9">{_html(" · ".join(extras))}</FONT></TD></TR>')
    if node.self_time_ms is not None and total:
        share = node.self_time_ms / total
        filled = max(1, round(BAR_WIDTH * share))
        bar = f'<TD FIXEDSIZE="TRUE" WIDTH="{filled}" HEIGHT="6" BGCOLOR="#e05a00"></TD>'
        if filled < BAR_WIDTH:
            bar += f'<TD FIXEDSIZE="TRUE" WIDTH="{BAR_WIDTH - filled}" HEIGHT="6" BGCOLOR="#eeeeee"></TD>'
        rows.append(
            '<TR><TD><TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="0" FIXEDSIZE="TRUE" '
            f'WIDTH="{BAR_WIDTH}" HEIGHT="6"><TR>{bar}</TR></TABLE></TD></TR>'
        )
        rows.append(
            f'<TR><TD><FONT POINT-SIZE="9">{share:.0%} of the time · {node.self_time_ms:.3g} ms self'
            f"</FONT></TD></TR>"
        )
    body = "".join(rows)
    return f'<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="2">{body}</TABLE>>'


def graph(plan: Plan, compact: bool = True, floor: float = ESTIMATE_FLOOR) -> graphviz.Digraph:
    """A Graphviz tree of the plan for notebooks: where the rows and the time go.

    Each node shows its operator, relation and index, estimated vs actual rows (the error factor in
    red above 10x), buffers (PostgreSQL) and its share of the total exclusive time as a bar and as the
    node's colour. Edges point from a child to the operator consuming its rows.
    """
    total = plan.total_self_ms()
    dot = graphviz.Digraph(
        name="plan",
        graph_attr={"rankdir": "TB", "fontname": "Helvetica", "nodesep": "0.3", "ranksep": "0.35"},
        node_attr={
            "shape": "box",
            "style": "rounded,filled",
            "fontname": "Helvetica",
            "fontsize": "10",
            "color": "#7f7f7f",
            "margin": "0.05,0.03",
        },
        edge_attr={"dir": "back", "color": "#7f7f7f", "arrowsize": "0.6"},
    )
    header = f"{plan.engine}"
    if plan.execution_ms is not None:
        header += f" · execution {plan.execution_ms:.3g} ms"
    if plan.planning_ms is not None:
        header += f" · planning {plan.planning_ms:.3g} ms"
    if (buffers := plan.total_buffers()) is not None:
        header += f" · buffers {_count(buffers)}"
    dot.attr(label=header, labelloc="t", fontsize="11")
    ids: dict[int, str] = {}

    def add(node: PlanNode) -> str:
        ident = f"n{len(ids)}"
        ids[id(node)] = ident
        share = node.self_time_ms / total if node.self_time_ms is not None and total else 0.0
        dot.node(ident, label=_node_label(node, total, floor), fillcolor=_heat(share))
        for child in node.children:
            for kid in _visible(child, compact):
                dot.edge(ident, add(kid))
        return ident

    for root in _visible(plan.root, compact):
        add(root)
    return dot
