"""Roles, grants and row-level security, proven by acting as each role (never a superuser or BYPASSRLS)."""

from __future__ import annotations

import copy
import types
import uuid

import psycopg
import pytest
from hypothesis import given
from hypothesis import strategies as st

from workbook import migrate, security
from workbook.design import WORKBOOK_ACTOR
from workbook.design import security as design
from workbook.engines import connect
from workbook.errors import WorkbookError

APP = "workbook_app"


@pytest.fixture(scope="module")
def pg():
    with connect("postgres") as db:
        migrate.migrate(db)
        yield db


@pytest.fixture(scope="module")
def cells(pg):
    security.load_fixture(pg, design)
    return security.matrix(pg)


def test_the_migration_is_what_the_declaration_generates(tmp_path):
    assert not security.stale(), "run python -m workbook.security generate"
    changed = types.ModuleType("changed")
    changed.__dict__.update({k: copy.deepcopy(v) for k, v in vars(design).items() if not k.startswith("__")})
    changed.GRANTS["workbook_readonly"]["audit_log"] = "SELECT"
    assert security.stale(changed), "a changed declaration must make the committed block stale"
    grants = [g for g in security.generated_sql(changed).splitlines() if g.endswith("TO workbook_readonly;")]
    assert any("audit_log" in g for g in grants) and not any(
        "audit_log" in g for g in security.generated_sql().splitlines() if g.endswith("TO workbook_readonly;")
    )


def test_catalog_matches_the_declaration(pg):
    results = security.check(pg)
    assert all(c.ok for c in results)
    assert len(results) >= 9


def test_matrix_is_what_the_declaration_grants(cells):
    tested = [r.name for r in design.ROLES if r.tested]
    assert len(cells) == len(tested) * len({c.relation for c in cells}) * len(design.OPERATIONS)
    assert security.matrix_errors(cells) == []


def _cells(cells, role=None, relation=None, op=None):
    return [
        c
        for c in cells
        if (role is None or c.role == role)
        and (relation is None or c.relation == relation)
        and (op is None or c.operation == op)
    ]


def test_read_only_role_cannot_write_anything(cells):
    for op in ("INSERT", "UPDATE", "DELETE", "TRUNCATE", "DDL"):
        for c in _cells(cells, "workbook_readonly", op=op):
            assert c.outcome in ("denied", "n/a"), c


def test_application_cannot_run_ddl_or_touch_the_audit_log(cells):
    for c in _cells(cells, APP, op="DDL"):
        assert c.outcome == "denied", c
    for c in _cells(cells, APP, relation="audit_log"):
        assert c.outcome == "denied", c


def test_nobody_in_the_matrix_deletes_audit_rows(cells):
    for op in ("DELETE", "TRUNCATE", "UPDATE"):
        for c in _cells(cells, relation="audit_log", op=op):
            assert c.outcome != "allowed", c  # the owner is stopped by the append-only trigger


def test_application_sees_its_own_projects_only(cells):
    (sel,) = _cells(cells, APP, "projects", "SELECT")
    assert sel.detail == "1 of 2"
    (upd,) = _cells(cells, APP, "projects", "UPDATE")
    assert upd.detail == "1 of 2"
    (own,) = _cells(cells, "workbook_owner", "projects", "SELECT")
    assert own.detail == "0 of 2", "forced RLS holds the owner to the policies (it has none)"


def test_an_undeclared_table_fails_the_build(pg):
    pg.execute("CREATE TABLE workbook_probe_table (id integer PRIMARY KEY)")
    try:
        with pytest.raises(WorkbookError, match="undeclared: workbook_probe_table"):
            security.check(pg)
    finally:
        pg.execute("DROP TABLE workbook_probe_table")


def test_rls_not_forced_fails_the_build(pg):
    pg.execute("ALTER TABLE projects NO FORCE ROW LEVEL SECURITY")
    try:
        with pytest.raises(WorkbookError, match="not enabled and forced: projects"):
            security.check(pg)
    finally:
        pg.execute("ALTER TABLE projects FORCE ROW LEVEL SECURITY")


def test_a_view_running_as_its_owner_fails_the_build(pg):
    pg.execute("ALTER VIEW active_projects SET (security_invoker = false)")
    try:
        with pytest.raises(WorkbookError, match="run as owner: active_projects"):
            security.check(pg)
    finally:
        pg.execute("ALTER VIEW active_projects SET (security_invoker = true)")


def test_bad_input_is_one_clear_line(pg):
    with pytest.raises(WorkbookError, match="role 'workbook_nope' does not exist"):
        with security.as_role(pg, "workbook_nope", None):
            pass
    with pytest.raises(WorkbookError, match="bypasses row-level security"):
        with security.as_role(pg, "workbook_retention", None):
            pass
    with pytest.raises(WorkbookError, match="'not-a-uuid' is not a uuid"):
        with security.as_role(pg, APP, "not-a-uuid"):
            pass
    # The database refuses it as well, naming the setting, when the setting is typed by hand.
    pg.execute("BEGIN")
    try:
        pg.execute(f"SET LOCAL ROLE {APP}")
        pg.execute("SELECT set_config('workbook.actor_id', 'robert''); drop table users; --', true)")
        with pytest.raises(psycopg.Error, match="rls: workbook.actor_id .* is not a uuid"):
            pg.execute("SELECT count(*) FROM projects")
    finally:
        pg.execute("ROLLBACK")


def test_no_acting_user_sees_nothing(pg, cells):
    for table in design.RLS:
        with security.as_role(pg, APP, None):
            assert pg.fetchall(f"SELECT count(*) FROM {table}")[0][0] == 0, table
        assert pg.fetchall(f"SELECT count(*) FROM {table}")[0][0] > 0, table  # there are rows to hide


# --- randomized: no row visible or writable across owners ------------------------------------------------

users_st = st.lists(st.sampled_from(["user", "user", "contributor", "admin"]), min_size=2, max_size=5)
row_st = st.tuples(st.integers(0, 4), st.booleans(), st.booleans())  # (owner index, published, deleted)


@given(roles=users_st, templates=st.lists(row_st, max_size=8), projects=st.lists(row_st, max_size=10))
def test_rls_randomized_no_cross_owner_access(pg, roles, templates, projects):
    """Random users, templates and projects; each user, as the application, sees and changes exactly what
    the policy allows (computed here, independently), and nothing of anyone else's."""
    ids = [str(uuid.UUID(int=(i + 1) << 64 | 0xE0)) for i in range(len(roles))]
    tpl = [
        (str(uuid.uuid5(uuid.NAMESPACE_OID, f"t{i}")), ids[o % len(ids)], pub, dele)
        for i, (o, pub, dele) in enumerate(templates)
    ]
    prj = [
        (str(uuid.uuid5(uuid.NAMESPACE_OID, f"p{i}")), ids[o % len(ids)], dele)
        for i, (o, _pub, dele) in enumerate(projects)
    ]
    checked = 0
    pg.execute("BEGIN")
    try:
        pg.execute("SELECT set_config('workbook.actor_id', ?, true)", [WORKBOOK_ACTOR])
        pg.execute("DELETE FROM pattern_applications")
        for table in ("patterns", "template_versions", "projects", "templates", "users"):
            pg.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
            pg.execute(f"DELETE FROM {table}")
            pg.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")
        for i, (uid, role) in enumerate(zip(ids, roles, strict=True)):
            pg.execute(
                "INSERT INTO users (id, email, name, role) VALUES (?, ?, 'U', ?)", [uid, f"u{i}@x.org", role]
            )
        for i, (tid, author, pub, dele) in enumerate(tpl):
            pg.execute(
                "INSERT INTO templates (id, name, description, category, version, author_id, published, deleted_at) "
                "VALUES (?, ?, 'a template here', 'web', '1.0.0', ?, ?, CASE WHEN ? THEN now() END)",
                [tid, f"t{i}", author, pub, dele],
            )
        for i, (pid, owner, dele) in enumerate(prj):
            pg.execute(
                "INSERT INTO projects (id, name, owner_id, deleted_at) VALUES (?, ?, ?, CASE WHEN ? THEN now() END)",
                [pid, f"p{i}", owner, dele],
            )
        for uid, role in zip(ids, roles, strict=True):
            admin = role == "admin"
            want_p = {p for p, o, _ in prj if admin or o == uid}
            want_t = {t for t, a, pub, dele in tpl if admin or a == uid or (pub and not dele)}
            pg.execute(f"SET LOCAL ROLE {APP}")
            pg.execute("SELECT set_config('workbook.actor_id', ?, true)", [uid])
            seen_p = {str(r[0]) for r in pg.fetchall("SELECT id FROM projects")}
            seen_t = {str(r[0]) for r in pg.fetchall("SELECT id FROM templates")}
            seen_u = {str(r[0]) for r in pg.fetchall("SELECT id FROM users")}
            assert seen_p == want_p
            assert seen_t == want_t
            assert seen_u == (set(ids) if admin else {uid})
            others = [p for p, o, _ in prj if o != uid]
            if others and not admin:
                pg.execute("SAVEPOINT w")
                assert (
                    pg.con.execute(
                        "UPDATE projects SET name = name || 'x' WHERE id = ANY(%s)", [others]
                    ).rowcount
                    == 0
                )
                assert pg.con.execute("DELETE FROM projects WHERE id = ANY(%s)", [others]).rowcount == 0
                foreign_t = [t for t, a, _, _ in tpl if a != uid]
                if foreign_t:
                    assert (
                        pg.con.execute(
                            "UPDATE templates SET name = name WHERE id = ANY(%s)", [foreign_t]
                        ).rowcount
                        == 0
                    )
                pg.execute("RELEASE SAVEPOINT w")
                other = next(o for _, o, _ in prj if o != uid)
                pg.execute("SAVEPOINT w")
                with pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security"):
                    pg.execute("INSERT INTO projects (name, owner_id) VALUES ('stolen', ?)", [other])
                pg.execute("ROLLBACK TO SAVEPOINT w")
            checked += len(prj) + len(tpl) + len(ids)
            pg.execute("RESET ROLE")
    finally:
        pg.execute("ROLLBACK")
    RLS_COUNTS["examples"] += 1
    RLS_COUNTS["rows_checked"] += checked


RLS_COUNTS = {"examples": 0, "rows_checked": 0}


def test_rls_randomized_ran(pg):
    """The randomized test above ran its examples (pytest runs tests of a module in file order)."""
    assert RLS_COUNTS["examples"] >= 50, RLS_COUNTS
    print(f"randomized RLS: {RLS_COUNTS}")
