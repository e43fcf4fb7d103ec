"""The schema lint on a live PostgreSQL: each rule fires on a planted defect and only there, and every
hit of the migrated design has a reviewed reason."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from workbook import migrate, schema_lint
from workbook.design.schema_lint import REASONS
from workbook.engines import DuckDBEngine, connect
from workbook.errors import WorkbookError


@pytest.fixture(scope="module")
def migrated():
    """One PostgreSQL schema with every migration applied, shared by the tests of the real design."""
    with connect("postgres") as pg:
        migrate.migrate(pg)
        yield pg


@pytest.fixture
def scratch():
    """An empty private PostgreSQL schema, dropped after the test."""
    with connect("postgres") as pg:
        yield pg


def _plant(db, sql: str) -> None:
    for statement in filter(str.strip, sql.split(";")):
        db.execute(statement)


def _objects(db, rule: str) -> set[str]:
    return {h.object for h in schema_lint.run(db, [rule])}


# -- each rule on a planted schema -------------------------------------------------------------------


def test_fk_without_index_fires_on_unindexed_partial_and_half_covered_keys(scratch):
    _plant(
        scratch,
        """
        CREATE TABLE parent (id int CONSTRAINT pk_parent PRIMARY KEY, a int, b int,
            CONSTRAINT uq_parent_a_b UNIQUE (a, b));
        CREATE TABLE no_index (id int PRIMARY KEY, parent_id int CONSTRAINT fk_none REFERENCES parent);
        CREATE TABLE indexed (id int PRIMARY KEY, parent_id int CONSTRAINT fk_indexed REFERENCES parent);
        CREATE INDEX ix_indexed_parent_id ON indexed (parent_id);
        CREATE TABLE partial (id int PRIMARY KEY, gone bool, parent_id int CONSTRAINT fk_partial REFERENCES parent);
        CREATE INDEX ix_partial_parent_id ON partial (parent_id) WHERE NOT gone;
        CREATE TABLE by_pk (parent_id int PRIMARY KEY CONSTRAINT fk_by_pk REFERENCES parent);
        CREATE TABLE any_order (id int PRIMARY KEY, a int, b int,
            CONSTRAINT fk_any_order FOREIGN KEY (a, b) REFERENCES parent (a, b));
        CREATE INDEX ix_any_order_b_a ON any_order (b, a, id);
        CREATE TABLE half (id int PRIMARY KEY, a int, b int,
            CONSTRAINT fk_half FOREIGN KEY (a, b) REFERENCES parent (a, b));
        CREATE INDEX ix_half_a ON half (a);
        CREATE TABLE not_leading (id int PRIMARY KEY, x int, parent_id int CONSTRAINT fk_not_leading REFERENCES parent);
        CREATE INDEX ix_not_leading_x_parent ON not_leading (x, parent_id);
        """,
    )
    hits = schema_lint.run(scratch, [schema_lint.FK_WITHOUT_INDEX])
    assert {h.object for h in hits} == {
        "no_index.fk_none",
        "partial.fk_partial",
        "half.fk_half",
        "not_leading.fk_not_leading",
    }
    partial = next(h for h in hits if h.object == "partial.fk_partial")
    assert "ix_partial_parent_id: partial" in partial.detail


def test_table_without_primary_key_fires_on_heap_tables_only(scratch):
    _plant(
        scratch,
        """
        CREATE TABLE keyed (id int CONSTRAINT pk_keyed PRIMARY KEY);
        CREATE TABLE heap (id int);
        CREATE TABLE only_unique (id int NOT NULL CONSTRAINT uq_only_unique_id UNIQUE);
        CREATE TABLE parted (id int, CONSTRAINT pk_parted PRIMARY KEY (id)) PARTITION BY RANGE (id);
        CREATE TABLE parted_low PARTITION OF parted FOR VALUES FROM (0) TO (10);
        CREATE TABLE parted_heap (id int) PARTITION BY RANGE (id);
        CREATE VIEW a_view AS SELECT id FROM heap;
        """,
    )
    assert _objects(scratch, schema_lint.NO_PRIMARY_KEY) == {"heap", "only_unique", "parted_heap"}


def test_missing_comment_fires_on_tables_views_and_table_columns(scratch):
    _plant(
        scratch,
        """
        CREATE TABLE described (id int, note text);
        COMMENT ON TABLE described IS 'Described.';
        COMMENT ON COLUMN described.id IS 'Key.';
        COMMENT ON COLUMN described.note IS 'A note.';
        CREATE TABLE half_described (id int, note text);
        COMMENT ON TABLE half_described IS 'Half.';
        COMMENT ON COLUMN half_described.id IS 'Key.';
        COMMENT ON COLUMN half_described.note IS '   ';
        CREATE TABLE bare (id int);
        COMMENT ON COLUMN bare.id IS 'Key.';
        CREATE VIEW described_view AS SELECT id, note FROM described;
        COMMENT ON VIEW described_view IS 'Columns of a view need no comment.';
        CREATE VIEW bare_view AS SELECT id FROM bare
        """,
    )
    assert _objects(scratch, schema_lint.MISSING_COMMENT) == {"half_described.note", "bare", "bare_view"}


def test_redundant_index_fires_on_prefixes_and_duplicates_that_enforce_nothing_more(scratch):
    _plant(
        scratch,
        """
        CREATE TABLE t (id int, a int, b int, c int, d int, CONSTRAINT pk_t PRIMARY KEY (id));
        ALTER TABLE t ADD CONSTRAINT uq_t_id UNIQUE (id);
        CREATE INDEX ix_t_a ON t (a);
        CREATE INDEX ix_t_a_b ON t (a, b);
        CREATE INDEX ix_t_a_hash ON t USING hash (a);
        CREATE UNIQUE INDEX uq_t_c ON t (c);
        CREATE INDEX ix_t_c_a ON t (c, a);
        CREATE INDEX ix_t_c ON t (c);
        CREATE INDEX ix_t_d_positive ON t (d) WHERE a > 0;
        CREATE INDEX ix_t_d_b ON t (d, b);
        CREATE INDEX ix_t_d_b_again ON t (d, b);
        CREATE INDEX ix_t_b_with_d ON t (b) INCLUDE (d);
        CREATE INDEX ix_t_b_c ON t (b, c);
        CREATE INDEX ix_t_b_desc ON t (b DESC, a);
        CREATE INDEX ix_t_lower ON t ((a + b));
        CREATE INDEX ix_t_lower_c ON t ((a + b), c)
        """,
    )
    hits = schema_lint.run(scratch, [schema_lint.REDUNDANT_INDEX])
    assert {h.object for h in hits} == {
        "t.uq_t_id",  # the primary key is kept
        "t.ix_t_a",
        "t.ix_t_c",  # non-unique, beside a unique index on the same column
        "t.ix_t_d_b_again",  # an exact duplicate: the first by name is kept
        "t.ix_t_lower",  # an expression key counts like a column
    }
    assert next(h for h in hits if h.object == "t.uq_t_id").detail == "(id) duplicates pk_t (id)"


def test_unnamed_constraint_fires_on_engine_generated_and_unprefixed_names(scratch):
    _plant(
        scratch,
        """
        CREATE TABLE good (id int CONSTRAINT pk_good PRIMARY KEY, code text NOT NULL
            CONSTRAINT ck_good_code CHECK (code <> ''), CONSTRAINT uq_good_code UNIQUE (code));
        CREATE INDEX ix_good_code_id ON good (code, id);
        CREATE UNIQUE INDEX uq_good_lower_code ON good (lower(code));
        CREATE TABLE slot (id int CONSTRAINT pk_slot PRIMARY KEY, span int4range,
            CONSTRAINT ex_slot_span EXCLUDE USING gist (span WITH &&));
        CREATE TABLE bad (id int PRIMARY KEY, good_id int REFERENCES good, code text CHECK (code <> '') UNIQUE);
        CREATE INDEX ON bad (good_id);
        CREATE UNIQUE INDEX ix_bad_lower_code ON bad (lower(code));
        CREATE TABLE ix_log (id int CONSTRAINT pk_ix_log PRIMARY KEY, at timestamptz);
        CREATE INDEX ON ix_log (at)
        """,
    )
    hits = schema_lint.run(scratch, [schema_lint.UNNAMED])
    assert {h.object for h in hits} == {
        "bad.bad_pkey",
        "bad.bad_good_id_fkey",
        "bad.bad_code_check",
        "bad.bad_code_key",
        "bad.bad_good_id_idx",
        "bad.ix_bad_lower_code",  # a unique index is uq_
        "ix_log.ix_log_at_idx",  # begins with ix_, but is PostgreSQL's own name
    }
    assert not any(h.object.endswith("_not_null") for h in hits)


def test_nullable_column_in_unique_key_fires_where_nulls_never_conflict(scratch):
    _plant(
        scratch,
        """
        CREATE DOMAIN required_code AS text NOT NULL;
        CREATE TABLE u (id int CONSTRAINT pk_u PRIMARY KEY, a int NOT NULL, b int, c int, e text,
            f required_code,
            CONSTRAINT uq_u_a UNIQUE (a),
            CONSTRAINT uq_u_a_b UNIQUE (a, b),
            CONSTRAINT uq_u_b_nulls_equal UNIQUE NULLS NOT DISTINCT (b),
            CONSTRAINT uq_u_f UNIQUE (f));
        CREATE UNIQUE INDEX uq_u_c_set ON u (c) WHERE c IS NOT NULL;
        CREATE UNIQUE INDEX uq_u_c_set_live ON u (a, c) WHERE c IS NOT NULL AND b > 0;
        CREATE UNIQUE INDEX uq_u_lower_e ON u (lower(e));
        CREATE UNIQUE INDEX uq_u_e_or_empty ON u (a, lower(coalesce(e, '')));
        CREATE UNIQUE INDEX uq_u_e_include ON u (a) INCLUDE (e)
        """,
    )
    hits = schema_lint.run(scratch, [schema_lint.NULLABLE_UNIQUE])
    assert {h.object for h in hits} == {"u.uq_u_a_b", "u.uq_u_lower_e"}
    assert (
        next(h for h in hits if h.object == "u.uq_u_a_b").detail == "unique constraint (a, b): b can be NULL"
    )


def test_varchar_length_fires_on_bounded_character_types_of_tables(scratch):
    _plant(
        scratch,
        """
        CREATE DOMAIN short_name AS varchar(20);
        CREATE TABLE v (id int PRIMARY KEY, a varchar(10), b char(2), c varchar, d text, e varchar(5)[],
            f short_name, g "char", h character, i text CONSTRAINT ck_v_i CHECK (char_length(i) <= 10));
        CREATE VIEW v_view AS SELECT a, b FROM v
        """,
    )
    hits = schema_lint.run(scratch, [schema_lint.VARCHAR])
    assert {h.object for h in hits} == {"v.a", "v.b", "v.e", "v.f", "v.h"}


def test_a_clean_schema_has_no_hit(scratch):
    _plant(
        scratch,
        """
        CREATE TABLE parent (id bigint CONSTRAINT pk_parent PRIMARY KEY, name text NOT NULL
            CONSTRAINT ck_parent_name CHECK (char_length(name) <= 100), CONSTRAINT uq_parent_name UNIQUE (name));
        COMMENT ON TABLE parent IS 'A parent.';
        COMMENT ON COLUMN parent.id IS 'Key.';
        COMMENT ON COLUMN parent.name IS 'Its name.';
        CREATE TABLE child (id bigint CONSTRAINT pk_child PRIMARY KEY, parent_id bigint NOT NULL
            CONSTRAINT fk_child_parent_id_parent REFERENCES parent);
        CREATE INDEX ix_child_parent_id ON child (parent_id);
        COMMENT ON TABLE child IS 'A child.';
        COMMENT ON COLUMN child.id IS 'Key.';
        COMMENT ON COLUMN child.parent_id IS 'Its parent.'
        """,
    )
    assert schema_lint.run(scratch) == []
    assert schema_lint.check(scratch, {}) == []


# -- the machinery ---------------------------------------------------------------------------------------


def test_an_unexplained_hit_fails_check_in_one_line_naming_rule_and_object(scratch):
    _plant(
        scratch, "CREATE TABLE heap (id int); COMMENT ON TABLE heap IS 'x'; COMMENT ON COLUMN heap.id IS 'y'"
    )
    with pytest.raises(WorkbookError) as err:
        schema_lint.check(scratch, {})
    message = str(err.value)
    assert "\n" not in message
    assert "table-without-primary-key" in message and "on heap " in message
    reviewed = schema_lint.check(scratch, {("table-without-primary-key", "heap"): "A log, scanned whole."})
    assert [(r.status, r.object) for r in reviewed] == [("explained", "heap")]


def test_a_stale_or_unknown_reason_fails_check(scratch):
    for reasons, words in (
        ({("fk-without-index", "gone.fk_gone"): "It was."}, "matches no schema lint hit"),
        ({("no-such-rule", "gone"): "It was."}, "names no schema lint rule"),
    ):
        with pytest.raises(WorkbookError, match=words) as err:
            schema_lint.check(scratch, reasons)
        assert "\n" not in str(err.value)


def test_only_postgresql_is_read():
    with DuckDBEngine() as duck, pytest.raises(WorkbookError, match="not PostgreSQL"):
        schema_lint.run(duck)


# -- the real design -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def reviewed(migrated) -> list[schema_lint.Reviewed]:
    return schema_lint.check(migrated, REASONS)


def test_the_migrated_design_has_no_unexplained_hit_and_no_stale_reason(reviewed):
    assert {r.status for r in reviewed} <= {"explained", "to fix"}
    assert {(r.rule, r.object) for r in reviewed} == set(REASONS)
    assert all(rule in schema_lint.RULES for rule, _object in REASONS)
    assert all(reason.strip() and "\n" not in reason for reason in REASONS.values())


def test_dropping_a_reason_of_the_design_fails_check(migrated, reviewed):
    if not reviewed:
        pytest.skip("the design has no hit to drop a reason of")  # pragma: no cover
    first = reviewed[0]
    fewer = {key: text for key, text in REASONS.items() if key != (first.rule, first.object)}
    with pytest.raises(WorkbookError) as err:
        schema_lint.check(migrated, fewer)
    assert f"rule {first.rule} on {first.object} " in str(err.value)


def test_the_markdown_table_lists_every_hit_with_its_reason(reviewed):
    text = schema_lint.markdown(reviewed)
    assert text.splitlines()[0] == "| Rule | Object | Found | Reason or fix |"
    assert len(text.splitlines()) == len(reviewed) + 2
    assert text == schema_lint.markdown(list(reversed(reviewed)))
    assert all(f"`{r.object}`" in text for r in reviewed)


def test_the_machinery_names_no_table_of_the_design(migrated):
    source = Path(schema_lint.__file__).read_text()
    names = [n for (n,) in migrated.fetchall("SELECT relname FROM pg_class WHERE relnamespace = "
                                             "current_schema()::regnamespace AND relkind IN ('r', 'v', 'p')")]  # fmt: skip
    assert names
    assert [n for n in names if re.search(rf"\b{re.escape(n)}\b", source)] == []
