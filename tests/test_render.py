"""Tests for workbook.render: diagrams, reference markdown and relationship analysis."""

from __future__ import annotations

import shutil

import pytest

from workbook import render
from workbook.errors import WorkbookError
from workbook.model import Catalog, Column, Constraint, Index, Table, Trigger

TS = "TIMESTAMP WITH TIME ZONE"


def pk(table: str, *cols: str) -> Constraint:
    """A primary key constraint."""
    return Constraint(f"pk_{table}", "PRIMARY KEY", cols, f"PRIMARY KEY ({', '.join(cols)})")


def uq(name: str, *cols: str) -> Constraint:
    """A unique constraint."""
    return Constraint(name, "UNIQUE", cols, f"UNIQUE ({', '.join(cols)})")


def fk(table: str, col: str, ref: str, on_delete: str | None = None) -> Constraint:
    """A single-column foreign key to ref(id)."""
    return Constraint(
        f"fk_{table}_{col}_{ref}",
        "FOREIGN KEY",
        (col,),
        f"FOREIGN KEY ({col}) REFERENCES {ref}(id)",
        ref_table=ref,
        ref_columns=("id",),
        on_delete=on_delete,
    )


def col(name: str, type_: str = "UUID", nullable: bool = False, **kw: str) -> Column:
    """A column, NOT NULL unless told."""
    return Column(name, type_, nullable, **kw)


USERS = Table(
    "users",
    comment="People who own projects.",
    columns=(
        col("id", default="gen_random_uuid()", comment="Surrogate key."),
        col("email", "TEXT", comment='Login "address"; unique ignoring case.'),
        col("nickname", "VARCHAR(50)", nullable=True),
        col("created_at", TS, default="now()"),
        col("updated_at", TS, default="now()"),
    ),
    constraints=(
        pk("users", "id"),
        Constraint("ck_users_email", "CHECK", ("email",), "CHECK (email ~* '^a|b$')"),
    ),
    indexes=(
        Index("pk_users", ("id",), True, "CREATE UNIQUE INDEX pk_users ON users (id)"),
        Index("uq_users_email_lower", ("lower(email)",), True, "CREATE UNIQUE INDEX ... (lower(email))"),
        Index("uq_users_nickname", ("nickname",), True, "CREATE UNIQUE INDEX ... (nickname)"),
    ),
    triggers=(Trigger("trg_users_audit", "AFTER", ("INSERT", "UPDATE"), "audit_trigger"),),
)
TEMPLATES = Table(
    "templates",
    columns=(col("id"), col("author_id"), col("schema", "JSONB"), col("created_at", TS)),
    constraints=(pk("templates", "id"), fk("templates", "author_id", "users", "CASCADE")),
)
PROJECTS = Table(
    "projects",
    columns=(
        col("id"),
        col("name", "TEXT"),
        col("owner_id"),
        col("template_id", nullable=True),
        col("configuration", "JSONB"),
    ),
    constraints=(
        pk("projects", "id"),
        fk("projects", "owner_id", "users"),
        fk("projects", "template_id", "templates"),
        uq("uq_projects_owner_id_name", "owner_id", "name"),
    ),
)
PATTERNS = Table(
    "patterns",
    columns=(col("id"), col("name", "TEXT"), col("template_id")),
    constraints=(
        pk("patterns", "id"),
        fk("patterns", "template_id", "templates"),
        uq("uq_patterns_template_id_name", "template_id", "name"),
    ),
)
APPLICATIONS = Table(
    "pattern_applications",
    columns=(
        col("id"),
        col("project_id"),
        col("pattern_id"),
        col("applied_by", nullable=True),
        col("applied_at", TS),
    ),
    constraints=(
        pk("pattern_applications", "id"),
        fk("pattern_applications", "project_id", "projects"),
        fk("pattern_applications", "pattern_id", "patterns"),
        fk("pattern_applications", "applied_by", "users"),
    ),
)
PROFILES = Table(
    "profiles",
    columns=(col("id"), col("user_id"), col("bio", "TEXT", nullable=True)),
    constraints=(
        pk("profiles", "id"),
        fk("profiles", "user_id", "users"),
        uq("uq_profiles_user_id", "user_id"),
    ),
)
CATEGORIES = Table(
    "categories",
    columns=(col("id", "INTEGER"), col("parent_id", "INTEGER", nullable=True)),
    constraints=(pk("categories", "id"), fk("categories", "parent_id", "categories")),
)
MEMBERS = Table(
    "project_members",
    columns=(col("project_id"), col("user_id"), col("role", "TEXT")),
    constraints=(
        pk("project_members", "project_id", "user_id"),
        fk("project_members", "project_id", "projects"),
        fk("project_members", "user_id", "users"),
    ),
)
ACTIVE_USERS = Table(
    "active_users",
    kind="view",
    comment="Users still active.",
    columns=(col("id", nullable=True), col("email", "TEXT", nullable=True)),
)

CATALOG = Catalog(
    "postgres",
    tables=tuple(
        sorted(
            (USERS, TEMPLATES, PROJECTS, PATTERNS, APPLICATIONS, PROFILES, CATEGORIES, MEMBERS, ACTIVE_USERS),
            key=lambda t: t.name,
        )
    ),
)


def _fk(table: Table, ref: str) -> Constraint:
    return next(c for c in table.foreign_keys if c.ref_table == ref)


# --------------------------------------------------------------------------- cardinality


def test_cardinality_not_null_not_unique() -> None:
    assert render.cardinality(PROJECTS, _fk(PROJECTS, "users")) == ("||", "o{")


def test_cardinality_nullable_not_unique() -> None:
    assert render.cardinality(PROJECTS, _fk(PROJECTS, "templates")) == ("|o", "o{")


def test_cardinality_unique_fk_is_one_to_one() -> None:
    assert render.cardinality(PROFILES, _fk(PROFILES, "users")) == ("||", "o|")


def test_cardinality_part_of_composite_key_is_many() -> None:
    assert render.cardinality(PATTERNS, _fk(PATTERNS, "templates")) == ("||", "o{")


def test_cardinality_unique_index_counts() -> None:
    table = Table(
        "t",
        columns=(col("id"), col("u_id", nullable=True)),
        constraints=(pk("t", "id"), fk("t", "u_id", "users")),
        indexes=(Index("ux_t_u_id", ("u_id",), True, "CREATE UNIQUE INDEX ux_t_u_id ON t (u_id)"),),
    )
    assert render.cardinality(table, table.foreign_keys[0]) == ("|o", "o|")


# --------------------------------------------------------------------------- mermaid


def test_mermaid_entities_and_columns() -> None:
    text = render.mermaid_er(CATALOG)
    lines = text.splitlines()
    assert lines[0] == "erDiagram"
    assert "    USERS {" in lines
    assert '        uuid id PK "Surrogate key."' in lines
    assert '        text email "Login address; unique ignoring case."' in lines
    assert "        varchar_50 nickname UK" in lines
    assert "        timestamp_with_time_zone created_at" in lines
    assert "        uuid owner_id FK, UK" in lines
    assert "        uuid project_id PK, FK" in lines
    assert "ACTIVE_USERS" not in text  # views take no part
    entities = [line.split()[0] for line in lines if line.endswith("{")]
    assert entities == [t.name.upper() for t in CATALOG.base_tables]  # table-name order


def test_mermaid_relationship_lines() -> None:
    lines = render.mermaid_er(CATALOG).splitlines()
    assert '    USERS ||--o{ PROJECTS : "owner_id"' in lines
    assert '    TEMPLATES |o--o{ PROJECTS : "template_id"' in lines
    assert '    USERS ||--o| PROFILES : "user_id"' in lines
    assert '    USERS |o--o{ PATTERN_APPLICATIONS : "applied_by"' in lines
    assert '    CATEGORIES |o--o{ CATEGORIES : "parent_id"' in lines
    rels = [line for line in lines if "--" in line]
    assert rels[0] == '    CATEGORIES |o--o{ CATEGORIES : "parent_id"'
    # pattern_applications: applied_by, pattern_id, project_id by constraint name
    assert [r.split()[-1] for r in rels[1:4]] == ['"applied_by"', '"pattern_id"', '"project_id"']


def test_mermaid_is_deterministic() -> None:
    assert render.mermaid_er(CATALOG) == render.mermaid_er(CATALOG)


# --------------------------------------------------------------------------- reference


def test_reference_table_header_and_links() -> None:
    text = render.reference_markdown(CATALOG, "users")
    lines = text.splitlines()
    assert lines[0] == "### users"
    assert "People who own projects." in lines
    assert "| Name | Type | Default | Nullable | Parents | Children | Comment |" in lines
    id_row = next(line for line in lines if line.startswith("| id |"))
    assert "`gen_random_uuid()`" in id_row
    assert "| false |" in id_row
    for child in ("pattern_applications", "profiles", "project_members", "projects", "templates"):
        assert f"[{child}](#{child})" in id_row
    assert "[pattern_applications](#pattern_applications)<br>[profiles](#profiles)" in id_row
    assert "| nickname | VARCHAR(50) |  | true |" in text
    assert "`CHECK (email ~* '^a\\|b$')`" in text  # pipes escaped
    assert "| trg_users_audit | AFTER | INSERT OR UPDATE | `audit_trigger` |" in lines


def test_reference_parents_and_level() -> None:
    text = render.reference_markdown(CATALOG, "projects", level=4)
    assert text.startswith("#### projects\n")
    owner = next(line for line in text.splitlines() if line.startswith("| owner_id |"))
    assert "[users](#users)" in owner
    assert "Triggers" not in text


def test_reference_constraint_order() -> None:
    text = render.reference_markdown(CATALOG, "projects")
    prefixes = ("| pk_", "| fk_", "| uq_")
    names = [line.split(" | ")[0][2:] for line in text.splitlines() if line.startswith(prefixes)]
    assert names == [
        "pk_projects",
        "uq_projects_owner_id_name",
        "fk_projects_owner_id_users",
        "fk_projects_template_id_templates",
    ]


def test_reference_all_tables_then_views() -> None:
    text = render.reference_all(CATALOG)
    headings = [line for line in text.splitlines() if line.startswith("### ")]
    assert headings[-1] == "### active_users"
    assert headings[:-1] == sorted(headings[:-1])
    assert render.reference_all(CATALOG) == text


def test_cell_escapes_newlines_and_pipes() -> None:
    table = Table("t", columns=(col("a", comment="one\ntwo | three"),))
    text = render.reference_markdown(Catalog("duckdb", (table,)), "t")
    assert "one two \\| three" in text


# --------------------------------------------------------------------------- relationships


def _rels(kind: str) -> list[render.Relationship]:
    return [r for r in render.relationships(CATALOG) if r.kind == kind]


def test_relationship_one_to_many() -> None:
    rels = _rels("one-to-many")
    owner = next(r for r in rels if r.child == "projects" and r.via == "owner_id")
    assert owner.parent == "users"
    assert owner.evidence == "fk_projects_owner_id_users: projects.owner_id NOT NULL, not unique"
    assert any(r.child == "projects" and r.parent == "templates" and "nullable" in r.evidence for r in rels)


def test_relationship_one_to_one() -> None:
    assert [(r.parent, r.child) for r in _rels("one-to-one")] == [("users", "profiles")]


def test_relationship_many_to_many_via_junction() -> None:
    rels = _rels("many-to-many")
    by_via = {r.via: r for r in rels}
    assert set(by_via) == {"pattern_applications", "project_members"}
    app = by_via["pattern_applications"]
    assert (app.parent, app.child) == ("projects", "patterns")  # column order of the junction
    assert "with history (applied_at)" in app.evidence
    assert "applied_by" not in app.evidence  # nullable FK takes no part
    members = by_via["project_members"]
    assert (members.parent, members.child) == ("projects", "users")
    assert "history" not in members.evidence


def test_relationship_hierarchical() -> None:
    rels = _rels("hierarchical")
    pairs = {(r.parent, r.child, r.via) for r in rels}
    assert ("templates", "patterns", "template_id") in pairs  # UNIQUE(template_id, name)
    assert ("users", "projects", "owner_id") in pairs  # UNIQUE(owner_id, name)
    assert ("categories", "categories", "parent_id") in pairs  # self-reference
    assert ("projects", "projects.configuration", "json") in pairs
    assert ("templates", "templates.schema", "json") in pairs
    # a junction's composite key of FK columns only is not a hierarchy
    assert not any(r.child == "project_members" for r in rels)


def test_relationship_temporal() -> None:
    rels = {r.parent: r for r in _rels("temporal")}
    assert rels["users"].evidence == "created_at, updated_at"
    assert rels["pattern_applications"].evidence == "applied_at"
    assert "projects" not in rels
    assert "active_users" not in rels


def test_relationships_sorted_and_markdown() -> None:
    rels = render.relationships(CATALOG)
    order = {k: i for i, k in enumerate(render.RELATIONSHIP_KINDS)}
    keys = [(order[r.kind], r.parent, r.child, r.via) for r in rels]
    assert keys == sorted(keys)
    text = render.relationships_markdown(CATALOG)
    assert text.splitlines()[0] == "| Kind | Parent | Child | Via | Evidence |"
    assert "| many-to-many | projects | patterns | pattern_applications |" in text
    assert render.relationships_markdown(CATALOG) == text


def test_no_hard_coded_names() -> None:
    renamed = Catalog(
        "duckdb",
        (
            Table("a", columns=(col("id"),), constraints=(pk("a", "id"),)),
            Table("b", columns=(col("id"),), constraints=(pk("b", "id"),)),
            Table(
                "link",
                columns=(col("id"), col("a_id"), col("b_id")),
                constraints=(pk("link", "id"), fk("link", "a_id", "a"), fk("link", "b_id", "b")),
            ),
        ),
    )
    m2m = [r for r in render.relationships(renamed) if r.kind == "many-to-many"]
    assert [(r.parent, r.child, r.via) for r in m2m] == [("a", "b", "link")]


# --------------------------------------------------------------------------- graphviz

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz 'dot' not installed")


def test_er_graph_source() -> None:
    source = render.er_graph(CATALOG).source
    assert "rankdir=LR" in source
    assert "shape=plain" in source
    assert "active_users" not in source
    assert "projects -> users" in source
    assert "arrowhead=teetee" in source and "arrowtail=crowodot" in source
    assert "arrowhead=teeodot" in source  # nullable template_id
    assert "<I>nickname : varchar(50)?</I>" in source
    assert render.er_graph(CATALOG).source == source


@needs_dot
def test_er_svg_is_clean_and_deterministic() -> None:
    svg = render.er_svg(CATALOG)
    assert "<svg" in svg
    assert "Generated by graphviz" not in svg
    assert "/work/" not in svg and "/tmp/" not in svg
    assert render.er_svg(CATALOG) == svg
    shown = render.er_svg_display(CATALOG)
    assert shown._repr_svg_() == svg


def test_er_svg_without_dot(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(WorkbookError) as info:
        render.er_svg(CATALOG)
    assert str(info.value) == render.DOT_MISSING
    assert "\n" not in str(info.value)
    assert str(info.value).startswith("Graphviz 'dot' not found on PATH: run 'make setup'")


def test_er_graph_escapes_html_and_uses_row_ports() -> None:
    table = Table("t", columns=(col("a<b", "TEXT", comment="x & y"),))
    source = render.er_graph(Catalog("duckdb", (table,))).source
    assert "a&lt;b : text" in source
    edges = render.er_graph(CATALOG).source
    owner = next(line for line in edges.splitlines() if "label=owner_id" in line)
    assert owner.strip().startswith("projects -> users")
    assert 'headport="l0:w"' in owner and 'tailport="r2:e"' in owner


def test_junction_evidence_names_joint_key() -> None:
    members = next(r for r in render.relationships(CATALOG) if r.via == "project_members")
    assert members.evidence.endswith("jointly unique (pk_project_members)")
    app = next(r for r in render.relationships(CATALOG) if r.via == "pattern_applications")
    assert "not unique together" in app.evidence
