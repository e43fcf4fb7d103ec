"""The Overview's facts, computed: what each engine runs, the findings by severity, the checklist's
status in this build, and where each kind of fact in the document comes from. No number in the
Overview is typed by hand; each comes from one of these functions."""

from __future__ import annotations

from collections import Counter

from . import checklist, migrate
from .tables import md_table


def engines_table() -> str:
    """Per engine: the files and statements it runs, and what the DuckDB adapter did with the rest."""
    files = migrate.discover()
    pg = sum(len(m.statements("postgres")) for m in files)
    duck = sum(len(m.statements("duckdb")) for m in files)
    gaps = migrate.gaps()
    by = Counter(g.emulated for g in gaps)
    rules = {g.rule for g in gaps}
    return md_table(
        ["Engine", "Role in the design", "What runs"],
        [
            [
                "PostgreSQL",
                "the target dialect: the whole design (functions, triggers, row-level security, full-text search, "
                "partial indexes); a throwaway server the workbook starts itself, or the one `WORKBOOK_PG_DSN` names",
                f"{len(files)} migration files as written: {pg} statements",
            ],
            [
                "DuckDB",
                "the embedded default: no set-up, fast synthetic loads, the logical model and the queries",
                f"{duck} statements derived from the same files; {len(gaps)} adaptations under {len(rules)} rules: "
                f"{by.get('yes', 0)} emulated, {by.get('partly', 0)} partly, {by.get('no', 0)} not available "
                "(the dialect-gap table in the Logical Model)",
            ],
        ],
    )


def findings_summary() -> str:
    from . import findings

    found = findings.all_findings()
    by = Counter(f.severity for f in found)
    order = ("high", "medium", "low")
    parts = ", ".join(f"{by[s]} {s}" for s in order if by.get(s))
    return (
        f"The seed's SQL, executed, revealed {len(found)} defects ({parts}); each is listed under Design Review "
        "Findings with the evidence that is recomputed on every build, and the fix this design adopts."
    )


def checklist_status(records: dict[str, dict] | None) -> str:
    records = checklist.with_own_checks(records)
    items = checklist.evaluate(records)
    if records is None:
        return (
            "The Quality Checklist is filled by `make docs` from the checks this build's notebooks record; "
            "opened on its own, this notebook has none."
        )
    ticked = sum(it.ticked for it in items)
    n_checks = len({c for it in items for c in it.checks})
    return (
        f"In this build, {ticked} of the seed's {len(items)} checklist items are ticked, each by the checks that "
        f"prove it ({n_checks} named checks, recorded by the sections that run them; see Quality Checklist)."
    )


SOURCES = (
    (
        "Tables, columns, constraints, indexes, comments",
        "the live catalogs (PostgreSQL and DuckDB) after applying the migrations",
        "Logical Model",
    ),
    (
        "The DuckDB form and the dialect gaps",
        "the adapter's rules as they ran over the migrations",
        "Logical Model",
    ),
    (
        "Entity-relationship diagrams and relationships",
        "the catalog's foreign keys and columns",
        "Conceptual Model",
    ),
    (
        "Audit, soft delete and versioning behaviour",
        "scripted writes on both engines, and the audit log replayed",
        "Data Patterns",
    ),
    (
        "Query plans and their claims",
        "EXPLAIN (ANALYZE) on loaded synthetic data, checked against an oracle over the Parquet files",
        "Access Patterns",
    ),
    (
        "What each constraint rejects",
        "the bad-input matrix and the held-out rows, run on both engines",
        "Data Quality",
    ),
    (
        "Migration behaviour",
        "the runner, fault injection after every statement, squawk",
        "Migration Strategy",
    ),
    (
        "Data shape, scale and cost",
        "the synthetic generator's declared laws, measured on what it wrote",
        "Performance Considerations",
    ),
    (
        "Who may do what; personal data",
        "statements run as each role; the privacy declaration against the catalog; erasure and a full scan",
        "Security and Privacy",
    ),
    ("Defects of the seed", "the seed's own SQL, run statement by statement", "Design Review Findings"),
    ("The checklist", "the checks recorded by the sections of this build", "Quality Checklist"),
)


def sources_table() -> str:
    return md_table(["Fact", "Comes from", "Section"], [list(s) for s in SOURCES])
