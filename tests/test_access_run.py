"""The access patterns on real data, both engines: every claim holds, pages cover the answer exactly once,
user text never makes a query raise, and bad parameters or cursors end in one line."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workbook import access, access_report, migrate, synth
from workbook.design import WORKBOOK_ACTOR
from workbook.design.access import PATTERNS, PREPARE
from workbook.engines import connect
from workbook.errors import WorkbookError

BY_NAME = {p.name: p for p in PATTERNS}
SF = 0.05


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    folder = tmp_path_factory.mktemp("access") / "data"
    synth.generate(SF, 42, folder)
    engines = {"postgres": connect("postgres"), "duckdb": connect("duckdb")}
    for db in engines.values():
        migrate.migrate(db)
    synth.load_postgres(engines["postgres"], folder)
    synth.load_duckdb(engines["duckdb"], folder)
    engines["postgres"].set_session_actor(WORKBOOK_ACTOR)
    w = access_report.workload(engines, folder, synth.TABLES, PREPARE)
    yield w
    for db in engines.values():
        db.close()


@pytest.fixture(scope="module")
def reports(work):
    return access_report.evaluate(PATTERNS, work)


def test_every_claim_holds(reports):
    assert access_report.failures(reports) == []
    assert sum(len(r.claims) for r in reports) >= 25


def test_a_false_claim_fails_in_one_line_naming_pattern_and_claim(work):
    p = BY_NAME["template_versions"]
    wrong = access.UsesIndex("ix_projects_template_id")
    runs = access.run_cases(p, work.engines, work.oracle)
    (result,) = access.check_claims(type(p)(**{**p.__dict__, "claims": (wrong,)}), runs, work.rows)
    (line,) = access.failed([result])
    assert line.startswith(
        "access pattern template_versions: claim 'uses index ix_projects_template_id (postgres)'"
    )
    assert "\n" not in line


def _all_pages(db, p, values, most: int = 1000):
    rows, after, pages = [], None, 0
    while pages < most:
        page = access.run(db, p, values, after)
        rows += page.rows
        pages += 1
        if page.cursor is None:
            return rows, pages
        after = page.cursor
    raise AssertionError(f"{p.name}: more than {most} pages: the cursor does not advance")


@pytest.mark.parametrize("engine", ["postgres", "duckdb"])
@pytest.mark.parametrize(
    "name, case, full",
    [
        (
            "user_projects",
            "heaviest owner",
            """SELECT p.id, p.name, p.description, t.name, t.category, p.created_at, p.updated_at
               FROM projects AS p LEFT JOIN templates AS t ON t.id = p.template_id
               WHERE p.owner_id = CAST(:owner AS uuid) AND p.deleted_at IS NULL
               ORDER BY p.updated_at DESC, p.id DESC""",
        ),
        (
            "popular_templates",
            "largest category",
            """WITH live AS (SELECT template_id, count(*) AS n FROM projects
                             WHERE deleted_at IS NULL GROUP BY template_id)
               SELECT t.id FROM templates AS t LEFT JOIN live ON live.template_id = t.id
               WHERE t.category = :category AND t.published AND t.deleted_at IS NULL
               ORDER BY coalesce(live.n, 0) DESC, t.id""",
        ),
    ],
)
def test_pages_return_the_whole_answer_once_in_order(work, engine, name, case, full):
    """Walking the cursors from the first page to the last gives exactly the unpaged answer (Parquet)."""
    p = BY_NAME[name]
    values = access.resolve(next(c for c in p.cases if c.name == case), work.oracle)
    rows, pages = _all_pages(work.engines[engine], p, values)
    text, params = access.bind(full, values)
    cur = work.oracle.execute(text, params)
    expected = access.rows_of([d[0] for d in cur.description], cur.fetchall())
    got = access.rows_of([f"c{i}" for i in range(len(rows[0]))], rows)
    width = len(expected[0])
    assert [r[:width] for r in got] == expected
    assert pages > 1, "the answer spans several pages"


@pytest.mark.parametrize("engine", ["postgres", "duckdb"])
def test_search_pages_cover_every_match_once(work, engine):
    p = BY_NAME["search_templates"]
    values = access.resolve(next(c for c in p.cases if c.name == "common word"), work.oracle)
    rows, pages = _all_pages(work.engines[engine], p, values)
    ids = [r[0] for r in rows]
    assert len(ids) == len(set(ids)) and pages > 1
    relevance = [r[4] for r in rows]
    assert relevance == sorted(relevance, reverse=True)


HOSTILE = [
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
    "(((",
    "'; DROP TABLE templates; --",
    "\u202ereact",
    "ｒｅａｃｔ",
    "\t\n\x07",
]


@pytest.mark.parametrize("engine", ["postgres", "duckdb"])
@pytest.mark.parametrize("text", HOSTILE, ids=range(len(HOSTILE)))
def test_search_never_raises_on_what_a_user_types(work, engine, text):
    before = work.engines[engine].scalar("SELECT count(*) FROM templates")
    result = access.run(work.engines[engine], BY_NAME["search_templates"], {"q": text})
    assert len(result.rows) <= 20
    assert work.engines[engine].scalar("SELECT count(*) FROM templates") == before


@settings(
    max_examples=settings().max_examples,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(text=st.text(max_size=200))
def test_search_never_raises_on_any_text(work, text):
    for db in work.engines.values():
        access.run(db, BY_NAME["search_templates"], {"q": text})


def test_a_common_word_matches_the_same_templates_on_both_engines(work, reports):
    search = next(r for r in reports if r.pattern.name == "search_templates")
    for cr in search.runs:
        assert cr.matches["postgres"] == cr.matches["duckdb"] and cr.matches["postgres"], cr.case.name


@pytest.mark.parametrize("engine", ["postgres", "duckdb"])
def test_a_wrong_parameter_or_a_tampered_cursor_is_one_line(work, engine):
    db, p = work.engines[engine], BY_NAME["user_projects"]
    with pytest.raises(WorkbookError, match="parameter owner must be a uuid, got 'robert'"):
        access.run(db, p, {"owner": "robert"})
    owner = access.resolve(next(c for c in p.cases if c.name == "heaviest owner"), work.oracle)
    first = access.run(db, p, owner)
    payload, sig = first.cursor.split(".")
    with pytest.raises(WorkbookError, match="cursor for user_projects: the signature does not match"):
        access.run(db, p, owner, after=payload[::-1] + "." + sig)
    with pytest.raises(WorkbookError, match="belongs to 'user_projects', not to this pattern"):
        access.run(db, BY_NAME["popular_templates"], {"category": "data"}, after=first.cursor)


def test_write_outlines_name_foreign_key_triggers_by_constraint(reports):
    """A foreign key's trigger has an OID in its name, different on every build; the outline uses the constraint."""
    from workbook import plans

    for r in reports:
        for cr in r.runs:
            for plan in cr.plans.values():
                text = plans.outline(plan)
                assert "RI_ConstraintTrigger" not in text
    create = next(r for r in reports if r.pattern.name == "create_project")
    assert "Trigger for foreign key fk_projects_owner_id_users" in plans.outline(
        create.runs[0].plans["postgres"]
    )
