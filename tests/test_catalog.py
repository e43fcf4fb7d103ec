"""Introspection of the live DuckDB catalog, cardinalities from it, and the seed findings."""

from __future__ import annotations

import pytest

from workbook import findings, render, seed
from workbook.engines import DuckDBEngine


def test_tables_columns_and_comments(duck_catalog):
    users = duck_catalog.table("users")
    assert users.comment.startswith("People who own projects")
    email = users.column("email")
    assert (email.type, email.nullable) == ("VARCHAR", False)
    assert users.column("role").default == "'user'"
    assert users.column("id").type == "UUID"
    assert duck_catalog.table("projects").column("deleted_at").nullable is True
    assert duck_catalog.table("active_projects").kind == "view"


def test_constraint_names_come_back_from_the_migrations(duck_catalog):
    projects = duck_catalog.table("projects")
    names = {c.name: c for c in projects.constraints}
    assert {
        "pk_projects",
        "fk_projects_owner_id_users",
        "fk_projects_template_id_templates",
        "uq_projects_owner_id_name",
        "ck_projects_name_length",
    } <= names.keys()
    fk = names["fk_projects_template_id_templates"]
    assert (fk.columns, fk.ref_table, fk.ref_columns) == (("template_id",), "templates", ("id",))
    assert names["uq_projects_owner_id_name"].columns == ("owner_id", "name")


def test_indexes_and_expression_keys(duck_catalog):
    users = duck_catalog.table("users")
    (ix,) = users.indexes
    assert (ix.name, ix.keys, ix.unique) == ("uq_users_email_lower", ("lower(email)",), True)
    projects = {i.name: i.keys for i in duck_catalog.table("projects").indexes}
    assert projects == {"ix_projects_template_id": ("template_id",)}, (
        "updated_at indexes are not kept on DuckDB"
    )


def test_catalog_follows_a_changed_migration(tmp_path, migrations_copy, monkeypatch):
    """Changing a column in a migration changes what the catalog (and so every diagram) says."""
    from workbook import config, migrate
    from workbook.catalog import read_catalog

    f = migrations_copy / "V0004__projects.sql"
    f.write_text(
        f.read_text()
        .replace("    description   TEXT,\n", "    summary       TEXT NOT NULL,\n")
        .replace("projects.description IS", "projects.summary IS")
    )
    monkeypatch.setattr(config, "MIGRATIONS_DIR", migrations_copy)
    monkeypatch.setattr(migrate.discover, "__defaults__", (migrations_copy,))
    with DuckDBEngine() as db:
        migrate.migrate(db, migrations_copy)
        cat = read_catalog(db)
    cols = {c.name: c for c in cat.table("projects").columns}
    assert "description" not in cols and cols["summary"].nullable is False
    assert "varchar summary" in render.mermaid_er(cat)
    assert "| summary |" in render.reference_markdown(cat, "projects")


def test_er_cardinalities_from_live_catalog(duck_catalog):
    projects = duck_catalog.table("projects")
    by_ref = {fk.ref_table: render.cardinality(projects, fk) for fk in projects.foreign_keys}
    assert by_ref == {"users": ("||", "o{"), "templates": ("|o", "o{")}
    mer = render.mermaid_er(duck_catalog)
    assert 'USERS ||--o{ PROJECTS : "owner_id"' in mer
    assert 'TEMPLATES |o--o{ PROJECTS : "template_id"' in mer


def test_seed_as_written_fails_where_expected_on_duckdb():
    runs = {r.seed.number: r for r in seed.run_as_written(DuckDBEngine())}
    assert not runs[2].ok  # projects
    assert runs[35].ok  # schema_migrations is plain SQL


@pytest.mark.parametrize(
    "finding, engine",
    [(f, e) for f in findings.FINDINGS for e in f.engines],
    ids=lambda v: v.id if isinstance(v, findings.Finding) else v,
)
def test_every_finding_reproduces(finding, engine):
    evidence = finding.evidence(engine)
    assert evidence and "\n" not in evidence


def test_lost_evidence_fails_loudly(monkeypatch):
    """If the seed stopped showing a defect, the finding raises instead of printing stale evidence."""
    text = seed.seed_text()
    monkeypatch.setattr(
        seed, "seed_text", lambda: text.replace("TEMPLATE ||--o{ PROJECT", "TEMPLATE |o--o{ PROJECT")
    )
    f12 = next(f for f in findings.FINDINGS if f.id == "F12")
    with pytest.raises(findings.EvidenceLost, match="F12"):
        f12.evidence("duckdb")


def test_packaged_seed_matches_the_shared_seed():
    """The package ships a copy of the seed prompt; it must be the seed the workbook reviews."""
    from workbook import config

    shared = config.PROJ_ROOT.parent / "shared" / "seed" / "000_2cccf810aa2489ac.txt"
    if not shared.exists():
        pytest.skip("no ../shared/seed beside this clone")
    assert config.SEED_PROMPT.read_bytes() == shared.read_bytes()
