"""The bad-input matrix on both engines, and the Python rules against both engines (hypothesis)."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from workbook import quality, rules
from workbook.catalog import read_catalog
from workbook.violations import try_write


@pytest.fixture(scope="module")
def outcomes():
    return quality.run_matrix()


def test_matrix_covers_every_constraint_with_two_violations_and_a_boundary(outcomes):
    db = quality.prepared("duckdb")
    cat = read_catalog(db)
    for t in cat.base_tables:
        for c in t.constraints:
            rows = [o for o in outcomes if o.case.constraint == c.name]
            assert sum(o.case.expect is not None for o in rows) >= 2, c.name
            assert sum(o.case.expect is None for o in rows) >= 1, c.name
    assert len(outcomes) >= 250


def test_engines_follow_the_design_except_known_disagreements(outcomes):
    for o in outcomes:
        assert any(o.as_designed.values()), (o.case.label, o.results)
    groups = quality.group_disagreements(outcomes)
    assert sum(len(g.rows) for g in groups) == len(quality.disagreements(outcomes))
    assert all(g.fix != "Not yet triaged." for g in groups), [g.title for g in groups]


def test_a_changed_rule_fails_the_matrix(monkeypatch):
    broken = quality.Case(
        "ck_users_role",
        "users",
        "role 'user' claimed invalid",
        quality.insert("users", "x", "ck_users_role", None).sql,
        "ck_users_role",
    )
    monkeypatch.setattr(quality, "check_cases", lambda: [broken])
    with pytest.raises(quality.WorkbookError, match="defy the design on every engine"):
        quality.run_matrix()


@pytest.fixture(scope="module")
def engines():
    dbs = {e: quality.prepared(e) for e in ("postgres", "duckdb")}
    yield {e: (db, read_catalog(db)) for e, db in dbs.items()}
    for db in dbs.values():
        db.close()


def verdicts(engines, table: str, **values: str) -> dict[str, bool]:
    """Whether each engine accepts the table's base row with `values` replaced."""
    case = quality.insert(table, "generated", "", None, **values)
    return {
        e: try_write(db, cat, table, case.sql, values=case.values) is None for e, (db, cat) in engines.items()
    }


TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=300)
# Examples, randomness and the example database come from the profile (tests/conftest.py).
SETTINGS = settings(suppress_health_check=[HealthCheck.function_scoped_fixture])


@SETTINGS
@given(st.one_of(TEXT, st.emails(), st.from_regex(r"[a-z.]{1,12}@[a-z]{1,8}\.[a-zA-Z]{1,4}", fullmatch=True)))
def test_email_rule(engines, email):
    want = rules.email_ok(email) and email.lower() not in ("ada@example.com", "bo@example.com")
    assert verdicts(engines, "users", email=quality.q(email)) == {"postgres": want, "duckdb": want}


@SETTINGS
@given(st.one_of(TEXT, st.sampled_from(rules.ROLES)))
def test_role_rule(engines, role):
    want = rules.role_ok(role)
    assert verdicts(engines, "users", role=quality.q(role)) == {"postgres": want, "duckdb": want}


@SETTINGS
@given(
    st.one_of(
        TEXT,
        st.from_regex(
            r"(0|[1-9][0-9]{0,2})\.[0-9]{1,3}\.[0-9]{1,3}(-[a-z0-9.]{1,5})?(\+[a-z0-9]{1,4})?", fullmatch=True
        ),
    )
)
def test_semver_rule(engines, version):
    want = rules.semver_ok(version)  # the base row's name, svelte-app, has no version yet: no clash
    strict = want and rules.version_strict_ok(version)  # V0024's checks: PostgreSQL only (add-constraint gap)
    assert verdicts(engines, "templates", version=quality.q(version)) == {"postgres": strict, "duckdb": want}


@SETTINGS
@given(TEXT)
def test_length_rules(engines, text):
    assert verdicts(engines, "projects", name=quality.q(text)) == dict.fromkeys(
        ("postgres", "duckdb"), rules.project_name_ok(text) and text not in ("shop",)
    )
    long_enough = rules.description_ok(text)
    assert verdicts(engines, "templates", description=quality.q(text)) == {
        "postgres": long_enough and rules.description_not_blank(text),  # V0024, PostgreSQL only
        "duckdb": long_enough,
    }


@SETTINGS
@given(st.integers(min_value=-(2**31), max_value=2**31 - 1))
def test_usage_count_rule(engines, n):
    assert verdicts(engines, "patterns", usage_count=str(n)) == dict.fromkeys(
        ("postgres", "duckdb"), rules.usage_count_ok(n)
    )


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(["variables", "files", "x"]), inner, max_size=3)
    ),
    max_leaves=6,
)


@SETTINGS
@given(JSON)
@example({"variables": "\x00"})  # found by hypothesis on a fresh clone: PostgreSQL's jsonb refuses U+0000
@example({"variables": [], "files": [], "\x00": None})
@example({"variables": ["\\u0000"], "files": "a"})  # six characters, not U+0000: storable everywhere
def test_json_rules(engines, doc):
    """PostgreSQL follows the rules exactly; DuckDB too, except that it stores U+0000 (disagreement E3)."""
    text = json.dumps(doc)
    for table, column, rule in (
        ("projects", "configuration", rules.json_object_ok),
        ("templates", "schema", rules.template_schema_ok),
    ):
        shape = rule(text)
        got = verdicts(engines, table, **{column: quality.q(text)})
        assert got == {"postgres": rules.jsonb_storable(text) and shape, "duckdb": shape}, (table, text)


def test_jsonb_nul_disagreement_is_a_grouped_finding(outcomes):
    rows = [o for o in outcomes if o.case.kind == "JSONB"]
    assert rows and all(o.results["postgres"] == o.expected for o in rows)
    refused = [o for o in rows if o.case.expect is not None]
    assert refused and all(o.results["duckdb"] == "accepted" for o in refused)
    (group,) = [g for g in quality.group_disagreements(outcomes) if "U+0000" in g.title]
    assert [o.case.label for o in group.rows] == [o.case.label for o in refused]
