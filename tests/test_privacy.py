"""The PII inventory against the live catalog, and erasure: a full scan finds no trace, the trail still replays."""

from __future__ import annotations

import copy
import types
import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workbook import migrate, privacy, replay
from workbook.design import WORKBOOK_ACTOR
from workbook.design import privacy as design
from workbook.engines import connect
from workbook.errors import WorkbookError


@pytest.fixture(scope="module")
def pg():
    with connect("postgres") as db:
        migrate.migrate(db)
        yield db


def test_every_column_is_classified(pg):
    assert privacy.inventory_errors(pg) == []
    counts = privacy.counts(pg)
    assert counts["personal"] > 0 and counts["sensitive"] > 0


def test_a_new_column_without_a_class_fails_the_build(pg):
    pg.execute("ALTER TABLE users ADD COLUMN phone TEXT")
    try:
        with pytest.raises(WorkbookError, match=r"users\.phone: no privacy class"):
            privacy.check_inventory(pg)
    finally:
        pg.execute("ALTER TABLE users DROP COLUMN phone")
    privacy.check_inventory(pg)


def test_a_stale_or_unknown_class_fails_the_build(pg):
    changed = types.ModuleType("changed")
    changed.__dict__.update({k: copy.deepcopy(v) for k, v in vars(design).items() if not k.startswith("__")})
    changed.COLUMNS["users"]["nickname"] = ("personal", "gone")
    changed.COLUMNS["users"]["email"] = ("secret", "?")
    errors = privacy.inventory_errors(pg, changed)
    assert "users.nickname: classified but not in the schema" in errors
    assert any(e.startswith("users.email: unknown class 'secret'") for e in errors)


@pytest.fixture(scope="module")
def erased():
    """The design's scenario, written as the application, then the request; the scans before and after."""
    with connect("postgres") as db:
        migrate.migrate(db)
        privacy.run_scenario(db)
        needles = list(privacy.needles().values())
        before = privacy.traces(db, needles)
        refused = privacy.try_refusals(db, after=False)
        privacy.erase(db, design.ERASURE_REQUEST["user_id"], design.ERASURE_REQUEST["actor"])
        yield db, before, privacy.traces(db, needles), refused + privacy.try_refusals(db, after=True)


def test_erasure_leaves_no_trace_in_any_table_or_jsonb_value(erased):
    db, before, after, _ = erased
    assert {t.table for t in before} >= {"users", "projects", "audit_log", "templates", "template_versions"}
    assert after == []


def test_the_audit_trail_still_replays_after_erasure(erased):
    db, *_ = erased
    assert replay.compare(db) == []
    assert db.scalar("SELECT count(*) FROM erasure_log") == 1
    row = db.fetchall("SELECT rows_redacted, audit_rows_redacted FROM erasure_log")[0]
    assert row[0] > 1 and row[1] > 1


def test_bad_requests_are_refused_and_change_nothing(erased):
    _, _, _, refused = erased
    assert {r.what for r in refused} == {r[0] for r in design.ERASURE_REFUSALS}
    assert not any(r.changed for r in refused)


def test_the_application_cannot_touch_the_audit_trail_except_through_erasure(erased):
    import psycopg

    db, *_ = erased
    db.execute("BEGIN")
    try:
        db.execute("SET LOCAL ROLE workbook_app")
        db.execute("SELECT set_config('workbook.actor_id', ?, true)", [design.ERASURE_ADMIN["id"]])
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            db.execute("UPDATE audit_log SET new_values = '{}'")
    finally:
        db.execute("ROLLBACK")


_CORE = st.text(alphabet=st.sampled_from(list("abcXYZ .'\"\\()[]{}*+?|^$-_%ßéÅ中")), min_size=0, max_size=12)
_LOCAL = st.text(alphabet=st.sampled_from(list("abcxyz09._%+-")), min_size=1, max_size=10).filter(
    lambda s: s[0].isalnum()
)


@settings(max_examples=20)
@given(core=_CORE, local=_LOCAL)
def test_erasure_of_any_name_and_email_leaves_no_trace(pg, core, local):
    """Names and e-mails with regular-expression and JSON metacharacters are erased everywhere they were
    written; a longer address that contains the erased one is someone else's and stays."""
    uid, other = str(uuid.uuid4()), str(uuid.uuid4())
    name = f"Qq{core}zz"  # distinctive: not inside any text the erasure writes
    email = f"{local}@erase-{uid[:8]}.example"
    longer = f"x{email}.org"
    pg.execute("BEGIN")
    try:
        pg.execute("SELECT set_config('workbook.actor_id', ?, true)", [WORKBOOK_ACTOR])
        pg.execute("INSERT INTO users (id, email, name) VALUES (?, ?, ?)", [uid, email, name])
        pg.execute("INSERT INTO users (id, email, name) VALUES (?, ?, 'Other')", [other, longer])
        pg.execute(
            "INSERT INTO projects (name, description, owner_id, configuration) VALUES "
            "('p-' || left(?::text, 8), 'by ' || ?::text || ', mail ' || ?::text, ?::uuid, jsonb_build_object('who', ?::text, 'mail', upper(?::text)))",
            [uid, name, email, uid, name, email],
        )
        pg.execute("UPDATE users SET name = name WHERE id = ?", [uid])
        pg.execute("SET LOCAL ROLE workbook_app")
        pg.execute("SELECT set_config('workbook.actor_id', ?, true)", [uid])  # they erase themselves
        pg.fetchall("SELECT erase_user(?::uuid)", [uid])
        pg.execute("RESET ROLE")
        assert privacy.traces(pg, [name]) == []
        # What still contains the address is exactly what holds the other person's longer one.
        assert [(t.table, t.column, t.rows) for t in privacy.traces(pg, [email])] == [
            (t.table, t.column, t.rows) for t in privacy.traces(pg, [longer])
        ]
        assert pg.scalar("SELECT count(*) FROM users WHERE email = ?", [longer]) == 1, (
            "someone else's address stays"
        )
        assert pg.scalar("SELECT name FROM users WHERE id = ?", [uid]) == "Erased user"
        assert replay.compare(pg) == []
    finally:
        pg.execute("ROLLBACK")
