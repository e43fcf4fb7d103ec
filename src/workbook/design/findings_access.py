"""Findings about the seed's access patterns and indexes, with evidence from the patterns themselves.

Each check loads SF 0.1 (seed 42) into a PostgreSQL schema migrated up to a given migration, with
statistics from every row, runs the design's access patterns and reads their plans; the loaded
schemas are kept for the rest of the process, so the findings share two loads. The evidence is
counts and plan facts, the same on every build.
"""

from __future__ import annotations

import dataclasses
import functools
import tempfile
from pathlib import Path

from .. import access, access_report, migrate, plans, synth
from ..engines import Engine, connect
from ..findings import Finding, expect
from . import WORKBOOK_ACTOR
from .access import PATTERNS, PREPARE

SF, SEED = 0.1, 42
BEFORE_DROPS = "0017"  # the schema before V0018 dropped the seed's unread indexes
_keep: list = []  # engines and folders that live as long as the process


@functools.cache
def _folder() -> Path:
    tmp = tempfile.TemporaryDirectory(prefix="workbook-findings-")
    _keep.append(tmp)
    folder = Path(tmp.name) / "data"
    synth.generate(SF, SEED, folder)
    return folder


@functools.cache
def loaded(upto: str | None = None) -> tuple[Engine, list[access_report.PatternReport]]:
    """A PostgreSQL schema migrated up to version `upto` (all when None), loaded, and the patterns' reports."""
    migrations = None
    if upto is not None:
        tmp = tempfile.TemporaryDirectory(prefix="workbook-staged-")
        _keep.append(tmp)
        migrations = Path(tmp.name)
        for m in migrate.discover():
            if m.version <= upto:
                (migrations / m.name).write_bytes(m.raw)
    pg = connect("postgres")
    _keep.append(pg)
    migrate.migrate(pg, migrations)
    synth.load_postgres(pg, _folder(), migrations=migrations)
    pg.set_session_actor(WORKBOOK_ACTOR)
    work = access_report.workload({"postgres": pg}, _folder(), synth.TABLES, PREPARE)
    return pg, access_report.evaluate([_as_of(pg, p) for p in PATTERNS], work)


EXPRESSION = "to_tsvector('english', t.name || ' ' || t.description)"


def _as_of(pg: Engine, p):  # noqa: ANN001, ANN202 - an access.Pattern
    """The pattern as it was written before V0019 stored the search document, on a schema without it."""
    if pg.scalar(
        "SELECT count(*) FROM pg_attribute WHERE attrelid = 'templates'::regclass AND attname = 'search_vector'"
    ):
        return p

    def old(sql):  # noqa: ANN001, ANN202
        return None if sql is None else sql.replace("t.search_vector", EXPRESSION)

    page = p.page and dataclasses.replace(
        p.page, next=access.SQL(old(p.page.next.postgres), p.page.next.duckdb)
    )
    claims = tuple(
        dataclasses.replace(c, sql=access.SQL(old(c.sql.postgres), c.sql.duckdb))
        if getattr(c, "sql", None)
        else c
        for c in p.claims
    )
    return dataclasses.replace(
        p, query=access.SQL(old(p.query.postgres), p.query.duckdb), page=page, claims=claims
    )


def _readers(reports, index: str) -> list[str]:  # noqa: ANN001
    out = set()
    for r in reports:
        for cr in r.runs:
            for label, plan in (("", cr.plans.get("postgres")), (" (seed)", cr.seed_plans.get("postgres"))):
                if plan is not None and plan.uses_index(index):
                    out.add(f"{r.pattern.name}{label} ({cr.case.name})")
    return sorted(out)


TOP_OWNERS = """SELECT owner_id FROM projects WHERE deleted_at IS NULL GROUP BY owner_id
                ORDER BY count(*) DESC, owner_id LIMIT 20"""


def _first_page(pg: Engine, owner: str) -> plans.Plan:
    p = next(p for p in PATTERNS if p.name == "user_projects")
    text, params = access.bind(p.query.on("postgres"), {"owner": owner})
    return plans.explain(pg, text, params)


def _rows_read(plan: plans.Plan, table: str) -> int:
    """Rows a plan's scans of `table` fetched: returned plus removed by a filter."""
    total = 0
    for n in plan.scans_of(table):
        total += int((n.actual_rows or 0) + float(n.raw.get("Rows Removed by Filter") or 0) * (n.loops or 1))
    return total


def f28_updated_at_walk(engine: str) -> str:
    old, old_reports = loaded(BEFORE_DROPS)
    new, _ = loaded()
    heavy = _readers(old_reports, "ix_projects_updated_at")
    expect(
        any(h.startswith("user_projects") for h in heavy),
        "F28",
        "user_projects no longer reads ix_projects_updated_at",
    )
    walks = []  # (rows fetched walking the time index, rows fetched by the design) for the owners it walks for
    for (owner,) in old.fetchall(TOP_OWNERS):
        before = _first_page(old, str(owner))
        if before.uses_index("ix_projects_updated_at"):
            after = _first_page(new, str(owner))
            expect(
                after.uses_index("ix_projects_owner_live_recent"),
                "F28",
                "the design's page reads another index",
            )
            walks.append((_rows_read(before, "projects"), _rows_read(after, "projects")))
    expect(walks and max(a for a, _ in walks) > 5 * max(b for _, b in walks), "F28", f"walks {walks}")
    worst = max(walks)
    return (
        f"before V0018 the planner reads ix_projects_updated_at for {', '.join(heavy)}: it walks every owner's "
        f"projects newest first and discards the others', assuming owner and time independent. Of the 20 owners "
        f"with most projects it walks for {len(walks)}; the worst fetches {worst[0]:,} rows to keep 20, where "
        f"ix_projects_owner_live_recent (after V0018) fetches {worst[1]:,}"
    )


def f29_published_index(engine: str) -> str:
    old, reports = loaded(BEFORE_DROPS)
    readers = _readers(reports, "ix_templates_published")
    share = old.scalar("SELECT avg(published::int) FROM templates")
    expect(
        share > 0.5 and all(r.startswith("search_templates") for r in readers), "F29", f"readers {readers}"
    )
    new, new_reports = loaded()
    search = next(r for r in new_reports if r.pattern.name == "search_templates")
    common = next(cr for cr in search.runs if cr.case.name == "common word")
    plan_claims = [c for c in search.claims if getattr(c.claim, "engine", None) == "postgres"]
    expect(
        plan_claims and all(c.held for c in plan_claims), "F29", "search's plan claims fail without the index"
    )
    return (
        f"{share:.0%} of templates are published, so the index lists nearly every row; at SF {SF:g} the only plans "
        f"that read it are {', '.join(readers) or 'none'}, where it stands in for a scan; after V0018 the common "
        f"word's plan reads {', '.join(plans_indexes(common.plans['postgres'])) or 'no index'} and the search's plan claims hold"
    )


def plans_indexes(plan: plans.Plan) -> list[str]:
    return sorted(set(plan.indexes()))


def _no_reader_evidence(indexes: tuple[str, ...], finding: str, why: str) -> str:
    old, reports = loaded(BEFORE_DROPS)
    out = []
    for ix in indexes:
        readers = _readers(reports, ix)
        expect(not readers, finding, f"{ix} is read by {readers}")
        size = old.scalar("SELECT pg_relation_size(CAST(? AS regclass))", [ix])
        out.append(f"{ix} ({size // 1024:,} kB)")
    n = sum(len(r.runs) for r in reports)
    return f"none of the {n} pattern cases' plans (seed's or corrected) reads {', '.join(out)} before V0018; {why}"


def f30_partial_id_indexes(engine: str) -> str:
    return _no_reader_evidence(
        ("ix_templates_active", "ix_patterns_active"), "F30", "lookups by id read the primary keys"
    )


def f31_unread_rankings(engine: str) -> str:
    return _no_reader_evidence(
        ("ix_patterns_usage_count", "ix_templates_category", "ix_templates_category_name_published"),
        "F31",
        "the category patterns read ix_templates_popular and a template's patterns are ranked within it",
    )


def _case(reports, pattern: str, case: str):  # noqa: ANN001, ANN202
    r = next(r for r in reports if r.pattern.name == pattern)
    return r.pattern, next(cr for cr in r.runs if cr.case.name == case)


def f32_unpaged_projects(engine: str) -> str:
    _, reports = loaded()
    _, cr = _case(reports, "user_projects", "heaviest owner")
    seed_rows = len(cr.seed_results["postgres"].rows)
    expect(seed_rows > 1000, "F32", f"the seed returns {seed_rows} rows")
    ties = loaded()[0].scalar(
        "SELECT count(*) FROM (SELECT owner_id, updated_at FROM projects WHERE deleted_at IS NULL "
        "GROUP BY 1, 2 HAVING count(*) > 1) x"
    )
    return (
        f"at SF {SF:g} the seed's query returns {seed_rows:,} rows for the heaviest owner in one response, and "
        "leaves out updated_at, its own sort key; the corrected query returns a page of 20 and a cursor"
        + (f"; {ties:,} owners have two live projects with the same updated_at" if ties else "")
    )


def f33_search_raises(engine: str) -> str:
    pg, reports = loaded()
    p = next(p for p in PATTERNS if p.name == "search_templates")
    outcomes = []
    for text in ("feature flags", "c++", "react!", "'docker"):
        sql, params = access.bind(p.seed.on("postgres"), {"q": text})
        try:
            pg.fetchall(sql, params)
            outcomes.append(f"'{text}': no error")
        except Exception as exc:  # the seed's error is the evidence
            outcomes.append(f"'{text}': {str(exc).splitlines()[0]}")
        fixed = access.run(pg, p, {"q": text})
        outcomes[-1] += f" (corrected: {len(fixed.rows)} rows)"
    raised = [o for o in outcomes if "syntax error" in o]
    expect(len(raised) >= 2, "F33", f"the seed raised on {raised}")
    return "the seed's search on text a user types: " + "; ".join(outcomes)


def f34_rank_recomputes_the_document(engine: str) -> str:
    old, _ = loaded("0018")
    new, _ = loaded()
    search = next(p for p in PATTERNS if p.name == "search_templates")
    verbose = []
    for pg in (old, new):
        p = _as_of(pg, search)
        text, params = access.bind(p.query.on("postgres"), {"q": "starter"})
        verbose.append("\n".join(r[0] for r in pg.fetchall("EXPLAIN (VERBOSE, COSTS OFF) " + text, params)))
    before = verbose[0].count("to_tsvector(")
    after = verbose[1].count("to_tsvector(")
    expect(
        before >= 2 and after == 0 and "search_vector" in verbose[1],
        "F34",
        f"to_tsvector calls {before}, {after}",
    )
    matches = new.scalar(
        "SELECT count(*) FROM templates WHERE search_vector @@ websearch_to_tsquery('english', 'starter') "
        "AND published AND deleted_at IS NULL"
    )
    return (
        f"EXPLAIN VERBOSE of the search's first page for a common word: before V0019 the plan's filter and sort key "
        f"compute to_tsvector(name || ' ' || description) ({before} occurrences), once per matching row, and the "
        f"word matches {matches:,} templates at SF {SF:g}; after V0019 they read templates.search_vector and the "
        "plan computes no to_tsvector"
    )


FINDINGS = [
    Finding(
        "F34",
        "medium",
        "Search ranks by parsing every matching template again",
        "Access pattern 3: `ts_rank(to_tsvector('english', t.name || ' ' || t.description), ...)`.",
        "The document is a stored generated column, templates.search_vector, indexed by ix_templates_search and "
        "ranked as stored (V0019).",
        f34_rank_recomputes_the_document,
        ("postgres",),
    ),
    Finding(
        "F28",
        "high",
        "A global updated_at index misleads the planner on a user's projects",
        "`CREATE INDEX idx_projects_updated_at ON projects(updated_at DESC)`.",
        "Dropped (V0018); a user's projects are read from ix_projects_owner_live_recent (owner_id, updated_at, id) "
        "over live rows (V0017).",
        f28_updated_at_walk,
        ("postgres",),
    ),
    Finding(
        "F29",
        "low",
        "An index on a flag that is true for most rows",
        "`CREATE INDEX idx_templates_published ON templates(published) WHERE published = true`.",
        "Dropped (V0018): the popular and search patterns filter published through ix_templates_popular.",
        f29_published_index,
        ("postgres",),
    ),
    Finding(
        "F30",
        "low",
        "Partial indexes on the primary key",
        "`idx_templates_active ON templates(id) WHERE deleted_at IS NULL` (and the same on patterns).",
        "Dropped (V0018): the primary key finds a row by id; liveness is a filter on that one row.",
        f30_partial_id_indexes,
        ("postgres",),
    ),
    Finding(
        "F31",
        "low",
        "Rankings indexed across the whole table",
        "`idx_patterns_usage_count ON patterns(usage_count DESC)`, `idx_templates_category`, "
        "`idx_templates_category_published ON templates(category, name) WHERE published ...`.",
        "Dropped (V0018): rankings are per template or per category, by indexes that lead with that key.",
        f31_unread_rankings,
        ("postgres",),
    ),
    Finding(
        "F32",
        "high",
        "A user's projects come back all at once",
        "Access pattern 1: `... WHERE p.owner_id = $1 AND p.deleted_at IS NULL ORDER BY p.updated_at DESC`.",
        "Keyset pages of 20 ordered by (updated_at, id), with a signed cursor; updated_at is returned.",
        f32_unpaged_projects,
        ("postgres",),
    ),
    Finding(
        "F33",
        "high",
        "Template search raises on ordinary text",
        "Access pattern 3: `to_tsquery('english', $1)`.",
        "`websearch_to_tsquery('english', :q)`, which accepts any text; NUL and control characters are removed "
        "before the query (PostgreSQL text cannot hold NUL).",
        f33_search_raises,
        ("postgres",),
    ),
]
