"""Scale curves: how each read pattern's work, latency and plan change from one scale factor to the next.

`curves(patterns)` generates the design's data at each scale factor, loads a fresh migrated
PostgreSQL schema and a fresh DuckDB database, prepares them as the Access Patterns section does,
and measures every read pattern's cases on each engine: the median latency of the corrected
query's first page, the same without the pattern's supporting index (dropped in a transaction that
is rolled back), a deterministic measure of the work the plan did (PostgreSQL: shared buffers hit +
read; DuckDB: rows scanned), and the plan's access signature, so a plan that changes between scale
factors is reported. The document shows only the deterministic numbers (`curves_markdown`,
`scale_plots.plot_work`); timings stay in JupyterLab and `make bench-queries`. This module is
machinery: it names none of the design's tables.
"""

from __future__ import annotations

import gc
import math
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from . import access, access_report, migrate, plans, synth
from .engines import Engine, connect
from .errors import WorkbookError, first_line
from .tables import md_table

ENGINES = ("postgres", "duckdb")
LABEL = {"postgres": "PostgreSQL", "duckdb": "DuckDB"}
# What the deterministic work measure counts on each engine.
WORK = {
    "postgres": "shared buffers hit + read (EXPLAIN (ANALYZE, BUFFERS), the root's inclusive count)",
    "duckdb": "rows scanned (the sum of operator_rows_scanned over the plan's operators)",
}
MEASURES = ("work", "work_no_index", "median_ms", "no_index_ms")

Progress = Callable[[str], None]


def stderr(message: str) -> None:
    """A progress callback that prints each step to stderr."""
    print(message, file=sys.stderr, flush=True)


# -- the data ------------------------------------------------------------------------------------


@dataclass
class Point:
    """One read pattern's case on one engine at one scale factor."""

    pattern: str
    case: str
    engine: str
    sf: float
    rows: int  # rows of the corrected query's first page
    median_ms: float | None  # median latency of the first page (access.run), over `runs`
    work: int | None  # the deterministic work measure of the plan (see WORK)
    work_repeat: int | None  # the same measure from a second EXPLAIN ANALYZE on the same data
    signature: tuple[str, ...]  # "relation: how it is read" for every scan of the plan, sorted
    no_index_ms: float | None = None  # median latency with the supporting index dropped (rolled back)
    work_no_index: int | None = None
    work_no_index_repeat: int | None = None
    signature_no_index: tuple[str, ...] | None = None
    dropped: tuple[str, ...] = ()  # the supporting indexes dropped for the *_no_index measures
    no_index_note: str = ""  # why there is no measure without the index, when there is none
    values: dict[str, object] = field(default_factory=dict)  # the case's parameter values at this SF

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.pattern, self.case, self.engine)

    @property
    def deterministic(self) -> bool:
        """True when two EXPLAIN ANALYZE runs on the same data measured the same work."""
        return self.work is not None and self.work == self.work_repeat

    @property
    def deterministic_no_index(self) -> bool:
        return self.work_no_index is not None and self.work_no_index == self.work_no_index_repeat


@dataclass(frozen=True)
class Flip:
    """A plan that reads its relations differently at `sf` than at the scale factor before it."""

    pattern: str
    case: str
    engine: str
    sf: float
    before: tuple[str, ...]
    after: tuple[str, ...]

    def describe(self) -> str:
        """What changed: the scans only one of the two plans has, before → after."""
        gone = [s for s in self.before if s not in self.after]
        new = [s for s in self.after if s not in self.before]
        return f"at SF {_sf(self.sf)}: {'; '.join(gone) or 'nothing'} → {'; '.join(new) or 'nothing'}"


@dataclass
class Curves:
    """Every point of every read pattern's case on every engine, at every scale factor measured."""

    points: list[Point]
    sfs: tuple[float, ...]
    seed: int = 42
    runs: int = 15
    seconds: dict[str, float] = field(default_factory=dict)  # where the time went (not for the document)

    def keys(self) -> list[tuple[str, str, str]]:
        """(pattern, case, engine) in the order first measured."""
        return list(dict.fromkeys(p.key for p in self.points))

    def series(self, pattern: str, case: str, engine: str) -> list[Point]:
        """The points of one pattern's case on one engine, by scale factor."""
        return sorted((p for p in self.points if p.key == (pattern, case, engine)), key=lambda p: p.sf)

    def values(
        self, pattern: str, case: str, engine: str, measure: str = "work"
    ) -> list[tuple[float, float]]:
        """(SF, value) of one measure, leaving out the scale factors where it is missing."""
        if measure not in MEASURES:
            raise WorkbookError(f"measure {measure!r}: unknown (choose from {', '.join(MEASURES)})")
        return [
            (p.sf, v) for p in self.series(pattern, case, engine) if (v := getattr(p, measure)) is not None
        ]

    def slope(self, pattern: str, case: str, engine: str, measure: str = "work") -> float | None:
        """The growth exponent: least-squares slope of log(measure) on log(SF); None under two points."""
        return fit_slope(self.values(pattern, case, engine, measure))

    def deterministic(self, pattern: str, case: str, engine: str, measure: str = "work") -> tuple[bool, str]:
        """Whether a work measure was the same on two runs at every SF, and if not, where it was not."""
        attr = {"work": "work_repeat", "work_no_index": "work_no_index_repeat"}.get(measure)
        if attr is None:
            raise WorkbookError(
                f"measure {measure!r}: only work and work_no_index are checked for determinism"
            )
        for p in self.series(pattern, case, engine):
            a, b = getattr(p, measure), getattr(p, attr)
            if a != b:
                return False, f"{a:,} then {b:,} on the same data at SF {_sf(p.sf)}"
        return True, ""

    def flips(self) -> list[Flip]:
        """Every change of a plan's access signature from one scale factor to the next."""
        out = []
        for key in self.keys():
            pts = self.series(*key)
            for a, b in zip(pts, pts[1:], strict=False):
                if a.signature != b.signature:
                    out.append(Flip(*key, b.sf, a.signature, b.signature))
        return out


def fit_slope(points: Sequence[tuple[float, float]]) -> float | None:
    """Least-squares slope of log(y) on log(x) over the points with x, y > 0 (None under two SFs)."""
    pts = [(math.log(x), math.log(y)) for x, y in points if x > 0 and y > 0]
    if len({x for x, _ in pts}) < 2:
        return None
    mx = sum(x for x, _ in pts) / len(pts)
    my = sum(y for _, y in pts) / len(pts)
    return sum((x - mx) * (y - my) for x, y in pts) / sum((x - mx) ** 2 for x, _ in pts)


def _sf(sf: float) -> str:
    return f"{sf:g}"


# -- loading ---------------------------------------------------------------------------------------


@contextmanager
def loaded(
    sf: float,
    seed: int,
    root: Path,
    engines: Sequence[str] = ENGINES,
    *,
    spec=None,  # noqa: ANN001 - a synth DataSpec; None is the design's
    prepare: dict[str, list[str]] | None = None,
    duckdb_file: Path | None = None,
    progress: Progress | None = None,
    timings: dict[str, float] | None = None,
    statistics_target: int = access_report.STATISTICS_TARGET,
) -> Iterator[access_report.Workload]:
    """Generate SF `sf` into `root`, load fresh migrated engines and prepare them; closes all on exit."""
    if spec is None:
        from .design.synthetic import SPEC as spec
    if prepare is None:
        from .design.access import PREPARE as prepare
    unknown = [e for e in engines if e not in ENGINES]
    if unknown or not engines:
        raise WorkbookError(f"engines {', '.join(unknown) or '(none)'}: choose from {', '.join(ENGINES)}")
    say = progress or (lambda _m: None)
    timings = {} if timings is None else timings
    folder = Path(root) / f"sf{_sf(sf)}-seed{seed}"
    opened: dict[str, Engine] = {}
    work = None
    try:
        clock = time.perf_counter()
        say(f"SF {_sf(sf)}: generating the data")
        synth.generate(sf, seed, folder, spec=spec)
        timings["generate"] = time.perf_counter() - clock
        for name in engines:
            clock = time.perf_counter()
            say(f"SF {_sf(sf)}: loading {LABEL[name]}")
            db = connect(name, duckdb_file) if name == "duckdb" and duckdb_file else connect(name)
            opened[name] = db
            migrate.migrate(db)
            load = synth.load_postgres if name == "postgres" else synth.load_duckdb
            load(db, folder, tables=spec.tables)
            timings[f"load_{name}"] = time.perf_counter() - clock
        clock = time.perf_counter()
        say(f"SF {_sf(sf)}: statistics and preparation")
        work = access_report.workload(opened, folder, spec.tables, prepare, statistics_target)
        timings["prepare"] = time.perf_counter() - clock
        yield work
    finally:
        if work is not None:
            work.oracle.close()
        for db in opened.values():
            db.close()
        if duckdb_file is not None:
            for f in Path(duckdb_file).parent.glob(Path(duckdb_file).name + "*"):
                f.unlink()
        shutil.rmtree(folder, ignore_errors=True)
        gc.collect()


# -- measuring -------------------------------------------------------------------------------------


def work_of(plan: plans.Plan) -> int | None:
    """The plan's deterministic work measure: PostgreSQL's shared buffers, DuckDB's rows scanned."""
    if plan.engine == "postgres":
        return plan.total_buffers()
    scanned = [n.rows_scanned for n in plan.nodes() if n.rows_scanned is not None]
    return sum(scanned) if scanned else None


def signature(plan: plans.Plan) -> tuple[str, ...]:
    """How the plan reads each relation ("relation: Index Scan using ix"), sorted: a flip changes it."""
    return tuple(sorted({f"{rel}: {n.access()}" for rel in plan.relations() for n in plan.scans_of(rel)}))


def median_ms(db: Engine, p: access.Pattern, values: dict[str, object], runs: int) -> float:
    """Median milliseconds of `access.run` (the first page) over `runs` executions, after a warm-up."""
    access.run(db, p, values)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        access.run(db, p, values)
        times.append((time.perf_counter() - start) * 1000.0)
    return statistics.median(times)


def supporting_indexes(p: access.Pattern) -> tuple[str, ...]:
    """The indexes the pattern's UsesIndex claims name, in claim order."""
    return tuple(dict.fromkeys(c.index for c in p.claims if isinstance(c, access.UsesIndex)))


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def drop_statement(db: Engine, index: str) -> str | None:
    """The statement that drops `index` on `db` (its constraint, when a constraint owns it); None if absent."""
    if db.name == "postgres":
        owner = db.scalar(
            "SELECT c.conrelid::regclass::text FROM pg_constraint AS c JOIN pg_namespace AS n "
            "ON n.oid = c.connamespace WHERE c.conname = ? AND c.contype IN ('p', 'u', 'x') "
            "AND n.nspname = current_schema()",
            [index],
        )
        if owner is not None:
            return f"ALTER TABLE {owner} DROP CONSTRAINT {_quote(index)} CASCADE"
        exists = db.scalar(
            "SELECT count(*) FROM pg_indexes WHERE indexname = ? AND schemaname = current_schema()", [index]
        )
        return f"DROP INDEX {_quote(index)}" if exists else None
    if db.scalar(
        "SELECT count(*) FROM duckdb_indexes() WHERE index_name = ? AND schema_name = current_schema()",
        [index],
    ):
        return f"DROP INDEX {_quote(index)}"
    return None


def absent_reason(index: str, engine: str, pg: Engine | None) -> str:
    """Why `engine` has no index `index`, from PostgreSQL's catalog when a PostgreSQL engine is at hand."""
    if pg is not None and pg.scalar(
        "SELECT count(*) FROM pg_constraint AS c JOIN pg_namespace AS n ON n.oid = c.connamespace "
        "WHERE c.conname = ? AND c.contype IN ('p', 'u', 'x') AND n.nspname = current_schema()",
        [index],
    ):
        return f"{index} is a constraint, which {LABEL[engine]} keeps under a name of its own and cannot drop"
    return f"{index} is not created on {LABEL[engine]} (the dialect adapter skips it)"


def _explain_twice(db: Engine, text: str, params: list) -> tuple[plans.Plan, int | None, int | None]:
    first = plans.explain(db, text, params)
    second = plans.explain(db, text, params)
    return first, work_of(first), work_of(second)


def measure_case(
    db: Engine,
    p: access.Pattern,
    case: access.Case,
    values: dict[str, object],
    sf: float,
    runs: int,
    peer: Engine | None = None,
) -> Point:
    """One case of a read pattern on one engine: latency, work and signature, with and without its index."""
    checked = {q.name: access.check_value(p.name, q, values.get(q.name)) for q in p.params}
    text, params = access.bind(p.query.on(db.name), checked)
    rows = len(access.run(db, p, values).rows)
    ms = median_ms(db, p, values, runs)
    plan, work, again = _explain_twice(db, text, params)
    point = Point(p.name, case.name, db.name, sf, rows, ms, work, again, signature(plan), values=dict(values))
    indexes = supporting_indexes(p)
    if not indexes:
        point.no_index_note = "the pattern claims no supporting index"
        return point
    drops = {ix: drop_statement(db, ix) for ix in indexes}
    if db.name != "postgres":
        present = [ix for ix, stmt in drops.items() if stmt is not None]
        if not any(plan.uses_index(ix) for ix in present):
            parts = [absent_reason(ix, db.name, peer) for ix, stmt in drops.items() if stmt is None]
            parts += [f"{ix} exists but its plan does not read it" for ix in present]
            point.no_index_note = f"not measured: {'; '.join(parts)}: without it the plan is the same"
            return point
    statements = [s for s in drops.values() if s is not None]
    db.execute("BEGIN")
    try:
        for stmt in statements:
            db.execute(stmt)
        point.dropped = tuple(ix for ix, s in drops.items() if s is not None)
        point.no_index_ms = median_ms(db, p, values, runs)
        bare, point.work_no_index, point.work_no_index_repeat = _explain_twice(db, text, params)
        point.signature_no_index = signature(bare)
    except Exception as exc:  # an engine that cannot drop it: say so instead of a number
        point.no_index_note = f"not measured: {first_line(exc)}"
    finally:
        db.execute("ROLLBACK")
    return point


def curves(
    patterns: Sequence[access.Pattern],
    sfs: Sequence[float] = (0.01, 0.1, 1),
    seed: int = 42,
    runs: int = 15,
    engines: Sequence[str] = ENGINES,
    progress: Progress | None = None,
    *,
    spec=None,  # noqa: ANN001 - a synth DataSpec; None is the design's
    prepare: dict[str, list[str]] | None = None,
) -> Curves:
    """Every read pattern's cases on every engine at each scale factor: latency, work, plan (see module)."""
    sfs = tuple(sorted({synth.parse_sf(s) for s in sfs}))
    seed = synth.parse_seed(seed)
    if isinstance(runs, bool) or not isinstance(runs, int) or runs < 1:
        raise WorkbookError(f"runs={runs!r}: give a whole number of runs of at least 1")
    unknown = [e for e in engines if e not in ENGINES]
    if unknown or not engines:
        raise WorkbookError(f"engines {', '.join(unknown) or '(none)'}: choose from {', '.join(ENGINES)}")
    reads = [p for p in patterns if not p.write]
    access.validate(reads)
    say = progress or (lambda _m: None)
    out = Curves([], sfs, seed, runs)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="workbook-scale-") as tmp:
        for sf in sfs:
            timings: dict[str, float] = {}
            with loaded(
                sf, seed, Path(tmp), engines, spec=spec, prepare=prepare, progress=progress, timings=timings
            ) as work:
                clock = time.perf_counter()
                for p in reads:
                    say(f"SF {_sf(sf)}: {p.name}")
                    for case in p.cases:
                        values = access.resolve(case, work.oracle)
                        for name, db in work.engines.items():
                            if p.query.on(name) is not None:
                                peer = work.engines.get("postgres") if name != "postgres" else None
                                out.points.append(measure_case(db, p, case, values, sf, runs, peer))
                timings["measure"] = time.perf_counter() - clock
            for k, v in timings.items():
                out.seconds[f"sf{_sf(sf)}_{k}"] = round(v, 2)
    out.seconds["total"] = round(time.perf_counter() - started, 2)
    return out


# -- the document ----------------------------------------------------------------------------------


def fmt_slope(value: float | None) -> str:
    """A slope to one decimal (0.0 is constant work, 1.0 linear); "-0.0" shown as 0.0."""
    if value is None:
        return "n/a"
    text = f"{value:.1f}"
    return "0.0" if text == "-0.0" else text


def _plan_cell(flips: list[Flip]) -> str:
    return "; ".join(f.describe() for f in flips) if flips else "the same at every SF"


def curves_markdown(c: Curves) -> str:
    """Tables of the deterministic work of each pattern's case per SF, its slope and its plan flips."""
    out = [
        f"Work per first page at SF {', '.join(_sf(s) for s in c.sfs)} (seed {c.seed}). The slope is the "
        "least-squares exponent of work against SF on log-log axes: 0.0 means the work does not grow with "
        "the data, 1.0 that it grows in proportion to it. Each work figure was measured twice on the same "
        "data; a measure that differed is left out and said so.\n"
    ]
    flips = c.flips()
    excluded = []
    for engine in dict.fromkeys(k[2] for k in c.keys()):
        keys = [k for k in c.keys() if k[2] == engine]
        pg = engine == "postgres"
        head = ["Pattern", "Case", *(f"SF {_sf(s)}" for s in c.sfs), "Slope"]
        if pg:
            head += ["Without its index: slope"]
        head += ["Plan across SFs"]
        rows = []
        for key in keys:
            by_sf = {p.sf: p for p in c.series(*key)}
            ok, why = c.deterministic(*key)
            if ok:
                cells = [f"{by_sf[s].work:,}" if s in by_sf else "" for s in c.sfs]
                slope = fmt_slope(c.slope(*key))
            else:
                cells = ["—" for _ in c.sfs]
                slope = "—"
                excluded.append(f"`{key[0]}` ({key[1]}) on {LABEL[engine]}: {why}")
            row = [f"`{key[0]}`", key[1], *cells, slope]
            if pg:
                dropped = sorted({ix for p in by_sf.values() for ix in p.dropped})
                if not dropped:
                    row.append("no index claimed")
                elif c.deterministic(*key, measure="work_no_index")[0]:
                    row.append(f"{fmt_slope(c.slope(*key, measure='work_no_index'))} ({', '.join(dropped)})")
                else:
                    row.append("—")
                    excluded.append(
                        f"`{key[0]}` ({key[1]}) without {', '.join(dropped)}: "
                        f"{c.deterministic(*key, measure='work_no_index')[1]}"
                    )
            row.append(_plan_cell([f for f in flips if (f.pattern, f.case, f.engine) == key]))
            rows.append(row)
        out.append(f"**{LABEL[engine]}**: {WORK[engine]}.\n\n" + md_table(head, rows))
        notes = {}
        for k in keys:
            for p in c.series(*k):
                if p.no_index_note and not p.dropped:
                    notes.setdefault(p.pattern, []).append(p.no_index_note)
        if notes:
            items = [f"`{name}` {'; '.join(dict.fromkeys(n))}" for name, n in notes.items()]
            out.append(f"Without the supporting index on {LABEL[engine]}: " + "; ".join(items) + ".\n")
    if excluded:
        out.append(
            "Left out because the work differed between two runs on the same data: "
            + "; ".join(excluded)
            + ".\n"
        )
    return "\n".join(out)
