"""Scale curves: a point for every read pattern, case and engine; deterministic work; slopes, flips, plots;
and the bench's bad-input pass. No timing is asserted: this is a shared machine."""

from __future__ import annotations

import math

import pytest

from workbook import bench_queries, scale, scale_plots
from workbook.design.access import PATTERNS
from workbook.errors import WorkbookError

SFS = (0.002, 0.01)
READS = [p for p in PATTERNS if not p.write]


@pytest.fixture(scope="module")
def measured():
    return scale.curves(PATTERNS, sfs=SFS, runs=2)


def test_a_point_for_every_read_pattern_case_and_engine(measured):
    expected = {(p.name, c.name, e, sf) for p in READS for c in p.cases for e in scale.ENGINES for sf in SFS}
    got = {(*pt.key, pt.sf) for pt in measured.points}
    assert got == expected
    for pt in measured.points:
        assert pt.median_ms is not None and pt.median_ms > 0
        assert pt.work is not None and pt.signature
        if pt.engine == "postgres":
            assert pt.dropped and pt.no_index_ms is not None and pt.work_no_index is not None
        else:  # DuckDB's plans read none of the supporting indexes: said so, not measured twice
            assert pt.no_index_ms is None and pt.no_index_note.startswith("not measured:")


def test_work_is_deterministic_within_a_call_and_on_a_second_call(measured):
    assert all(pt.deterministic for pt in measured.points)
    again = scale.curves(PATTERNS, sfs=SFS, runs=1)
    first = {(*p.key, p.sf): (p.work, p.work_no_index, p.signature) for p in measured.points}
    second = {(*p.key, p.sf): (p.work, p.work_no_index, p.signature) for p in again.points}
    assert first == second
    assert scale.curves_markdown(again) == scale.curves_markdown(measured)


def test_the_markdown_shows_every_case_and_no_timing(measured):
    text = scale.curves_markdown(measured)
    for p in READS:
        for c in p.cases:
            assert f"| `{p.name}` | {c.name} |" in text
    assert " ms" not in text and "latency" not in text


def _hand_built(points: dict[float, tuple[int, tuple[str, ...]]]) -> scale.Curves:
    pts = [
        scale.Point("q", "a case", "postgres", sf, 20, 1.0, work, work, sig, no_index_ms=2.0)
        for sf, (work, sig) in points.items()
    ]
    return scale.Curves(pts, tuple(sorted(points)))


def test_slope_of_synthetic_points():
    c = _hand_built({sf: (round(1000 * sf**0.5), ("t: Seq Scan",)) for sf in (0.01, 0.1, 1, 10)})
    assert math.isclose(c.slope("q", "a case", "postgres"), 0.5, abs_tol=1e-3)
    flat = _hand_built({sf: (7, ("t: Seq Scan",)) for sf in (0.01, 1)})
    assert flat.slope("q", "a case", "postgres") == 0.0
    assert scale.fmt_slope(-0.01) == "0.0" and scale.fmt_slope(0.96) == "1.0"
    assert scale.fit_slope([(1, 5)]) is None
    with pytest.raises(WorkbookError, match="measure 'bogus': unknown"):
        c.slope("q", "a case", "postgres", "bogus")


def test_flips_reports_a_planted_flip():
    seq, idx = ("t: Seq Scan",), ("t: Index Scan using ix_t",)
    c = _hand_built({0.01: (3, seq), 0.1: (9, seq), 1: (12, idx)})
    (flip,) = c.flips()
    assert (flip.pattern, flip.case, flip.engine, flip.sf) == ("q", "a case", "postgres", 1)
    assert (flip.before, flip.after) == (seq, idx)
    assert flip.describe() == "at SF 1: t: Seq Scan → t: Index Scan using ix_t"
    assert "at SF 1: t: Seq Scan → t: Index Scan using ix_t" in scale.curves_markdown(c)


def test_a_measure_that_varied_is_left_out_and_said_so():
    c = _hand_built({0.01: (3, ("t: Seq Scan",)), 1: (12, ("t: Seq Scan",))})
    c.points[1].work_repeat = 13
    assert c.deterministic("q", "a case", "postgres") == (False, "12 then 13 on the same data at SF 1")
    text = scale.curves_markdown(c)
    assert "| `q` | a case | — | — | — |" in text and "12 then 13 on the same data at SF 1" in text


def test_plots_render_the_same_svg_bytes_twice(measured):
    for c in (measured, _hand_built({0.01: (3, ("a",)), 1: (12, ("b",))})):
        work = scale_plots.plot_work(c).data
        assert work == scale_plots.plot_work(c).data and work.lstrip().startswith("<?xml")
        latency = scale_plots.plot_latency(c).data
        assert latency == scale_plots.plot_latency(c).data and "<svg" in latency


def test_bad_search_input_raises_nothing_on_either_engine(tmp_path):
    search = next(p for p in PATTERNS if p.name == bench_queries.SEARCH)
    with scale.loaded(0.002, 42, tmp_path) as work:
        rows = bench_queries.bad_inputs(work.engines, search)
    assert len(rows) == len(bench_queries.BAD_INPUTS)
    for row in rows:
        for engine in scale.ENGINES:
            assert row[engine]["error"] is None, (row["input"], engine)
            assert 0 <= row[engine]["rows"] <= 20
    assert {r["input"] for r in rows} >= {"'x' * 10000", "'nul\\x00byte'", '"o\'brien"'}


def test_curves_refuse_bad_arguments_in_one_line():
    with pytest.raises(WorkbookError, match="runs=0"):
        scale.curves(PATTERNS, sfs=SFS, runs=0)
    with pytest.raises(WorkbookError, match="engines sqlite"):
        scale.curves(PATTERNS, sfs=SFS, runs=1, engines=("sqlite",))


def test_bench_queries_prints_one_json_object_at_a_tiny_sf(capsys, monkeypatch):
    import json

    monkeypatch.delenv(bench_queries.SF10_ENV, raising=False)
    assert bench_queries.main(["--sf", "0.002", "--runs", "2"]) == 0
    report = json.loads(capsys.readouterr().out)
    run = report["sf0.002"]
    for engine in scale.ENGINES:
        for p in READS:
            for c in p.cases:
                got = run["latency"][engine][p.name][c.name]
                assert got["runs"] == 2 and got["p50_ms"] <= got["p95_ms"]
    for name in ("user_projects", "popular_templates", "search_templates"):
        for case in run["latency"]["postgres"][name].values():
            assert "seed_over_corrected" in case and case["seed_without_supporting_index"]["dropped"]
    assert run["latency"]["duckdb"]["search_templates"]["rare word"]["seed"] == {
        "error": "not runnable on duckdb"
    }
    assert report["bad_input_raised_nothing"] and report["sf10"]["skipped"].startswith("not asked for")
    assert report["targets"] == "judged at SF 1 only; this run is SF 0.002"


def test_targets_are_judged_from_the_report():
    fake = {"latency": {"postgres": {"user_projects": {"median owner": {"p50_ms": 0.5}}}}}
    rows = {r["target"]: r for r in bench_queries.judge(fake)}
    assert rows["user_projects first page p50, median owner"]["met"] is True
    assert rows["user_projects first page p50, heaviest owner"]["met"] is None  # not measured
    assert bench_queries.Target("x", "p", "c", "seed_over_corrected", 20, False).judge(19.9) is False
