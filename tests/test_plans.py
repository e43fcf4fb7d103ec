"""Query plans: real EXPLAIN output of both engines parsed into one model, and its renderings."""

from __future__ import annotations

import json
import re

import pytest

from workbook import plans
from workbook.engines import connect
from workbook.plans import Plan, PlanNode

# A small fixture of our own (not the design's tables): 2,000 owners with 10 items each.
FIXTURE = """
CREATE TABLE owners (id INTEGER NOT NULL, name TEXT NOT NULL, grp INTEGER NOT NULL, CONSTRAINT pk_owners PRIMARY KEY (id));
CREATE TABLE items (
    id INTEGER NOT NULL, owner_id INTEGER NOT NULL, kind TEXT NOT NULL, score INTEGER NOT NULL,
    CONSTRAINT pk_items PRIMARY KEY (id), CONSTRAINT fk_items_owner FOREIGN KEY (owner_id) REFERENCES owners (id)
);
CREATE INDEX ix_items_owner_id ON items (owner_id);
CREATE INDEX ix_items_kind ON items (kind);
INSERT INTO owners SELECT i, 'owner ' || i, i % 10 FROM {series_owners};
INSERT INTO items SELECT i, 1 + i % 2000, 'k' || (i % 50), i % 997 FROM {series_items};
"""
SERIES = {
    "postgres": ("generate_series(1, 2000) AS s(i)", "generate_series(1, 20000) AS s(i)"),
    "duckdb": ("range(1, 2001) AS s(i)", "range(1, 20001) AS s(i)"),
}
JOIN = "SELECT o.name, count(*) FROM owners o JOIN items i ON i.owner_id = o.id GROUP BY o.name"
JOIN_OPS = {"Hash Join", "Merge Join", "Nested Loop"}


def _load(db) -> None:  # noqa: ANN001
    """Create and fill the fixture tables on one engine."""
    owners, items = SERIES[db.name]
    for statement in FIXTURE.format(series_owners=owners, series_items=items).split(";"):
        if statement.strip():
            db.execute(statement)
    if db.name == "postgres":
        db.execute("ANALYZE owners")
        db.execute("ANALYZE items")


@pytest.fixture(scope="module")
def pg():
    """A PostgreSQL schema of its own with the fixture tables."""
    db = connect("postgres")
    _load(db)
    yield db
    db.close()


@pytest.fixture(scope="module")
def duck():
    """An in-memory DuckDB database with the fixture tables."""
    db = connect("duckdb")
    _load(db)
    yield db
    db.close()


@pytest.fixture(params=["postgres", "duckdb"])
def db(request, pg, duck):  # noqa: ANN001
    """Each engine in turn."""
    return pg if request.param == "postgres" else duck


def _strip_runtime(text: str) -> str:
    """An outline without its estimate bands, to look for any other number."""
    return re.sub(r"~\d+[kMG]?", "", text)


# --------------------------------------------------------------------------- PostgreSQL


def test_postgres_point_lookup_is_an_index_scan_on_the_named_index(pg) -> None:
    plan = plans.explain(pg, "SELECT * FROM items WHERE id = ?", [42])
    assert plan.engine == "postgres" and plan.analysed
    (scan,) = plan.scans_of("items")
    assert (scan.op, scan.index, scan.relation) == ("Index Scan", "pk_items", "items")
    assert plan.uses_index("pk_items") and not plan.uses_index("ix_items_kind")
    assert scan.actual_rows == 1 and scan.loops == 1 and scan.estimated_rows == 1
    assert (scan.detail or "").startswith("(id = ") and "42" in (scan.detail or "")
    assert plan.total_buffers() is not None and plan.total_buffers() >= 1
    assert plan.execution_ms is not None and plan.planning_ms is not None


def test_postgres_bitmap_scan_names_table_and_index(pg) -> None:
    pg.execute("SET enable_indexscan = off")
    try:
        plan = plans.explain(pg, "SELECT * FROM items WHERE kind = ?", ["k7"])
    finally:
        pg.execute("RESET enable_indexscan")
    heap = [n for n in plan.nodes() if n.op == "Bitmap Heap Scan"]
    bitmap = [n for n in plan.nodes() if n.op == "Bitmap Index Scan"]
    assert heap and bitmap
    assert bitmap[0].index == "ix_items_kind" and bitmap[0].relation == "items"
    assert plan.scans_of("items") == heap  # the bitmap index scan reads the index, not the table
    assert heap[0].access() == "Bitmap Heap Scan using ix_items_kind"
    assert plans.summary(plan)["scans"] == {"items": ["Bitmap Heap Scan using ix_items_kind"]}


def test_postgres_parallel_plan_counts_rows_over_all_processes(pg) -> None:
    settings = ("parallel_setup_cost", "parallel_tuple_cost", "min_parallel_table_scan_size")
    for setting in settings:
        pg.execute(f"SET {setting} = 0")
    try:
        plan = plans.explain(pg, "SELECT count(*) FROM items WHERE score >= 0")
    finally:
        for setting in settings:
            pg.execute(f"RESET {setting}")
    gather = [n for n in plan.nodes() if n.op == "Gather"]
    (scan,) = plan.scans_of("items")
    assert gather and gather[0].workers is not None
    assert scan.parallel and scan.label.startswith("Parallel ") and scan.op in ("Seq Scan", "Index Only Scan")
    assert scan.actual_rows == pytest.approx(20000, rel=1e-3)  # per-loop average times the processes
    assert {n.label for n in plan.nodes()} >= {"Finalize Aggregate", "Partial Aggregate"}
    assert all(n.self_time_ms is not None and n.self_time_ms >= 0 for n in plan.nodes())


def test_postgres_outline_is_the_same_plan_with_or_without_analyze(pg) -> None:
    analysed = plans.explain(pg, JOIN)
    estimated = plans.explain(pg, JOIN, analyze=False)
    assert not estimated.analysed and estimated.root.actual_rows is None and estimated.root.time_ms is None
    assert plans.outline(analysed) == plans.outline(estimated)
    assert pg.schema and pg.schema not in plans.outline(analysed)


def test_postgres_subplans_and_ctes_parse(pg) -> None:
    sql = (
        "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 3) "
        "SELECT o.name, (SELECT max(score) FROM items i WHERE i.owner_id = o.id) FROM owners o "
        "WHERE o.id IN (SELECT n FROM r)"
    )
    plan = plans.explain(pg, sql)
    ops = {n.op for n in plan.nodes()}
    assert {"Recursive Union", "WorkTable Scan", "CTE Scan"} <= ops
    assert any((n.subplan or "").startswith("SubPlan") for n in plan.nodes())
    assert "CTE Scan on r" in plans.outline(plan)


# --------------------------------------------------------------------------- DuckDB


def test_duckdb_point_lookup_is_an_index_scan(duck) -> None:
    plan = plans.explain(duck, "SELECT * FROM items WHERE owner_id = ?", [42])
    assert plan.engine == "duckdb" and plan.analysed
    (scan,) = plan.scans_of("items")
    assert scan.op == "Index Scan" and scan.raw_op == "TABLE_SCAN"
    # DuckDB's profile does not name the index: explain() names it from the catalog, saying so.
    assert scan.index == "ix_items_owner_id" and scan.index_inferred
    assert scan.actual_rows == 10 and scan.rows_scanned == 10
    assert plan.root.op not in ("EXPLAIN_ANALYZE", "QUERY")  # the profiling wrappers are skipped
    assert plan.total_buffers() is None and plan.planning_ms is None and plan.execution_ms is not None


def test_duckdb_index_scans_show_only_when_analysing(duck) -> None:
    estimated = plans.explain(duck, "SELECT * FROM items WHERE owner_id = 42", analyze=False)
    assert not estimated.analysed and [n.op for n in estimated.scans_of("items")] == ["Seq Scan"]
    assert estimated.root.actual_rows is None and estimated.root.self_time_ms is None


def test_duckdb_operators_are_mapped(duck) -> None:
    plan = plans.explain(duck, JOIN + " ORDER BY 2 DESC, 1 LIMIT 5")
    ops = {n.op for n in plan.nodes()}
    raw = {n.raw_op for n in plan.nodes()}
    assert "Hash Join" in ops and "Aggregate" in ops and "Sort" in ops
    assert {"HASH_JOIN", "HASH_GROUP_BY", "TOP_N"} <= raw
    top = next(n for n in plan.nodes() if n.raw_op == "TOP_N")
    assert top.label == "Top-N" and "top 5" in (top.detail or "")
    assert all(n.time_ms is not None and n.time_ms >= (n.self_time_ms or 0) for n in plan.nodes())


# --------------------------------------------------------------------------- both engines


def test_join_shows_both_relations(db) -> None:  # noqa: ANN001
    plan = plans.explain(db, JOIN)
    assert {"owners", "items"} <= set(plan.relations())
    assert plan.scans_of("owners") and plan.scans_of("items")
    assert JOIN_OPS & {n.op for n in plan.nodes()}
    summary = plans.summary(plan)
    assert json.loads(json.dumps(summary)) == summary
    assert set(summary["scans"]) == {"owners", "items"} and summary["ops"]


def test_outline_is_stable_and_holds_no_runtime_numbers(db) -> None:  # noqa: ANN001
    sql = JOIN + " ORDER BY o.name LIMIT 10"
    first, second = plans.explain(db, sql), plans.explain(db, sql)
    text = plans.outline(first)
    assert text == plans.outline(second)
    assert "owners" in text and "items" in text
    assert " ms" not in text and "buffers" not in text.lower()
    # Nothing the run measured is in it: changing every measured number leaves the outline as it was.
    for node in first.nodes():
        node.actual_rows, node.time_ms, node.self_time_ms, node.buffers = 123456.0, 98.7, 65.4, 321
        node.rows_scanned, node.loops = 777, 3
    assert plans.outline(first) == text
    if db.name == "postgres":
        assert not re.search(r"\d", _strip_runtime(text)), text


def test_graph_renders_to_svg(db) -> None:  # noqa: ANN001
    plan = plans.explain(db, JOIN)
    svg = plans.graph(plan).pipe(format="svg").decode("utf-8")
    assert "<svg" in svg and "items" in svg and "% of the time" in svg
    if db.name == "postgres":
        assert "buffers" in svg


def test_rollback_leaves_writes_undone(db) -> None:  # noqa: ANN001
    before = db.scalar("SELECT count(*) FROM owners")
    plan = plans.explain(db, "INSERT INTO owners VALUES (?, ?, ?)", [99999, "temp", 1], rollback=True)
    assert plan.root.op == "Insert" and db.scalar("SELECT count(*) FROM owners") == before
    # DuckDB 1.5 keeps no profile of an INSERT ... VALUES: the estimated plan comes back, with a note.
    assert plan.analysed == (db.name == "postgres") and bool(plan.notes) == (db.name == "duckdb")
    plan = plans.explain(
        db, "INSERT INTO owners SELECT id + 5000, name, grp FROM owners WHERE id < 3", rollback=True
    )
    assert plan.analysed and plan.root.op == "Insert" and db.scalar("SELECT count(*) FROM owners") == before
    plan = plans.explain(db, "UPDATE items SET score = score + 1 WHERE id = ?", [7], rollback=True)
    assert plan.root.op == "Update" and db.scalar("SELECT score FROM items WHERE id = 7") == 7


def test_side_by_side_is_a_markdown_table(db) -> None:  # noqa: ANN001
    seek = plans.explain(db, "SELECT * FROM items WHERE owner_id = ?", [42])
    scan = plans.explain(db, "SELECT * FROM items WHERE score = ?", [5])
    table = plans.side_by_side(scan, seek)
    lines = table.splitlines()
    assert lines[0] == "| seed | corrected |" and lines[1] == "|---|---|"
    assert len(lines) == 2 + max(len(plans.outline_lines(p)) for p in (scan, seek))
    assert "Seq Scan on items" in table and "Index Scan" in table
    assert all(line.count(" | ") >= 1 for line in lines[2:])
    assert table == plans.side_by_side(scan, seek)


# --------------------------------------------------------------------------- saved JSON and helpers


def test_unknown_postgres_node_type_parses() -> None:
    saved = json.dumps(
        [
            {
                "Plan": {
                    "Node Type": "Quantum Scan",
                    "Plan Rows": 40,
                    "Actual Rows": 3.0,
                    "Actual Loops": 1,
                    "Actual Total Time": 0.5,
                    "Strange Field": {"nested": [1, 2]},
                    "Plans": [
                        {
                            "Node Type": "Seq Scan",
                            "Parent Relationship": "Outer",
                            "Relation Name": "widgets",
                            "Alias": "w",
                            "Plan Rows": 1000,
                            "Actual Rows": 1000.0,
                            "Actual Loops": 1,
                            "Actual Total Time": 0.25,
                        }
                    ],
                },
                "Planning Time": 0.1,
                "Execution Time": 0.6,
            }
        ]
    )
    plan = plans.parse_postgres(saved)
    assert (plan.root.op, plan.root.raw_op) == ("Quantum Scan", "Quantum Scan")
    assert plan.root.children[0].relation == "widgets" and plan.root.children[0].alias == "w"
    assert plan.root.self_time_ms == pytest.approx(0.25)
    assert plans.outline(plan) == "Quantum Scan  (~100 rows)\n└─ Seq Scan on widgets w  (~1k rows)\n"
    assert "<svg" in plans.graph(plan).pipe(format="svg").decode("utf-8")
    assert plans.summary(plan)["ops"] == {"Quantum Scan": 1, "Seq Scan": 1}


def test_unknown_duckdb_operator_parses() -> None:
    saved = json.dumps(
        {
            "latency": 0.002,
            "children": [
                {
                    "operator_type": "EXPLAIN_ANALYZE",
                    "operator_timing": 0.0,
                    "operator_cardinality": 0,
                    "children": [
                        {
                            "operator_type": "FANCY_NEW_OPERATOR",
                            "operator_timing": 0.001,
                            "operator_cardinality": 5,
                            "extra_info": {"Estimated Cardinality": "5", "Whatever": ["a", "b"]},
                            "children": [
                                {
                                    "operator_type": "TABLE_SCAN",
                                    "operator_name": "SEQ_SCAN",
                                    "operator_timing": 0.0005,
                                    "operator_cardinality": 5,
                                    "operator_rows_scanned": 900,
                                    "extra_info": {
                                        "Table": "some_db.some_schema.widgets",
                                        "Type": "Sequential Scan",
                                        "Estimated Cardinality": "900",
                                    },
                                    "children": [],
                                }
                            ],
                        }
                    ],
                }
            ],
        }
    )
    plan = plans.parse_duckdb(saved)
    assert plan.root.op == "FANCY_NEW_OPERATOR" and plan.root.estimated_rows == 5
    (scan,) = plan.scans_of("widgets")
    assert scan.op == "Seq Scan" and scan.rows_scanned == 900
    assert plan.root.time_ms == pytest.approx(1.5) and plan.root.self_time_ms == pytest.approx(1.0)
    assert plan.execution_ms == pytest.approx(2.0)
    assert plans.outline(plan) == "FANCY_NEW_OPERATOR  (~10 rows)\n└─ Seq Scan on widgets  (~1k rows)\n"
    assert "<svg" in plans.graph(plan).pipe(format="svg").decode("utf-8")


def _node(est: float | None, actual: float | None, loops: int | None = 1, **kw) -> PlanNode:  # noqa: ANN003
    return PlanNode(op="Seq Scan", raw_op="Seq Scan", label="Seq Scan", estimated_rows=est,
                    actual_rows=actual, loops=loops, **kw)  # fmt: skip


def test_estimate_error_has_a_floor_and_skips_what_did_not_run() -> None:
    assert _node(1, 3).estimate_error() == 1.0  # both under the floor of 10 rows
    assert _node(10, 1000).estimate_error() == pytest.approx(100.0)
    assert _node(5000, 50).estimate_error() == pytest.approx(100.0)
    assert _node(1, 3).estimate_error(floor=1) == pytest.approx(3.0)
    assert _node(100, 400, loops=4).estimate_error() == pytest.approx(1.0)  # estimates are per loop
    assert _node(100, None, loops=None).estimate_error() is None  # not analysed
    assert _node(100, 0, loops=0).estimate_error() is None  # never executed
    assert _node(None, 10).estimate_error() is None
    root = _node(10, 10, children=[_node(100, 2000), _node(10, 100_000, truncated=True)])
    plan = Plan(engine="postgres", root=root, analysed=True)
    assert plan.max_estimate_error() == pytest.approx(20.0)  # the truncated node is left out
    assert plan.estimate_errors()[0][1] is root.children[0]
    assert Plan(engine="postgres", root=_node(5, None, loops=None)).max_estimate_error() == 1.0


def test_graph_highlights_large_estimate_errors() -> None:
    plan = Plan(engine="postgres", root=_node(10, 5000, time_ms=2.0, self_time_ms=2.0), analysed=True)
    source = plans.graph(plan).source
    assert "500× off" in source and "#c00000" in source and "100% of the time" in source


def test_limit_marks_streaming_children_truncated() -> None:
    saved = {
        "Plan": {
            "Node Type": "Limit",
            "Plan Rows": 10,
            "Actual Rows": 10.0,
            "Actual Loops": 1,
            "Plans": [
                {
                    "Node Type": "Sort",
                    "Plan Rows": 50000,
                    "Actual Rows": 10.0,
                    "Actual Loops": 1,
                    "Plans": [{"Node Type": "Seq Scan", "Relation Name": "t", "Plan Rows": 50000,
                               "Actual Rows": 50000.0, "Actual Loops": 1}],
                }
            ],
        }
    }  # fmt: skip
    plan = plans.parse_postgres(saved)
    limit, sort, scan = plan.nodes()
    assert (limit.truncated, sort.truncated, scan.truncated) == (False, True, False)
    assert plan.max_estimate_error() == 1.0


def test_band_rounds_to_powers_of_ten() -> None:
    cases = {None: "?", 0: "~0", 1: "~1", 3: "~1", 4: "~10", 31: "~10", 32: "~100", 999: "~1k",
             12_000: "~10k", 400_000: "~1M", 2.5e9: "~1G"}  # fmt: skip
    assert {k: plans.band(k) for k in cases} == cases
