"""Access patterns: the registry's own checks, page cursors, parameter types, and what V0017 maintains."""

from __future__ import annotations

import dataclasses
import uuid

import pytest

from workbook import access, cursor, migrate
from workbook.design.access import PATTERNS
from workbook.engines import connect
from workbook.errors import WorkbookError
from workbook.writes import Writer

ACTOR = "00000000-0000-4000-8000-0000000000e2"
ENGINES = ("postgres", "duckdb")
BY_NAME = {p.name: p for p in PATTERNS}


# -- the registry -----------------------------------------------------------------------------------


def test_the_registry_is_valid():
    access.validate(PATTERNS)
    assert {"user_projects", "popular_templates", "search_templates"} <= set(BY_NAME)
    assert all(p.seed is not None for p in PATTERNS[:3]), "the seed's three queries come first, as written"


@pytest.mark.parametrize(
    "claim, named",
    [
        (access.UsesIndex("ix_projects_owner_id"), "index ix_projects_owner_id"),  # the seed's, never created
        (access.NoSeqScan("project"), "table project"),
        (access.Triggers(("trg_projects_audit", "trg_nope")), "trigger trg_nope"),
    ],
)
def test_a_claim_naming_an_unknown_object_fails_at_load(claim, named):
    broken = dataclasses.replace(BY_NAME["user_projects"], claims=(claim,))
    with pytest.raises(
        WorkbookError, match=f"access pattern user_projects: claim .* names {named}, which no migration"
    ):
        access.validate([broken])


def test_an_index_a_later_migration_drops_is_unknown():
    assert "ix_projects_owner_id_updated_at_active" not in access.schema_names()["index"]  # V0017 drops it
    assert "ix_projects_owner_live_recent" in access.schema_names()["index"]


def test_undeclared_parameters_and_mismatched_cases_are_refused():
    p = BY_NAME["user_projects"]
    with pytest.raises(WorkbookError, match="parameter\\(s\\) nope not declared"):
        access.validate([dataclasses.replace(p, query=access.SQL(p.query.postgres + " AND :nope = 1"))])
    with pytest.raises(WorkbookError, match="case 'x' gives \\[\\], the pattern takes \\['owner'\\]"):
        access.validate([dataclasses.replace(p, cases=(access.Case("x", {}),), claims=())])
    with pytest.raises(
        WorkbookError, match="names case\\(s\\) heaviest owner, which the pattern does not have"
    ):
        access.validate([dataclasses.replace(p, cases=p.cases[:1])])
    with pytest.raises(WorkbookError, match="declared twice"):
        access.validate([p, p])


def test_placeholders_skip_casts_and_quoted_text():
    sql = "SELECT ':not', x::text FROM t WHERE a = :a AND b = CAST(:b AS uuid) AND c = 'it''s :c'"
    assert access.placeholders(sql) == ["a", "b"]
    text, params = access.bind(sql, {"a": 1, "b": "u"})
    assert text.count("?") == 2 and params == [1, "u"] and "':not'" in text


# -- parameters and cursors ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "param, value, message",
    [
        (access.Param("owner", "uuid"), "not-a-uuid", "parameter owner must be a uuid, got 'not-a-uuid'"),
        (access.Param("owner", "uuid"), 7, "parameter owner must be a uuid, got '7'"),
        (access.Param("n", "int"), "3", "parameter n must be an integer, got str"),
        (access.Param("q", "search"), b"bytes", "parameter q must be text, got bytes"),
    ],
)
def test_a_parameter_of_the_wrong_type_is_one_line(param, value, message):
    with pytest.raises(WorkbookError, match=message):
        access.check_value("p", param, value)


def test_search_text_loses_nul_and_control_characters_only():
    assert (
        access.check_value("p", access.Param("q", "search"), "c++\x00 'feature\tflags'")
        == "c++  'feature\tflags'"
    )


def test_a_cursor_round_trips_and_refuses_any_change():
    token = cursor.encode("user_projects", {"updated_at": "2025-01-02T03:04:05.000006+00:00", "id": "x"})
    assert cursor.decode("user_projects", token, ("updated_at", "id"))["id"] == "x"
    payload, sig = token.split(".")
    flipped = payload[:-2] + ("A" if payload[-2] != "A" else "B") + payload[-1]
    for bad, why in [
        (f"{flipped}.{sig}", "signature does not match"),
        (f"{payload}.{sig[:-1]}x", "signature does not match"),
        ("garbage", "malformed"),
        (None, "malformed"),
    ]:
        with pytest.raises(WorkbookError, match=why):
            cursor.decode("user_projects", bad, ("updated_at", "id"))
    with pytest.raises(WorkbookError, match="belongs to 'user_projects', not to this pattern"):
        cursor.decode("popular_templates", token, ("updated_at", "id"))


# -- V0017: templates.project_count ------------------------------------------------------------


def _count(db, template: str) -> int:
    return db.scalar("SELECT project_count FROM templates WHERE id = ?", [template])


@pytest.mark.parametrize("engine", ENGINES)
def test_project_count_follows_every_change_of_a_project(engine):
    with connect(engine) as db:
        migrate.migrate(db)
        w = Writer(db, ACTOR)
        uid = w.insert("users", {"email": "ada@example.com", "name": "Ada"})
        a = w.insert(
            "templates",
            {
                "name": "a",
                "description": "template a, long enough",
                "category": "x",
                "version": "1.0.0",
                "author_id": uid,
            },
        )
        b = w.insert(
            "templates",
            {
                "name": "b",
                "description": "template b, long enough",
                "category": "x",
                "version": "1.0.0",
                "author_id": uid,
            },
        )
        p = w.insert("projects", {"name": "site", "owner_id": uid, "template_id": a})
        w.insert("projects", {"name": "blank", "owner_id": uid})
        assert (_count(db, a), _count(db, b)) == (1, 0)
        w.call("soft_delete", "projects", p)
        assert _count(db, a) == 0, "a deleted project is not counted"
        w.call("restore", "projects", p)
        assert _count(db, a) == 1
        w.update("projects", p, {"template_id": b})
        assert (_count(db, a), _count(db, b)) == (0, 1)


def test_the_backfill_counts_existing_projects_without_an_audit_row_or_a_new_updated_at(tmp_path):
    """V0017 applied to a database that already holds projects (PostgreSQL runs the backfill)."""
    staged = tmp_path / "m"
    staged.mkdir()
    for m in migrate.discover():
        if m.version < "0017":
            (staged / m.name).write_bytes(m.raw)
    with connect("postgres") as db:
        migrate.migrate(db, staged)
        w = Writer(db, ACTOR)
        uid = w.insert("users", {"email": "ada@example.com", "name": "Ada"})
        t = w.insert(
            "templates",
            {
                "name": "a",
                "description": "template a, long enough",
                "category": "x",
                "version": "1.0.0",
                "author_id": uid,
            },
        )
        for i in range(3):
            w.insert("projects", {"name": f"p{i}", "owner_id": uid, "template_id": t})
        gone = w.insert("projects", {"name": "gone", "owner_id": uid, "template_id": t})
        w.call("soft_delete", "projects", gone)
        before = db.fetchall("SELECT updated_at FROM templates")
        audits = db.scalar("SELECT count(*) FROM audit_log")
        upto = tmp_path / "upto"  # through V0019: V0023's tags backfill is audited by design (F41)
        upto.mkdir()
        for m in migrate.discover():
            if m.version <= "0019":
                (upto / m.name).write_bytes(m.raw)
        migrate.migrate(db, upto)
        assert _count(db, t) == 3
        assert db.fetchall("SELECT updated_at FROM templates") == before
        assert db.scalar("SELECT count(*) FROM audit_log") == audits
        assert db.scalar("SELECT count(*) FROM pg_trigger WHERE tgenabled = 'D'") == 0, "triggers are back on"
        assert str(uuid.UUID(t)) == t
