"""The dialect adapter: every construct DuckDB lacks yields a gap row and runnable DuckDB SQL."""

from __future__ import annotations

import re

import duckdb
import pytest

from workbook import migrate
from workbook.dialect import RULES, adapt_script, adapt_statement
from workbook.errors import WorkbookError
from workbook.sqlsplit import Statement, split_sql


def _one(sql: str):
    return adapt_statement(Statement(sql, 1), "t.sql")


def test_split_respects_quotes_comments_and_dollar_bodies():
    text = "-- c\nSELECT ';';\nCREATE FUNCTION f() RETURNS int LANGUAGE sql AS $$ SELECT 1; $$;\n\nSELECT 'it''s';"
    stmts = split_sql(text)
    assert [s.line for s in stmts] == [2, 3, 5]
    assert stmts[1].sql.endswith("$$ SELECT 1; $$")


@pytest.mark.parametrize(
    "sql, rule",
    [
        (
            "CREATE TABLE c (id INT PRIMARY KEY, p INT, CONSTRAINT fk_c_p FOREIGN KEY (p) REFERENCES p (id) "
            "ON DELETE CASCADE)",
            "fk-referential-action",
        ),
        ("CREATE INDEX ix_t_a ON t (a) WHERE b IS NULL", "partial-index"),
        ("CREATE INDEX ix_t_s ON t USING gin (to_tsvector('english', s))", "gin-full-text-index"),
        (
            "CREATE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END; $$",
            "plpgsql-function",
        ),
        ("CREATE TRIGGER trg AFTER INSERT ON t FOR EACH ROW EXECUTE FUNCTION f()", "trigger"),
        (
            "CREATE TABLE j (d JSONB NOT NULL, CONSTRAINT ck_j_d CHECK (jsonb_typeof(d) = 'object'))",
            "jsonb-functions",
        ),
        ("CREATE TABLE e (s TEXT, CONSTRAINT ck_e_s CHECK (s ~* '^a'))", "posix-regex"),
        ("CREATE INDEX ix_t_d ON t (a DESC)", "index-sort-order"),
    ],
)
def test_each_rule_records_a_gap(sql, rule):
    out = _one(sql)
    assert rule in {g.rule for g in out.gaps}
    assert all(g.where.startswith("t.sql:1 ") for g in out.gaps)


def test_rewritten_statements_run_on_duckdb_and_keep_meaning():
    con = duckdb.connect()
    con.execute("CREATE TABLE p (id INT PRIMARY KEY)")
    for sql in [
        "CREATE TABLE c (id INT PRIMARY KEY, p INT, d JSONB NOT NULL DEFAULT '{}', s TEXT, "
        "CONSTRAINT fk_c_p FOREIGN KEY (p) REFERENCES p (id) ON DELETE SET NULL, "
        "CONSTRAINT ck_c_d CHECK (jsonb_typeof(d) = 'object'), CONSTRAINT ck_c_s CHECK (s ~* '^ab'))",
        "CREATE INDEX ix_c_s ON c (s) WHERE s IS NOT NULL",
    ]:
        for st in _one(sql).statements:
            con.execute(st.sql)
    con.execute("INSERT INTO c (id, s) VALUES (1, 'ABc')")  # ~* is case-insensitive
    with pytest.raises(duckdb.ConstraintException):
        con.execute("INSERT INTO c (id, d) VALUES (2, '[1]')")
    with pytest.raises(duckdb.ConstraintException):
        con.execute("INSERT INTO c (id, s) VALUES (3, 'xab')")


def test_sql_function_becomes_a_macro_that_agrees():
    fn = (
        "CREATE FUNCTION v(schema JSONB) RETURNS BOOLEAN LANGUAGE sql IMMUTABLE AS $$ "
        "SELECT (schema ? 'variables') AND jsonb_typeof((schema -> 'variables')) = 'array' $$"
    )
    out = _one(fn)
    assert out.statements[0].sql.startswith("CREATE MACRO v(schema)")
    con = duckdb.connect()
    con.execute(out.statements[0].sql)
    assert con.execute(
        """SELECT v('{"variables": []}'::JSON), v('{"variables": {}}'::JSON), v('{}'::JSON)"""
    ).fetchone() == (True, False, False)


def test_unique_partial_index_is_skipped_not_widened():
    out = _one("CREATE UNIQUE INDEX uq_t_a ON t (a) WHERE deleted_at IS NULL")
    assert out.statements == [] and [g.rule for g in out.gaps] == ["partial-index"]


def test_named_constraints_are_registered():
    out = _one(
        "CREATE TABLE t (id INT, a TEXT, CONSTRAINT pk_t PRIMARY KEY (id), CONSTRAINT ck_t_a CHECK (length(a) > 1))"
    )
    assert {(n.name, n.kind, n.columns) for n in out.names} == {
        ("pk_t", "PRIMARY KEY", ("id",)),
        ("ck_t_a", "CHECK", ("a",)),
    }


def test_gap_rows_of_the_real_migrations_cover_every_rule_used():
    gaps = migrate.gaps()
    assert gaps, "the migrations use PostgreSQL constructs DuckDB lacks"
    assert {g.rule for g in gaps} <= RULES.keys()
    fk = [g.where for g in gaps if g.rule == "fk-referential-action"]
    assert "V0004__projects.sql:4 fk_projects_template_id_templates" in fk
    declared = sum(len(re.findall(r"^CREATE TRIGGER", m.text, re.M)) for m in migrate.discover())
    assert len([g for g in gaps if g.rule == "trigger"]) == declared > 8


def test_every_migration_adapts_and_applies_to_duckdb():
    from workbook.dialect import Context

    con = duckdb.connect()
    ctx = Context()  # what the earlier files established, as the runner adapts a folder
    for m in migrate.discover():
        for st in adapt_script(m.text, m.name, ctx).statements:
            con.execute(st.sql)
    assert (
        con.execute("SELECT count(*) FROM duckdb_tables()").fetchone()[0] == 11
    )  # 7 design tables, migration_log, erasure_log, the ledger and its repairs


@pytest.mark.parametrize(
    "body, reason",
    [
        ("SELECT count(*) FROM t WHERE x = p", "FROM, WHERE"),
        ("SELECT p + 1; SELECT 2", "2 statements"),
        ("SELECT $1 + 1", "positional parameters"),
        ("SELECT p, p", "2 expressions"),
        ("SELECT p + (SELECT max(x) FROM t)", "subquery"),
    ],
)
def test_sql_function_that_a_macro_cannot_hold_becomes_a_gap_not_a_wrong_macro(body, reason):
    out = _one(f"CREATE FUNCTION n_of(p INT) RETURNS BIGINT LANGUAGE sql AS $$ {body} $$")
    assert out.statements == [], "no macro that computes something else"
    (gap,) = out.gaps
    assert gap.rule == "sql-function-not-translatable" and gap.where == "t.sql:1 n_of"
    assert reason in gap.detail


def test_function_with_a_typed_parameter_list_still_becomes_a_macro():
    out = _one(
        "CREATE FUNCTION f(a NUMERIC(10, 2), b TEXT) RETURNS INT LANGUAGE sql AS $$ SELECT a + length(b) $$"
    )
    assert [s.sql for s in out.statements] == ["CREATE MACRO f(a, b) AS a + LENGTH(b)"]


@pytest.mark.parametrize(
    "text, line, what",
    [
        ("SELECT 1;\nCREATE FUNCTION f() RETURNS int LANGUAGE sql AS $$\nSELECT 1;\nSELECT 2;", 2, "$$"),
        ("SELECT 1;\nSELECT 'it;\nSELECT 2;", 2, "quoted string '"),
        ('SELECT "x;\nSELECT 2;', 1, 'quoted name "'),
        ("SELECT 1;\n/* note\nSELECT 2;", 2, "block comment"),
        ("SELECT 1; $body$ SELECT 2; $bod$", 1, "$body$"),
    ],
)
def test_unterminated_quoting_is_an_error_not_a_swallowed_file(text, line, what):
    with pytest.raises(WorkbookError, match=rf"^V9__x\.sql:{line}: unterminated .*{re.escape(what)}"):
        split_sql(text, "V9__x.sql")


def test_a_statement_the_adapter_cannot_parse_is_an_error_naming_the_line():
    with pytest.raises(WorkbookError, match=r"^t\.sql:1: the DuckDB adapter cannot parse this statement"):
        _one("INSERT INTO t VALUES (1")


def test_an_untranslatable_function_is_an_explained_gap_row(migrations_copy):
    """The function is absent on DuckDB, the parity check accepts it, and the gap row says why."""
    from workbook import parity
    from workbook.catalog import read_catalog
    from workbook.engines import connect

    (migrations_copy / "V9001__project_count.sql").write_text(
        "CREATE FUNCTION project_count(p_owner UUID) RETURNS BIGINT LANGUAGE sql STABLE AS $$\n"
        "    SELECT count(*) FROM projects WHERE owner_id = p_owner\n$$;\n"
    )
    cats = {}
    for engine in ("postgres", "duckdb"):
        with connect(engine) as db:
            migrate.migrate(db, migrations_copy)
            cats[engine] = read_catalog(db)
    gaps = migrate.gaps(migrations_copy)
    assert "project_count" in cats["postgres"].functions and "project_count" not in cats["duckdb"].functions
    (diff,) = [d for d in parity.check(cats["postgres"], cats["duckdb"], gaps) if d.obj == "project_count"]
    assert diff.rule == "sql-function-not-translatable"
    (row,) = [
        r for r in parity.gap_rows(gaps, cats["postgres"], cats["duckdb"]) if "not-translatable" in r[1]
    ]
    assert "V9001__project_count.sql:1 project_count (the body's SELECT has FROM, WHERE)" in row[2]
    assert row[4] == "not available"
