"""Access patterns on loaded data: prepare both engines, run every pattern, render what the document shows.

The document carries only what is the same on every build: plan outlines (operators, relations,
indexes, estimate bands), row counts, claim outcomes. PostgreSQL's statistics are gathered from
every row (`STATISTICS_TARGET` makes ANALYZE's sample the whole table at the scale factors the
document uses), so the planner sees the same numbers on every build and its choices cannot flip on
a random sample; timings stay in JupyterLab and in `make bench-queries`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from . import access, plans
from .engines import Engine
from .tables import md_table

# ANALYZE samples 300 x the statistics target rows: 10,000 makes that 3 million, every row up to SF 1.
STATISTICS_TARGET = 10_000


@dataclass
class Workload:
    """Both engines loaded with the same generated folder, and an oracle connection on its files."""

    engines: dict[str, Engine]
    folder: Path
    oracle: object  # a DuckDB connection with a view per table over the Parquet files
    rows: dict[str, dict[str, int]] = field(default_factory=dict)  # engine -> table -> row count


def full_statistics(db: Engine, target: int = STATISTICS_TARGET) -> None:
    """PostgreSQL statistics from every row (deterministic), then ANALYZE; DuckDB keeps exact ones.

    `target` 100 is PostgreSQL's default: a sample of 30,000 rows and short lists, as a production
    server has them (faster planning, estimates that may change from one ANALYZE to the next).
    """
    if db.name == "postgres":
        db.execute(f"SET default_statistics_target = {target}")
        db.execute("ANALYZE")


def workload(
    engines: dict[str, Engine],
    folder: Path,
    tables,  # noqa: ANN001
    prepare: dict[str, list[str]],
    statistics_target: int = STATISTICS_TARGET,
) -> Workload:
    """Prepare loaded engines for the patterns (statistics, the statements `prepare` lists per engine)."""
    from .synth import shape

    for name, db in engines.items():
        full_statistics(db, statistics_target)
        for sql in prepare.get(name, []):
            db.execute(sql)
    rows = {name: {t: db.scalar(f"SELECT count(*) FROM {t}") for t in tables} for name, db in engines.items()}
    return Workload(engines, Path(folder), shape.on_folder(folder, tables), rows)


@dataclass
class PatternReport:
    """One pattern's case runs and claim results."""

    pattern: access.Pattern
    runs: list[access.CaseRun]
    claims: list[access.ClaimResult]

    @property
    def held(self) -> bool:
        return all(c.held for c in self.claims)


def evaluate(patterns, work: Workload) -> list[PatternReport]:  # noqa: ANN001
    """Every pattern on every engine, with its claims checked."""
    out = []
    for p in patterns:
        runs = access.run_cases(p, work.engines, work.oracle)
        out.append(PatternReport(p, runs, access.check_claims(p, runs, work.rows)))
    return out


def failures(reports: list[PatternReport]) -> list[str]:
    return [line for r in reports for line in access.failed(r.claims)]


# -- rendering -----------------------------------------------------------------------------------


def overview(reports: list[PatternReport]) -> str:
    """The list of questions: name, question, who asks, how often, claims held."""
    rows = [
        [
            f"`{r.pattern.name}`",
            r.pattern.question,
            r.pattern.who,
            r.pattern.rate,
            "write" if r.pattern.write else ("seed's, corrected" if r.pattern.seed else "read"),
            f"{sum(c.held for c in r.claims)} of {len(r.claims)}",
        ]
        for r in reports
    ]
    return md_table(["Pattern", "Question", "Who asks", "How often", "Kind", "Claims held"], rows)


def _sql_block(text: str) -> str:
    return "```sql\n" + text.strip() + "\n```\n"


def _value(v: object) -> str:
    text = str(v)
    return f"`{text if len(text) <= 60 else text[:57] + '…'}`"


def _seed_outcome(cr: access.CaseRun, engine: str) -> str:
    r = cr.seed_results.get(engine)
    if r is None:
        return ""
    if isinstance(r, str):
        return r
    return f"{len(r.rows):,} rows"


def pattern_section(r: PatternReport, level: str = "###") -> str:
    """One pattern: question, SQL, the seed's defects with what they did, plans, claims."""
    p = r.pattern
    out = [
        f"{level} `{p.name}`: {p.question}\n",
        f"*Who asks:* {p.who}. *How often:* {p.rate}.\n",
        p.why + "\n",
    ]
    pg, duck = p.query.on("postgres"), p.query.on("duckdb")
    if pg == duck:
        out.append("The query, on both engines:\n\n" + _sql_block(pg))
    else:
        out.append(
            "On PostgreSQL:\n\n"
            + _sql_block(pg)
            + "\nOn DuckDB (its `fts` extension):\n\n"
            + _sql_block(duck)
        )
    if p.page is not None:
        out.append(
            f"Pages of {p.page.size} rows: the next page takes the last row's "
            f"({', '.join(p.page.keys)}) as a signed cursor (`workbook.cursor`) and asks for the rows after it.\n"
        )
    cases = "; ".join(
        f"*{cr.case.name}*: " + ", ".join(f"{k} = {_value(v)}" for k, v in cr.values.items()) for cr in r.runs
    )
    out.append(f"Cases, drawn from the data: {cases}.\n")
    if p.seed is not None:
        rows = [
            [
                cr.case.name,
                _seed_outcome(cr, "postgres"),
                _seed_outcome(cr, "duckdb"),
                ", ".join(
                    f"{len(res.rows):,} rows" for e, res in sorted(cr.results.items()) if e == "postgres"
                ),
            ]
            for cr in r.runs
        ]
        out.append(
            f"**The seed's query**, as written: it {p.seed_defects}.\n\n"
            + md_table(["Case", "Seed on PostgreSQL", "Seed on DuckDB", "Corrected (first page)"], rows)
        )
    for cr in r.runs:
        pg_plan, seed_plan = cr.plans.get("postgres"), cr.seed_plans.get("postgres")
        if pg_plan is None:
            continue
        if seed_plan is not None:
            out.append(f"PostgreSQL plans, *{cr.case.name}*:\n\n" + plans.side_by_side(seed_plan, pg_plan))
        else:
            out.append(f"PostgreSQL plan, *{cr.case.name}*:\n\n```text\n{plans.outline(pg_plan)}```\n")
        duck_plan = cr.plans.get("duckdb")
        if duck_plan is not None:
            out.append(f"DuckDB plan, *{cr.case.name}*:\n\n```text\n{plans.outline(duck_plan)}```\n")
    claims = [[c.claim.describe(), "yes" if c.held else "**no**", c.evidence] for c in r.claims]
    out.append("Claims, checked on this build:\n\n" + md_table(["Claim", "Holds", "What was found"], claims))
    return "\n".join(out)
