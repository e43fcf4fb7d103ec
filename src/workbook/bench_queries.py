"""`make bench-queries`: the read patterns' first-page latency on both engines, against the seed's queries.

Prints one JSON object. At SF 1 (and SF 10 with `--sf10` or WORKBOOK_BENCH_SF10=1, when the free
disk allows it), on PostgreSQL and DuckDB loaded as the Access Patterns section loads them: p50 and
p95 latency of every read pattern's corrected first page per case and, for the seed's three
queries, the seed's own p50 and p95 and the ratio seed / corrected, measured interleaved in one run
(seed, corrected, seed, corrected ...). A bad-input pass runs the corrected search on text people
type (none may raise). The targets are judged on PostgreSQL at SF 1. Figures are measurements on a
shared machine, never assertions; the design document carries none of them.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from . import access, plans, scale
from .engines import Engine
from .errors import WorkbookError, first_line

SEED = 42
RUNS = 60
SEARCH = "search_templates"
SF10_ENV = "WORKBOOK_BENCH_SF10"
# What people type into a search box: none of it may make the corrected search raise.
BAD_INPUTS = (
    '"quoted"',
    "a & b | !c",
    "c++",
    "feature flags",
    "!",
    "",
    "x" * 10_000,
    "nul\x00byte",
    "o'brien",
    "react -vue",
)
METHOD = {
    "latency": "wall-clock (perf_counter) of executing the statement and fetching every row it returns, "
    "on one connection, after one warm-up execution of each statement; p50 is the median, p95 the 95th "
    "percentile (inclusive method) of the runs",
    "interleaving": "per repetition: the seed's query, then the corrected query of each case (a seed "
    "query that takes no parameter from the case runs once per repetition and is compared with every "
    "case); patterns without a seed query run their cases in turn",
    "postgres": "psycopg server-side prepared statements (execute(..., prepare=True)): each statement "
    "is parsed once and its plan cached; PostgreSQL's plan_cache_mode is left at auto, so after five "
    "executions it may keep a generic plan, as an application's prepared statement would",
    "duckdb": "DuckDB's Python API keeps no prepared statement between calls: each execute prepares, "
    "binds the parameters and runs it (in memory at SF 1, in a database file at SF 10)",
    "seed_without_supporting_index": "PostgreSQL only, after the interleaved runs: the seed's query again "
    "with the pattern's supporting indexes (its UsesIndex claims, all the design's) dropped in a "
    "transaction that is rolled back, closer to what it meets on the seed's own schema; not interleaved",
    "where_the_time_goes": "after the runs, one EXPLAIN ANALYZE of the corrected statement (unprepared: a "
    "custom plan) for its planning and execution time, and on PostgreSQL how many generic and custom "
    "plans its prepared statement used (pg_prepared_statements; the cases of a pattern share one "
    "statement, so the counts are the pattern's)",
    "statistics": "PostgreSQL's default statistics target (100: ANALYZE samples 30,000 rows), as a production "
    "server has it; the document gathers statistics from every row instead, so that its plans are the same on "
    "every build, which makes planning slower (longer statistics lists to read) and would add planning time "
    "to every custom plan measured here",
}


STATISTICS = 100  # PostgreSQL's default_statistics_target


@dataclass(frozen=True)
class Target:
    """A latency target on PostgreSQL at SF 1: a pattern's case, a measure and its bound."""

    what: str
    pattern: str
    case: str
    measure: str  # "p50_ms" or "seed_over_corrected"
    bound: float
    at_most: bool  # True: the value must be <= bound; False: >= bound

    def judge(self, value: float | None) -> bool | None:
        if value is None:
            return None
        return value <= self.bound if self.at_most else value >= self.bound


TARGETS = (
    Target("user_projects first page p50, median owner", "user_projects", "median owner", "p50_ms", 1, True),
    Target(
        "user_projects first page p50, heaviest owner", "user_projects", "heaviest owner", "p50_ms", 1, True
    ),
    Target(
        "popular_templates p50, largest category", "popular_templates", "largest category", "p50_ms", 50, True
    ),
    Target(
        "popular_templates p50, smallest category",
        "popular_templates",
        "smallest category",
        "p50_ms",
        50,
        True,
    ),
    Target(
        "popular_templates: the seed's p50 / the corrected p50, largest category",
        "popular_templates",
        "largest category",
        "seed_over_corrected",
        18,
        False,
    ),
    Target(
        "popular_templates: the seed's p50 / the corrected p50, smallest category",
        "popular_templates",
        "smallest category",
        "seed_over_corrected",
        18,
        False,
    ),
    Target("search_templates p50, rare word", SEARCH, "rare word", "p50_ms", 5, True),
    Target("search_templates first page p50, common word", SEARCH, "common word", "p50_ms", 15, True),
    Target(
        "search_templates: the seed's p50 / the corrected p50, rare word",
        SEARCH,
        "rare word",
        "seed_over_corrected",
        20,
        False,
    ),
)


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


# -- timing ----------------------------------------------------------------------------------------


def executor(db: Engine) -> Callable[[str, list], int]:
    """Run a bound statement and fetch its rows: prepared on PostgreSQL, DuckDB's own execute otherwise."""
    if db.name == "postgres":

        def run_pg(text: str, params: list) -> int:
            sql = text.replace("%", "%%").replace("?", "%s") if params else text
            return len(db.con.execute(sql, params or None, prepare=True).fetchall())

        return run_pg

    def run_duck(text: str, params: list) -> int:
        return len(db.con.execute(text, params).fetchall())

    return run_duck


def percentiles(times: Sequence[float]) -> dict[str, float]:
    """p50 and p95 of a list of milliseconds, rounded to microseconds."""
    p95 = statistics.quantiles(times, n=100, method="inclusive")[94] if len(times) > 1 else times[0]
    return {"p50_ms": round(statistics.median(times), 3), "p95_ms": round(p95, 3)}


def _timed(run: Callable[[str, list], int], stmt: tuple[str, list]) -> float:
    start = time.perf_counter()
    run(*stmt)
    return (time.perf_counter() - start) * 1000.0


def pattern_latencies(db: Engine, p: access.Pattern, oracle, runs: int) -> dict[str, dict]:  # noqa: ANN001
    """Every case of a read pattern on one engine, interleaved with the seed's query when it has one."""
    run = executor(db)
    cases: dict[str, dict] = {}
    stmts: dict[str, tuple[str, list]] = {}
    seeds: dict[tuple, tuple[str, list]] = {}  # distinct seed statements
    seed_of: dict[str, tuple | str | None] = {}  # case -> its seed statement's key, an error, or None
    for case in p.cases:
        values = access.resolve(case, oracle)
        checked = {q.name: access.check_value(p.name, q, values.get(q.name)) for q in p.params}
        stmt = access.bind(p.query.on(db.name), checked)
        stmts[case.name] = stmt
        out = cases[case.name] = {"values": {k: str(v) for k, v in values.items()}, "rows": run(*stmt)}
        seed_sql = p.seed.on(db.name) if p.seed is not None else None
        if p.seed is None:
            seed_of[case.name] = None
        elif seed_sql is None:
            seed_of[case.name] = f"not runnable on {db.name}"
        else:
            s = access.bind(seed_sql, checked)
            key = (s[0], tuple(map(str, s[1])))
            try:
                out["seed_rows"] = run(*s)
                seeds[key] = s
                seed_of[case.name] = key
            except Exception as exc:  # the seed's query failing is the finding, kept as its message
                seed_of[case.name] = first_line(exc)  # autocommit: nothing is left open
    times: dict[object, list[float]] = {k: [] for k in [*seeds, *stmts]}
    for _ in range(runs):
        for key, s in seeds.items():
            times[key].append(_timed(run, s))
        for name, stmt in stmts.items():
            times[name].append(_timed(run, stmt))
    cached = plan_cache(db)
    bare = seeds_without_index(db, p, seeds, runs) if db.name == "postgres" and seeds else None
    for name, out in cases.items():
        out.update(percentiles(times[name]), runs=runs)
        out["where_the_time_goes"] = where_time_goes(db, *stmts[name], cached)
        seed = seed_of[name]
        if isinstance(seed, tuple):
            out["seed"] = {"rows": out.pop("seed_rows"), **percentiles(times[seed])}
            out["seed_over_corrected"] = round(out["seed"]["p50_ms"] / max(out["p50_ms"], 1e-6), 1)
            if bare is not None:
                dropped, bare_times = bare
                out["seed_without_supporting_index"] = {
                    "dropped": list(dropped),
                    **percentiles(bare_times[seed]),
                    "over_corrected": round(
                        percentiles(bare_times[seed])["p50_ms"] / max(out["p50_ms"], 1e-6), 1
                    ),
                    "interleaved": False,
                }
        elif isinstance(seed, str):
            out["seed"] = {"error": seed}
    return cases


def plan_cache(db: Engine) -> dict[str, dict[str, int]]:
    """PostgreSQL: generic and custom plans each prepared statement of the session used, by its text."""
    if db.name != "postgres":
        return {}
    rows = db.fetchall("SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements")
    return {text: {"generic_plans": g, "custom_plans": c} for text, g, c in rows}


def _numbered(text: str) -> str:
    """A statement's `?` placeholders as psycopg sends them prepared: $1, $2, ..."""
    parts = text.split("?")
    return parts[0] + "".join(f"${i}{part}" for i, part in enumerate(parts[1:], 1))


def where_time_goes(db: Engine, text: str, params: list, cached: dict[str, dict[str, int]]) -> dict:
    """One EXPLAIN ANALYZE of the statement (planning and execution ms) and, on PostgreSQL, the plan cache."""
    plan = plans.explain(db, text, params)
    out: dict[str, object] = {
        "explain_planning_ms": None if plan.planning_ms is None else round(plan.planning_ms, 3),
        "explain_execution_ms": None if plan.execution_ms is None else round(plan.execution_ms, 3),
    }
    if db.name == "postgres":
        out["prepared_statement"] = cached.get(_numbered(text) if params else text, "not found")
    return out


def seeds_without_index(
    db: Engine, p: access.Pattern, seeds: dict[tuple, tuple[str, list]], runs: int
) -> tuple[tuple[str, ...], dict[tuple, list[float]]] | None:
    """The seed's statements with the pattern's supporting indexes dropped, in a transaction rolled back.

    Those indexes are the design's (the seed's schema has none that serves these queries), so this is
    closer to what the seed's query meets on the seed's own schema. It cannot be interleaved with the
    corrected query: the dropped index's lock holds until the rollback.
    """
    drops = {ix: scale.drop_statement(db, ix) for ix in scale.supporting_indexes(p)}
    drops = {ix: stmt for ix, stmt in drops.items() if stmt is not None}
    if not drops:
        return None
    run = executor(db)
    times: dict[tuple, list[float]] = {k: [] for k in seeds}
    db.execute("BEGIN")
    try:
        for stmt in drops.values():
            db.execute(stmt)
        for s in seeds.values():
            run(*s)
        for _ in range(runs):
            for key, s in seeds.items():
                times[key].append(_timed(run, s))
    finally:
        db.execute("ROLLBACK")
    return tuple(drops), times


def latencies(work, patterns: Sequence[access.Pattern], runs: int) -> dict[str, dict]:  # noqa: ANN001
    """engine -> pattern -> case -> latencies, for every read pattern on every loaded engine."""
    out: dict[str, dict] = {}
    for name, db in work.engines.items():
        out[name] = {}
        for p in patterns:
            if p.write or p.query.on(name) is None:
                continue
            say(f"  {name}: {p.name}")
            out[name][p.name] = pattern_latencies(db, p, work.oracle, runs)
    return out


# -- bad input -------------------------------------------------------------------------------------


def label(text: str) -> str:
    """A search input as it can be read in JSON: its repr, or `'x' * n` for a long repeated one."""
    if len(text) > 60 and len(set(text)) == 1:
        return f"{text[0]!r} * {len(text)}"
    return repr(text) if len(text) <= 60 else f"{text[:40]!r}... ({len(text)} characters)"


def bad_inputs(
    engines: dict[str, Engine], search: access.Pattern, inputs: Sequence[str] = BAD_INPUTS
) -> list[dict]:
    """The corrected search on each input on every engine: rows returned or the error (none expected).

    The seed's search runs beside it on PostgreSQL for contrast: its to_tsquery raises on some of them.
    """
    rows = []
    for text in inputs:
        row: dict[str, object] = {"input": label(text)}
        for name, db in engines.items():
            try:
                row[name] = {"rows": len(access.run(db, search, {"q": text}).rows), "error": None}
            except Exception as exc:  # recorded, never raised: the report says which input broke what
                row[name] = {"rows": None, "error": first_line(exc)}
        pg = engines.get("postgres")
        if pg is not None and search.seed is not None:
            try:
                row["seed_on_postgres"] = {"rows": len(access.run(pg, search, {"q": text}, seed=True).rows)}
            except Exception as exc:  # the seed's query raising is the contrast being shown
                row["seed_on_postgres"] = {"error": first_line(exc)}
        rows.append(row)
    return rows


# -- SF 10 -----------------------------------------------------------------------------------------


def _pg_bytes(db: Engine) -> int:
    return int(
        db.scalar(
            "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class AS c "
            "JOIN pg_namespace AS n ON n.oid = c.relnamespace "
            "WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'm', 'p')"
        )
    )


def sf10_disk(root: Path) -> tuple[bool, str]:
    """Whether SF 10 fits: the data, the DuckDB file and the PostgreSQL schema, from an SF 0.01 probe."""
    probe = root / "probe"
    probe.mkdir(parents=True, exist_ok=True)
    with scale.loaded(0.01, SEED, probe, duckdb_file=probe / "probe.duckdb") as work:
        files = sum(f.stat().st_size for f in work.folder.iterdir() if f.is_file())
        files += sum(f.stat().st_size for f in probe.glob("probe.duckdb*"))
        pg_db = work.engines["postgres"]
        pg = _pg_bytes(pg_db)
        server = getattr(pg_db, "server", None)
    shutil.rmtree(probe, ignore_errors=True)
    scale_up = 1000 * 1.25  # 1000 x SF 0.01, and a quarter more
    need = {Path(root): int(files * scale_up) + (1 << 30)}
    note = ""
    if server is not None:
        where = Path(server.root)
        if os.stat(where).st_dev == os.stat(root).st_dev:
            need[Path(root)] += int(pg * scale_up)
        else:
            need[where] = int(pg * scale_up)
    else:
        note = "; the external PostgreSQL server's disk is not checked"
    short = [(p, n, shutil.disk_usage(p).free) for p, n in need.items() if shutil.disk_usage(p).free < n]
    total = sum(need.values())
    if short:
        p, n, free = short[0]
        return False, (
            f"only {free / 1024**3:.1f} GiB free in {p}, SF 10 needs about {n / 1024**3:.1f} GiB there: "
            "the SF 10 run is skipped"
        )
    free = min(shutil.disk_usage(p).free for p in need)
    return True, f"SF 10 needs about {total / 1024**3:.1f} GiB; {free / 1024**3:.1f} GiB free{note}"


# -- the report ------------------------------------------------------------------------------------


def run_sf(sf: float, root: Path, patterns: Sequence[access.Pattern], runs: int) -> dict:
    """Load SF `sf` on both engines, time every read pattern and run the bad-input pass."""
    timings: dict[str, float] = {}
    duck_file = root / f"sf{sf:g}.duckdb" if sf > 1 else None
    search = next(p for p in patterns if p.name == SEARCH)
    with scale.loaded(
        sf, SEED, root, duckdb_file=duck_file, progress=say, timings=timings, statistics_target=STATISTICS
    ) as work:
        report: dict = {"sf": sf, "rows": work.rows.get("postgres", {}), "setup_s": {}}
        say(f"SF {sf:g}: timing every read pattern ({runs} runs each, interleaved with the seed's)")
        report["latency"] = latencies(work, patterns, runs)
        say(f"SF {sf:g}: the bad-input pass")
        report["bad_input"] = bad_inputs(work.engines, search)
        errors = [
            f"{row['input']} on {name}: {row[name]['error']}"
            for row in report["bad_input"]
            for name in work.engines
            if row[name]["error"]
        ]
        report["bad_input_errors"] = errors
    report["setup_s"] = {k: round(v, 2) for k, v in timings.items()}
    return report


def judge(sf1: dict) -> list[dict]:
    """Each target with its measured value on PostgreSQL at SF 1 and whether it is met."""
    out = []
    pg = sf1["latency"].get("postgres", {})
    for t in TARGETS:
        case = pg.get(t.pattern, {}).get(t.case, {})
        value = case.get(t.measure)
        row = {
            "target": t.what,
            "bound": f"{'<=' if t.at_most else '>='} {t.bound:g}{' ms' if t.measure.endswith('_ms') else 'x'}",
            "value": value,
            "met": t.judge(value),
        }
        bare = case.get("seed_without_supporting_index")
        if t.measure == "seed_over_corrected" and bare:
            row["against_the_seed_without_the_supporting_index"] = {
                "dropped": bare["dropped"],
                "value": bare["over_corrected"],
                "met": t.judge(bare["over_corrected"]),
            }
        out.append(row)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Print the JSON report; a user error ends in one line on stderr and exit status 1."""
    ap = argparse.ArgumentParser(prog="python -m workbook.bench_queries", description=__doc__.splitlines()[0])
    ap.add_argument(
        "--sf10", action="store_true", help=f"also run SF 10 when the disk allows ({SF10_ENV}=1 too)"
    )
    ap.add_argument("--runs", type=int, default=RUNS, help=f"runs of each statement (default {RUNS})")
    ap.add_argument("--sf", default="1", help="the main scale factor (default 1; the targets are for SF 1)")
    args = ap.parse_args(argv)
    try:
        return _main(args)
    except WorkbookError as exc:
        print(f"bench-queries: error: {exc}", file=sys.stderr)
        return 1


def _main(args: argparse.Namespace) -> int:
    from . import synth
    from .design.access import PATTERNS

    sf = synth.parse_sf(args.sf)
    if args.runs < 1:
        raise WorkbookError(f"--runs {args.runs}: give at least 1 run (the report's figures use {RUNS})")
    access.validate(PATTERNS)
    want_sf10 = args.sf10 or os.environ.get(SF10_ENV, "") not in ("", "0")
    report: dict = {"machine": {"cpus": os.cpu_count()}, "seed": SEED, "runs": args.runs, "method": METHOD}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="workbook-bench-queries-") as tmp:
        root = Path(tmp)
        report[f"sf{sf:g}"] = main_run = run_sf(sf, root, PATTERNS, args.runs)
        if not want_sf10:
            report["sf10"] = {
                "skipped": f"not asked for: run with --sf10 (or {SF10_ENV}=1, make bench-queries SF10=1)"
            }
        else:
            fits, disk = sf10_disk(root)
            say(disk)
            report["sf10"] = run_sf(10, root, PATTERNS, args.runs) if fits else {"skipped": disk}
            report["sf10"]["disk"] = disk
    if sf == 1:
        report["targets"] = judge(main_run)
        report["all_targets_met"] = all(t["met"] for t in report["targets"])
    else:
        report["targets"] = f"judged at SF 1 only; this run is SF {sf:g}"
    report["bad_input_raised_nothing"] = not main_run["bad_input_errors"]
    report["seconds"] = round(time.perf_counter() - started, 1)
    print(json.dumps(report, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
