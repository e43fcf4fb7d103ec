"""The held-out invalid rows on both engines, and the review of every rule the seed states."""

from __future__ import annotations

import re

import pytest

from workbook import config, held_out, quality
from workbook.catalog import read_catalog
from workbook.design.held_out import BOUNDARIES, ROWS
from workbook.design.seed_rules import KINDS, NOT_RULES, RULES

SEED = (config.PROJ_ROOT / "src" / "workbook" / "seed_prompt.md").read_text(encoding="utf-8")
SEED_LINES = SEED.splitlines()
# The design's words: constraint and column comments and the migrations' headers, '' read as '.
DESIGN = "\n".join(
    f.read_text(encoding="utf-8") for f in sorted(config.MIGRATIONS_DIR.glob("*.sql"))
).replace("''", "'")


@pytest.fixture(scope="module")
def dbs():
    dbs = {e: held_out.prepared(e) for e in held_out.ENGINES}
    yield dbs
    for db in dbs.values():
        db.close()


@pytest.fixture(scope="module")
def results(dbs):
    return held_out.run_rows(dbs)


@pytest.fixture(scope="module")
def gaps():
    return held_out.declared_gaps()


@pytest.fixture(scope="module")
def pg_catalog(dbs):
    return read_catalog(dbs["postgres"])


def test_rows_are_well_formed_and_new(pg_catalog):
    ids = [h.id for h in ROWS]
    assert len(ids) == len(set(ids)) and len(ids) >= 60
    rules = {r.id for r in RULES}
    assert {h.rule for h in ROWS} <= rules, {h.rule for h in ROWS} - rules
    matrix = {re.sub(r"\s+", " ", c.sql) for c in quality.cases(pg_catalog)}
    copies = [h.id for h in ROWS if re.sub(r"\s+", " ", h.sql) in matrix]
    assert not copies, f"held-out rows that copy a matrix case: {copies}"


def test_every_row_quotes_the_seed_or_the_design(pg_catalog):
    for h in ROWS:
        assert h.quote in SEED or h.quote in DESIGN, (h.id, h.quote)


def test_every_row_is_rejected_on_postgres_by_the_expected_rule(results):
    wrong = [
        (r.row.id, r.row.label, r.row.expect, r.results["postgres"])
        for r in results
        if not r.as_designed("postgres")
    ]
    assert not wrong


def test_duckdb_rejects_each_row_or_a_declared_gap_says_why_not(results, gaps):
    for r in results:
        if r.row.duckdb_gap is not None:
            assert r.row.duckdb_gap in gaps, (r.row.id, r.row.duckdb_gap, "no such dialect-gap row")
        assert held_out.duckdb_ok(r, gaps), (r.row.id, r.row.label, r.results)


def test_boundary_rows_beside_the_new_rules_are_accepted_by_both_engines(dbs):
    for r in held_out.run_rows(dbs, BOUNDARIES):
        assert r.accepted_everywhere, (r.row.id, r.row.label, r.results)
    assert {h.rule for h in BOUNDARIES} <= {r.id for r in RULES}
    assert all(h.quote in SEED or h.quote in DESIGN for h in BOUNDARIES)


def test_found_rows_were_accepted_by_both_engines_before_the_fix(gaps):
    before = held_out.before()
    accepted = {r.row.id for r in before if r.accepted_everywhere}
    assert accepted == {h.id for h in ROWS if h.found}
    # Each constraint V0024 adds is one a found row needed, and a declared add-constraint gap.
    added = {obj for rule, obj in gaps if rule == "add-constraint" and obj in {h.expect for h in ROWS}}
    fixed = {h.expect for h in ROWS if h.found}
    assert fixed <= added
    v24 = {
        g.where.split()[-1]
        for g in held_out.migrate.gaps()
        if g.rule == "add-constraint" and g.where.startswith(held_out.FIX)
    }
    assert v24 == fixed


def test_every_new_check_states_its_rule_in_words(pg_catalog):
    fixed = {h.expect for h in ROWS if h.found}
    comments = {c.name: c.comment for t in pg_catalog.base_tables for c in t.constraints}
    for name in fixed:
        assert comments.get(name), f"{name}: no COMMENT ON CONSTRAINT"


def test_seed_rules_quote_the_seed_on_the_line_they_name():
    ids = [r.id for r in RULES]
    assert len(ids) == len(set(ids)) and len(ids) >= 80
    for r in RULES:
        assert r.kind in KINDS, r.id
        assert r.quote in SEED_LINES[r.line - 1], (r.id, r.line, r.quote, SEED_LINES[r.line - 1])
    for n in NOT_RULES:
        assert n.what and len(n.why) > 40


def test_every_seed_rule_names_what_enforces_it_and_the_catalog_holds_it(dbs):
    for r in RULES:
        assert r.enforced_by, r.id
        for reason in r.gaps:
            assert len(reason) > 40, (r.id, "a rule not enforced needs its reason")
    assert held_out.missing_names(dbs["postgres"]) == []


def test_every_enforced_seed_rule_is_exercised(pg_catalog):
    for r in RULES:
        if r.names:
            assert r.matrix, f"{r.id}: no matrix case or held-out row exercises it"
    assert held_out.unknown_matrix_refs(pg_catalog) == []
    every = {m for r in RULES for m in r.matrix}
    assert {h.id for h in ROWS} <= every


def test_the_report_has_a_row_per_held_out_row(results):
    table = held_out.markdown(results)
    assert table.count("\n") == len(ROWS) + 2
