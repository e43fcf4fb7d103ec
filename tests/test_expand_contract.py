"""Expand and contract (issue 11 item 7): users.name becomes users.display_name while v1 and v2 both work.

Every run is on a fresh, fully migrated PostgreSQL schema; the matrix comes from running both
application versions' queries after each step, and the audit rows are counted around each query.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from workbook import expand_contract as ec
from workbook import migrate
from workbook.design import WORKBOOK_ACTOR
from workbook.design import expand_contract as design
from workbook.engines import DuckDBEngine, connect
from workbook.errors import WorkbookError

OLD, NEW = design.OLD, design.NEW
INTERMEDIATE = ("expand", "constrain", "validate")


def migrated():
    db = connect("postgres")
    migrate.migrate(db)
    return db


@pytest.fixture(scope="module")
def copy_run():
    """The design's change, run with its expectations checked (a broken one raises here)."""
    with migrated() as db:
        yield db, ec.run(db, design.RENAME_BY_COPY)


def works(m: ec.Matrix) -> dict[str, tuple[bool, bool]]:
    return {step: (m.works(step, OLD), m.works(step, NEW)) for step in m.steps}


# ------------------------------------------------------------------------------------ the matrix


def test_both_versions_work_at_every_intermediate_step_and_only_v2_after_contract(copy_run):
    _, m = copy_run
    assert m.failures() == []
    assert works(m) == {
        "baseline": (True, False),
        "expand": (True, True),
        "constrain": (True, True),
        "validate": (True, True),
        "contract": (False, True),
    }
    for step in INTERMEDIATE:  # not one query skipped or failed while both columns exist
        assert {c.status for c in m.cells if c.step == step} == {ec.OK}, step
    assert {c.status for c in m.row("contract", NEW) if c.query != "read other's"} == {ec.OK}


def test_old_version_fails_after_contract_and_new_before_expand_on_the_missing_column(copy_run):
    _, m = copy_run
    assert m.cell("contract", OLD, "insert").detail == 'column "name" of relation "users" does not exist'
    assert m.cell("contract", OLD, "read existing").detail == 'column "name" does not exist'
    assert (
        m.cell("baseline", NEW, "insert").detail == 'column "display_name" of relation "users" does not exist'
    )
    # A query that needs the id a failed insert did not return is skipped, not counted as a failure.
    assert m.cell("contract", NEW, "read other's").status == ec.SKIPPED


def test_cross_writes_are_visible_both_ways_and_old_rows_are_backfilled(copy_run):
    _, m = copy_run
    cross = {(c.step, c.version): c for c in m.cross_reads()}
    for step in INTERMEDIATE:
        assert cross[(step, OLD)].reads == NEW and cross[(step, OLD)].status == ec.OK, step
        assert cross[(step, NEW)].reads == OLD and cross[(step, NEW)].status == ec.OK, step
        assert m.cell(step, NEW, "read existing").status == ec.OK  # a row from before the change


def test_a_broken_expectation_names_step_version_and_query():
    change = ec.Change(
        "declared wrongly",
        (ec.Step("baseline", (), works=(OLD, NEW)),),
        design.VERSIONS,
        seed=design.SEED,
        counter=design.AUDIT_ROWS,
        actor=WORKBOOK_ACTOR,
    )
    with migrated() as db, pytest.raises(ec.ExpectationError) as exc:
        ec.run(db, change)
    assert str(exc.value).startswith(
        "expand/contract declared wrongly: step 'baseline': v2 must work, but its query 'insert' failed: "
        'column "display_name" of relation "users" does not exist'
    )
    believed_broken = replace(change, steps=(ec.Step("baseline", (), works=(), breaks=(OLD,)),))
    with migrated() as db, pytest.raises(ec.ExpectationError, match="v1 must break, but every query passed"):
        ec.run(db, believed_broken)


# ------------------------------------------------------------------------------------- audit rows


def test_every_application_write_leaves_one_audit_row_and_the_backfill_none(copy_run):
    db, m = copy_run
    writes = [c for c in m.cells if c.query in ("insert", "update") and c.status == ec.OK]
    reads = [c for c in m.cells if c.query not in ("insert", "update") and c.status == ec.OK]
    assert writes and {c.delta for c in writes} == {1}
    assert reads and {c.delta for c in reads} == {0}
    cols, rows = db.query(design.AUDIT_IMAGES_SQL)
    images = [dict(zip(cols, r, strict=True)) for r in rows]
    assert len(images) == 1 + len(writes)  # the seeded user's insert, then one row per write
    early = [i for i in images if i["email"] == design.EXISTING[0]]
    assert [i["operation"] for i in early] == ["INSERT"]  # no audit row for the backfill
    assert db.scalar("SELECT updated_at = created_at FROM users WHERE email = ?", [design.EXISTING[0]])
    assert db.scalar("SELECT count(DISTINCT changed_by) FROM audit_log") == 1
    assert str(db.scalar("SELECT min(changed_by::text) FROM audit_log")) == WORKBOOK_ACTOR


def test_audit_images_follow_the_table_name_then_both_then_display_name(copy_run):
    db, _ = copy_run
    cols, rows = db.query(design.AUDIT_IMAGES_SQL)
    seen = {}
    for r in rows:
        image = dict(zip(cols, r, strict=True))
        step = image["email"].split("@")[0].split("-", 1)[-1]
        seen.setdefault(step, set()).add((image["has_name"], image["has_display_name"]))
        if image["has_name"] and image["has_display_name"]:
            assert image["name"] == image["display_name"], image  # the trigger kept them equal
    assert seen == {
        "early": {(True, False)},
        "baseline": {(True, False)},
        "expand": {(True, True)},
        "constrain": {(True, True)},
        "validate": {(True, True)},
        "contract": {(False, True)},
    }


def test_after_contract_the_table_has_display_name_with_its_own_rules_and_nothing_left_over(copy_run):
    db, _ = copy_run
    columns = dict(
        db.fetchall(
            "SELECT column_name, is_nullable FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name = 'users'"
        )
    )
    assert "name" not in columns and columns["display_name"] == "NO"
    checks = {
        r[0] for r in db.fetchall("SELECT conname FROM pg_constraint WHERE conrelid = 'users'::regclass")
    }
    assert "ck_users_display_name_length" in checks and "ck_users_name_length" not in checks
    assert "ck_users_display_name_not_null" not in checks  # the helper CHECK went once NOT NULL held
    triggers = {r[0] for r in db.fetchall("SELECT tgname FROM pg_trigger WHERE tgrelid = 'users'::regclass")}
    assert "trg_users_sync_display_name" not in triggers
    assert {"trg_users_audit", "trg_users_updated_at"} <= triggers
    assert not db.scalar(
        "SELECT count(*) FROM pg_namespace WHERE nspname IN (?, ?)", [f"{db.schema}_v1", f"{db.schema}_v2"]
    )
    with pytest.raises(Exception, match="ck_users_display_name_length"):
        db.execute("INSERT INTO users (email, display_name) VALUES ('empty@example.com', '')")


def test_the_sync_trigger_refuses_two_different_values_in_one_write():
    change = ec.Change(
        "expand only", (design.BASELINE, design.EXPAND), design.VERSIONS, seed=design.SEED,
        actor=WORKBOOK_ACTOR, teardown=design.TEARDOWN,
    )  # fmt: skip
    with migrated() as db:
        ec.run(db, change)
        with pytest.raises(Exception, match="written with different values"):
            db.execute(
                "UPDATE users SET name = 'A', display_name = 'B' WHERE email = ?", [design.EXISTING[0]]
            )
        db.execute("UPDATE users SET name = 'C', display_name = 'C' WHERE email = ?", [design.EXISTING[0]])
        assert db.fetchall("SELECT name, display_name FROM users WHERE email = ?", [design.EXISTING[0]]) == [
            ("C", "C")
        ]


# ------------------------------------------------------------------------- the other forms, observed


def test_the_naive_rename_breaks_the_old_version():
    with migrated() as db, pytest.raises(ec.ExpectationError) as exc:
        ec.run(db, design.NAIVE_RENAME)
    assert "step 'rename': v1 must work, but its query 'insert' failed: " in str(exc.value)
    m = exc.value.matrix
    assert works(m) == {"baseline": (True, False), "rename": (False, True)}  # never both at once
    assert ec.verdict(m, design.NAIVE_RENAME.steps[1], OLD) == "breaks (declared: works)"


def test_a_rename_through_views_alone_holds_and_the_trail_says_name_until_contract():
    with migrated() as db:
        m = ec.run(db, design.RENAME_BY_VIEW)
        assert works(m) == {"baseline": (True, False), "expand": (True, True), "contract": (False, True)}
        assert {c.status for c in m.cross_reads() if c.step == "expand"} == {ec.OK}
        cols, rows = db.query(design.AUDIT_IMAGES_SQL)
        by_email = {}
        for r in rows:
            image = dict(zip(cols, r, strict=True))
            by_email.setdefault(image["email"], set()).add((image["has_name"], image["has_display_name"]))
        # v2 wrote display_name through its view; the table, and so the trail, still says name.
        assert by_email["v2-expand@example.com"] == {(True, False)}
        assert by_email["v2-contract@example.com"] == {(False, True)}


def test_a_sync_by_an_after_trigger_writes_two_audit_rows_and_cannot_fill_not_null():
    with migrated() as db:
        m = ec.run(db, design.AFTER_TRIGGER_SYNC, check=False)
    assert m.cell("expand", OLD, "insert").detail == "audit rows moved by 2, expected 1"
    assert m.cell("expand", OLD, "update").detail == "audit rows moved by 2, expected 1"
    assert m.cell("expand", NEW, "insert").detail.startswith(
        'null value in column "name" of relation "users"'
    )
    assert works(m)["expand"] == (False, False)


# ------------------------------------------------------------------------------- rendering, refusals


def test_the_matrix_table_is_stable_across_runs(copy_run):
    _, m = copy_run
    with migrated() as db:
        again = ec.run(db, design.RENAME_BY_COPY)
    assert ec.markdown(again) == ec.markdown(m)
    df = ec.frame(m)
    assert list(df.index) == ["baseline", "expand", "constrain", "validate", "contract"]
    assert list(df[OLD].columns) == [
        "verdict",
        "insert",
        "update",
        "read own",
        "read other's",
        "read existing",
    ]
    assert df.loc["contract", (OLD, "verdict")] == "breaks" and df.loc["contract", (OLD, "insert")] == "✗"
    lines = ec.markdown(m).splitlines()
    assert lines[0].startswith("| step | v1 | v1 insert | v1 update |")
    assert lines[3] == "| expand | works | ok | ok | ok | ok | ok | works | ok | ok | ok | ok | ok |"
    assert "workbook_" not in ec.markdown(m)  # no schema name of the run in any error text


def test_a_failing_step_is_rolled_back_and_named():
    change = ec.Change(
        "broken",
        (ec.Step("expand", ("ALTER TABLE users ADD COLUMN nickname TEXT", "ALTER TABLE nowhere ADD COLUMN x INT"), works=()),),
        design.VERSIONS,
    )  # fmt: skip
    with migrated() as db:
        with pytest.raises(
            WorkbookError, match=r"step 'expand' statement 2 of 2 failed: relation \"nowhere\""
        ):
            ec.run(db, change)
        assert not db.scalar(
            "SELECT count(*) FROM information_schema.columns WHERE table_schema = current_schema() "
            "AND table_name = 'users' AND column_name = 'nickname'"
        )


def test_a_change_naming_what_is_not_declared_is_refused_before_anything_runs():
    bad_step = ec.Change("c", (ec.Step("s", (), works=("v3",)),), design.VERSIONS)
    with pytest.raises(WorkbookError, match="step 's' names version 'v3', which is not declared"):
        ec.validate(bad_step)
    ref = ec.AppVersion("v1", (ec.Query("read", "SELECT 1", (ec.Ref("v9", "insert"),)),))
    with pytest.raises(WorkbookError, match="refers to v9 insert, which is not declared"):
        ec.validate(ec.Change("c", (ec.Step("s", (), works=("v1",)),), (ref,)))
    with DuckDBEngine() as duck, pytest.raises(WorkbookError, match="runs on a PostgreSQL engine"):
        ec.run(duck, design.RENAME_BY_COPY)
