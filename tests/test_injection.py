"""Injection tests: every dynamic SQL path of the design is declared, hostile input is refused as
intended and changes nothing, and the machinery catches a deliberately vulnerable routine."""

from __future__ import annotations

from dataclasses import replace

import pytest

from workbook import injection
from workbook.design import injection as design
from workbook.engines import connect
from workbook.errors import WorkbookError
from workbook.injection import Arg, Declaration, Effect, Path

DECL = design.DECLARATION


@pytest.fixture(scope="module")
def pg():
    with design.database() as db:
        yield db


@pytest.fixture(scope="module")
def outcomes(pg):
    return injection.run(pg, DECL)


def test_every_dynamic_routine_of_the_catalog_is_declared(pg):
    found = injection.check(pg, DECL)
    declared = {p.function for p in DECL.paths if p.function}
    assert set(found) == declared
    # what the migrations make dynamic today (a new one fails check() until it is declared)
    assert {"soft_delete(text, uuid)", "restore(text, uuid)", "erase_user(uuid)"} <= set(found)
    assert "migrate_data_safely(text, regclass, text, text, bigint)" in found


def test_an_undeclared_dynamic_routine_fails_the_check(pg):
    pg.execute("BEGIN")
    try:
        pg.execute(
            "CREATE FUNCTION probe_dynamic(p_user_id uuid) RETURNS void LANGUAGE plpgsql AS $$ "
            "BEGIN EXECUTE format('SELECT 1 FROM %I WHERE id = $1', 'users') USING p_user_id; END $$"
        )
        with pytest.raises(
            WorkbookError, match=r"probe_dynamic\(uuid\) found in the catalog have no declaration"
        ) as e:
            injection.check(pg, DECL)
        assert "\n" not in str(e.value)
        # declaring it is a few lines
        extra = Path(
            "probe_dynamic",
            "SELECT probe_dynamic(:p_user_id)",
            (Arg("p_user_id", "uuid", design.U1),),
            (design.NOT_A_UUID,),
            function="probe_dynamic(uuid)",
        )
        injection.check(pg, replace(DECL, paths=(*DECL.paths, extra)))
    finally:
        pg.execute("ROLLBACK")


def test_a_missing_declaration_a_stale_one_and_argument_drift_fail_the_check(pg):
    without = replace(DECL, paths=tuple(p for p in DECL.paths if p.function != "soft_delete(text, uuid)"))
    with pytest.raises(
        WorkbookError, match=r"soft_delete\(text, uuid\) found in the catalog have no declaration"
    ):
        injection.check(pg, without)
    gone = Path("gone", "SELECT gone(:p)", (Arg("p", "text", "x"),), function="gone(text)")
    with pytest.raises(
        WorkbookError, match=r"gone\(text\) declared in .* is no longer a dynamic SQL routine"
    ):
        injection.check(pg, replace(DECL, paths=(*DECL.paths, gone)))
    soft = next(p for p in DECL.paths if p.function == "soft_delete(text, uuid)")
    drifted = replace(soft, args=(replace(soft.args[0], name="p_table"), soft.args[1]))
    paths = tuple(drifted if p is soft else p for p in DECL.paths)
    with pytest.raises(WorkbookError, match=r"path soft_delete: declares arguments \(p_table text"):
        injection.check(pg, replace(DECL, paths=paths))


def test_every_hostile_input_is_refused_as_intended_or_succeeds_with_the_intended_effect_only(pg, outcomes):
    assert injection.failures(outcomes) == []
    inputs = injection.hostile_inputs(DECL.names, "s")
    assert len(inputs) >= 50
    labels = {h.label for h in inputs}
    for want in (
        "NUL",
        "NULL",
        "empty string",
        "10 000 characters",
        "stacked DROP TABLE users",
        "<schema>.users",
    ):
        assert want in labels
    for path in DECL.paths:
        mine = [o for o in outcomes if o.path == path.name]
        control = [o for o in mine if not o.arg]
        assert len(control) == 1 and control[0].ok, (path.name, control)
        for arg in path.args:
            tried = [o for o in mine if o.arg == arg.name]
            assert len(tried) == (len(inputs) if arg.hostile else 0), (path.name, arg.name)
    rows = injection.summary(outcomes, DECL)
    assert sum(r["inputs"] for r in rows) > 2000
    assert all(r["unexpected"] == 0 and r["changed"] == 0 for r in rows)
    # NUL never reaches a routine: psycopg refuses the parameter (or the client path cleans it first)
    nul = [o for o in outcomes if o.input == "NUL" and o.path in {p.name for p in DECL.paths if p.function}]
    assert nul and all(o.result == "refused" and o.detail == "DataError" for o in nul)
    # the search accepts anything a person types
    search = [o for o in outcomes if o.path == "access search_templates" and o.input != "NULL"]
    assert search and all(o.result == "succeeded" for o in search)


def test_the_summary_is_deterministic_and_names_no_schema(pg, outcomes):
    text = injection.markdown(outcomes, DECL)
    assert text == injection.markdown(list(outcomes), DECL)
    assert text.startswith("| Path | Run | Arguments tried | Inputs tried | Refused as intended |")
    assert pg.schema not in text
    assert "Not as intended" not in text
    for p in DECL.paths:
        assert f"`{p.name}`" in text


VULNERABLE = """CREATE FUNCTION vulnerable(p text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE 'UPDATE t SET x = 1 WHERE name = ''' || p || '''';
END;
$$"""
SAFE = """CREATE FUNCTION safe(p text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('UPDATE t SET x = 1 WHERE name = %L', p);
END;
$$"""


def _scratch_path(name: str) -> Path:
    return Path(
        name,
        f"SELECT {name}(:p)",
        (Arg("p", "text", "a"),),
        (),
        function=f"{name}(text)",
        mode="rollback",
        effect=Effect(
            "x = 1 on the row named p, and only there",
            tables=("t",),
            check="SELECT bool_and((x = 1) = (name IS NOT DISTINCT FROM :p)) FROM t",
        ),
    )


def test_a_vulnerable_routine_is_caught():
    with connect("postgres") as db:  # a scratch schema of its own, no migrations
        db.execute(
            "CREATE TABLE t (id integer PRIMARY KEY, name text NOT NULL, x integer NOT NULL DEFAULT 0)"
        )
        db.execute("INSERT INTO t (id, name) VALUES (1, 'a'), (2, 'b')")
        db.execute(VULNERABLE)
        db.execute(SAFE)
        decl = Declaration((_scratch_path("vulnerable"), _scratch_path("safe")), names=("t",))
        with pytest.raises(
            WorkbookError, match=r"vulnerable\(text\) found in the catalog have no declaration"
        ):
            injection.check(db, replace(decl, paths=decl.paths[1:]))
        before = injection.snapshot(db)
        out = injection.run(db, decl)
        assert injection.snapshot(db) == before  # every case was rolled back
        bad = {o.input: o for o in out if o.path == "vulnerable" and not o.ok}
        safe = [o for o in out if o.path == "safe"]
        assert [o for o in safe if not o.ok] == []
        # the stacked statement ran: the table is gone inside the call's transaction
        assert "relation t removed" in bad["stacked DROP TABLE t"].changed
        # the tautology updated every row, the stacked DELETE removed them: not the intended effect
        assert bad["tautology"].result == "unexpected effect"
        assert bad["stacked DELETE FROM t"].result == "unexpected effect"
        # a lone quote breaks the statement the routine built
        assert bad["single quote"].result == "unexpected error" and "42601" in bad["single quote"].detail
        rows = {r["path"]: r for r in injection.summary(out, decl)}
        assert rows["vulnerable"]["unexpected"] > 0 and rows["vulnerable"]["changed"] > 0
        assert rows["safe"]["unexpected"] == 0 and rows["safe"]["changed"] == 0
        assert "Not as intended" in injection.markdown(out, decl)


def test_no_untrusted_role_may_run_a_routine_whose_sql_argument_is_trusted(pg):
    """migration_digest runs its WHERE text as SQL; until V0026 revoked it, workbook_app could call it."""
    assert injection.exposures(pg, DECL) == []
    pg.execute("GRANT EXECUTE ON FUNCTION migration_digest(regclass, text[], text) TO PUBLIC")
    try:
        assert any("migration_digest" in e for e in injection.exposures(pg, DECL))
    finally:
        pg.execute("REVOKE EXECUTE ON FUNCTION migration_digest(regclass, text[], text) FROM PUBLIC")
