"""Partitioning the largest table on generated data; the Citus rule checker on toy and real schemas."""

from __future__ import annotations

from pathlib import Path

import pytest

from workbook import distribution_check as dc
from workbook import migrate, partitioning, synth
from workbook.design.distribution import BY_PROJECT, BY_YEAR, DISTRIBUTION, PARTITIONING
from workbook.distribution_check import Distribution, Placement
from workbook.engines import connect
from workbook.errors import WorkbookError
from workbook.partitioning import Probe


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    """A migrated PostgreSQL schema holding the generated data at SF 0.01."""
    folder: Path = tmp_path_factory.mktemp("partitioning") / "sf"
    synth.generate(0.01, 42, folder)
    with connect("postgres") as db:
        migrate.migrate(db)
        synth.load_postgres(db, folder)
        yield db


CHOSEN = PARTITIONING.chosen
COPY = CHOSEN.copy


@pytest.fixture(scope="module")
def chosen(loaded):
    """The chosen scheme's partitioned copy (RANGE on applied_at by quarter)."""
    return partitioning.create_partitioned_copy(loaded)


@pytest.fixture(scope="module")
def by_project(loaded):
    """The hash alternative's partitioned copy."""
    return partitioning.create_partitioned_copy(loaded, BY_PROJECT)


def test_the_copy_holds_exactly_the_rows_of_the_table(loaded, chosen, by_project) -> None:
    assert (CHOSEN.copy, CHOSEN.column, CHOSEN.every) == (
        "pattern_applications_partitioned",
        "applied_at",
        "quarter",
    )
    original = partitioning.fingerprint(loaded, "pattern_applications")
    assert original[0] == loaded.scalar("SELECT count(*) FROM pattern_applications") > 1000
    for info in (chosen, by_project):
        assert partitioning.fingerprint(loaded, info["copy"]) == original
        assert sum(p["rows"] for p in info["partitions"]) == original[0]
    with pytest.raises(RuntimeError):  # one value changed in one row changes the checksum
        with loaded.transaction():
            loaded.execute(
                f"UPDATE {COPY} SET configuration = '{{\"x\": 1}}' "
                f"WHERE id = (SELECT id FROM {COPY} ORDER BY id LIMIT 1)"
            )
            changed = partitioning.fingerprint(loaded, COPY)
            assert changed[0] == original[0] and changed[1] != original[1]
            raise RuntimeError("roll back")


def test_the_copy_has_one_partition_per_quarter_and_one_ahead(loaded, chosen) -> None:
    first, last = loaded.fetchall(
        "SELECT date_trunc('quarter', min(applied_at)), date_trunc('quarter', max(applied_at)) "
        "FROM pattern_applications"
    )[0]

    def following(y: int, q: int) -> tuple[int, int]:
        return (y + 1, 1) if q == 4 else (y, q + 1)

    at, ahead = (first.year, (first.month - 1) // 3 + 1), following(last.year, (last.month - 1) // 3 + 1)
    quarters = []
    while at <= ahead:
        quarters.append(f"{COPY}_{at[0]}q{at[1]}")
        at = following(*at)
    names = [p["name"] for p in chosen["partitions"]]
    assert names == quarters
    assert chosen["partitions"][-1]["rows"] == 0 and chosen["partitions"][0]["rows"] > 0
    assert partitioning.partitions_of(loaded, COPY) == sorted(names)
    assert chosen["partitions"][0]["bounds"].startswith(f"FROM ('{first.year}-")


def test_yearly_bounds_are_calendar_years(loaded) -> None:
    bounds = partitioning.partition_bounds(loaded, BY_YEAR)
    first = loaded.scalar("SELECT extract(year FROM min(applied_at))::int FROM pattern_applications")
    assert bounds[0] == (
        f"pattern_applications_by_year_{first}",
        f"FOR VALUES FROM ('{first}-01-01 00:00:00+00:00') TO ('{first + 1}-01-01 00:00:00+00:00')",
    )


def test_the_primary_key_must_include_the_partition_key(loaded, chosen, by_project) -> None:
    assert chosen["primary_key"] == ["id", "applied_at"]
    assert by_project["primary_key"] == ["id", "project_id"]
    assert "must include all partitioning columns" in chosen["pk_refusal"]
    assert 'lacks column "applied_at"' in chosen["pk_refusal"]
    pk = loaded.scalar(
        f"SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = '{COPY}'::regclass AND contype = 'p'"
    )
    assert pk == "PRIMARY KEY (id, applied_at)"
    fks = loaded.scalar(
        f"SELECT count(*) FROM pg_constraint WHERE conrelid = '{COPY}'::regclass AND contype = 'f'"
    )
    assert fks == 3


def _last_quarter(loaded) -> list:
    return list(
        loaded.fetchall(
            "SELECT date_trunc('quarter', max(applied_at)), "
            "date_trunc('quarter', max(applied_at)) + interval '3 months' FROM pattern_applications"
        )[0]
    )


def test_a_query_on_the_partition_key_scans_one_partition(loaded, chosen) -> None:
    probe = Probe("one quarter", "SELECT count(*) FROM {table} WHERE applied_at >= ? AND applied_at < ?")
    facts = partitioning.run_probe(loaded, probe, COPY, _last_quarter(loaded))
    assert facts["scanned"] == 1 < facts["partitions"]
    assert facts["pruning"] == "plan time"
    last = loaded.scalar(f"SELECT count(*) FROM {COPY} WHERE applied_at >= ?", _last_quarter(loaded)[:1])
    assert facts["rows_read"] == last  # the one partition holds exactly that quarter


def test_a_query_not_on_the_partition_key_scans_all(loaded, chosen) -> None:
    pattern = loaded.scalar("SELECT id FROM patterns ORDER BY id LIMIT 1")
    probe = Probe("a pattern", "SELECT count(*) FROM {table} WHERE pattern_id = ?")
    facts = partitioning.run_probe(loaded, probe, COPY, [pattern])
    assert facts["scanned"] == facts["partitions"] == len(chosen["partitions"])
    assert facts["pruning"] == "none"


def test_hash_partitions_prune_by_key_at_plan_and_at_run_time(loaded, by_project) -> None:
    project = loaded.scalar(
        "SELECT project_id FROM pattern_applications ORDER BY applied_at DESC, id LIMIT 1"
    )
    sql = "SELECT id FROM {table} WHERE project_id = ?"
    planned = partitioning.run_probe(loaded, Probe("p", sql), "pattern_applications_by_project", [project])
    assert (planned["scanned"], planned["partitions"], planned["pruning"]) == (1, 8, "plan time")
    generic = partitioning.run_probe(
        loaded, Probe("p", sql, generic=True), "pattern_applications_by_project", [project]
    )
    assert generic["removed_at_run_time"] == 7
    assert (generic["scanned"], generic["pruning"]) == (1, "run time (executor start-up)")


def test_a_prepared_time_range_prunes_when_the_executor_starts(loaded, chosen) -> None:
    probe = Probe("since", "SELECT count(*) FROM {table} WHERE applied_at >= ?", generic=True)
    facts = partitioning.run_probe(loaded, probe, COPY, _last_quarter(loaded)[:1])
    assert (
        facts["removed_at_run_time"] == facts["partitions"] - 2
    )  # the last quarter and the one ahead remain
    assert facts["scanned"] == 2
    assert loaded.scalar("SELECT count(*) FROM pg_prepared_statements") == 0
    assert loaded.scalar("SHOW plan_cache_mode") == "auto"
    assert loaded.scalar("SHOW max_parallel_workers_per_gather") != "0"


def test_the_evidence_is_the_same_on_a_second_run_and_renders(loaded) -> None:
    first = partitioning.pruning_evidence(loaded, PARTITIONING)
    assert not loaded.table_exists("pattern_applications_by_project")  # dropped after measuring
    second = partitioning.pruning_evidence(loaded, PARTITIONING)
    assert first == second
    assert [s["scheme"] for s in first["schemes"]] == [CHOSEN.name, BY_YEAR.name, BY_PROJECT.name]
    results = {p["label"]: p["results"] for p in first["probes"]}
    quarter, year, project = CHOSEN.name, BY_YEAR.name, BY_PROJECT.name
    recent = results["recent activity: applications in the last 90 days"]
    assert recent[quarter]["scanned"] == recent[year]["scanned"] == 2 and recent[project]["scanned"] == 8
    assert recent[quarter]["rows_read"] <= recent[year]["rows_read"] < recent[project]["rows_read"]
    assert recent[project]["rows_read"] == first["schemes"][0]["rows"]  # hash reads the whole table
    page = results["project_applications: a project's page, newest first"]
    assert page[project]["scanned"] == 1 and page[quarter]["pruning"] == "none"
    bounded = results["the same page, bounded by the project's creation time"]
    assert (
        bounded[quarter]["pruning"] == "plan time" and bounded[quarter]["scanned"] < page[quarter]["scanned"]
    )
    assert results["retention: delete the first year's applications"][year]["scanned"] == 1
    assert loaded.scalar("SELECT count(*) FROM pattern_applications") == first["schemes"][0]["rows"]
    text = partitioning.render_markdown(first)
    assert f"**{quarter} (chosen)**" in text and "| Access pattern |" in text
    assert "must include all partitioning columns" in text


def test_bad_schemes_and_probes_are_refused_in_one_line(loaded) -> None:
    with pytest.raises(WorkbookError, match="RANGE needs every="):
        partitioning.Scheme("x", "pattern_applications", "x", "range", "applied_at")
    bad = partitioning.Scheme("x", "pattern_applications", "x_copy", "range", "project_id", every="year")
    with pytest.raises(WorkbookError, match="needs a date or timestamp column"):
        partitioning.create_partitioned_copy(loaded, bad)
    missing = partitioning.Scheme("x", "no_such_table", "x_copy", "hash", "id", modulus=2)
    with pytest.raises(WorkbookError, match="no_such_table is not in schema"):
        partitioning.create_partitioned_copy(loaded, missing)
    assert not loaded.table_exists("x_copy")


# The toy schemas: plain DDL in throwaway schemas, one that follows every rule and one that breaks each.

GOOD = """
CREATE TABLE countries (code text PRIMARY KEY, name text NOT NULL UNIQUE);
CREATE TABLE accounts (id uuid PRIMARY KEY, country text NOT NULL REFERENCES countries (code), email text NOT NULL);
CREATE UNIQUE INDEX uq_accounts_email ON accounts (id, lower(email));
CREATE TABLE ads (account_id uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE, id uuid NOT NULL,
                  name text NOT NULL, PRIMARY KEY (account_id, id), UNIQUE (account_id, name));
CREATE TABLE clicks (account_id uuid NOT NULL, ad_id uuid NOT NULL, id bigserial,
                     country text REFERENCES countries (code) ON DELETE SET NULL, PRIMARY KEY (account_id, id),
                     FOREIGN KEY (account_id, ad_id) REFERENCES ads (account_id, id) ON DELETE CASCADE);
CREATE TABLE settings (key text PRIMARY KEY, country text REFERENCES countries (code) ON DELETE CASCADE);
CREATE TABLE visits (account_id uuid NOT NULL, at date NOT NULL, PRIMARY KEY (account_id, at)) PARTITION BY RANGE (at);
CREATE TABLE visits_2025 PARTITION OF visits FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE FUNCTION stamp() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
CREATE TRIGGER trg_settings_stamp BEFORE UPDATE ON settings FOR EACH ROW EXECUTE FUNCTION stamp();
"""
GOOD_DESIGN = Distribution(
    (
        Placement("countries", "reference"),
        Placement("accounts", "distributed", "id", "t"),
        Placement("ads", "distributed", "account_id", "t"),
        Placement("clicks", "distributed", "account_id", "t"),
        Placement("visits", "distributed", "account_id", "t"),
        Placement("settings", "local"),
    )
)

BAD = """
CREATE TABLE regions (code text PRIMARY KEY);
CREATE TABLE tenants (id uuid PRIMARY KEY, region text REFERENCES regions (code));
CREATE TABLE notes (tenant_id uuid, id uuid PRIMARY KEY, title text UNIQUE, body text, n serial, during tstzrange,
                    EXCLUDE USING gist (during WITH &&));
CREATE UNIQUE INDEX uq_notes_tenant_title ON notes (tenant_id, lower(title));
CREATE UNIQUE INDEX uq_notes_body ON notes (lower(body));
CREATE TABLE tags (tenant_id uuid NOT NULL, id uuid NOT NULL, note_id uuid REFERENCES notes (id),
                   PRIMARY KEY (tenant_id, id));
CREATE TABLE events (tenant_id text NOT NULL, id bigint, PRIMARY KEY (tenant_id, id));
CREATE TABLE others (tenant_id uuid NOT NULL REFERENCES tenants (id), id int, PRIMARY KEY (tenant_id, id));
CREATE TABLE lookups (code text PRIMARY KEY, tenant_id uuid REFERENCES tenants (id));
CREATE TABLE logs (id int PRIMARY KEY, tenant_id uuid REFERENCES tenants (id));
CREATE TABLE configs (key text PRIMARY KEY);
CREATE TABLE usages (tenant_id uuid NOT NULL REFERENCES tenants (id) ON UPDATE CASCADE,
                     config text REFERENCES configs (key), PRIMARY KEY (tenant_id, config));
CREATE TABLE region_stats (region text NOT NULL REFERENCES regions (code) ON DELETE SET NULL, day date,
                           PRIMARY KEY (region, day));
CREATE TABLE region_names (code text PRIMARY KEY REFERENCES configs (key) ON DELETE CASCADE);
CREATE TABLE shapes (p point NOT NULL);
CREATE TABLE missing_col (id uuid PRIMARY KEY);
CREATE TABLE measures (tenant_id uuid NOT NULL, at date NOT NULL) PARTITION BY RANGE (at);
CREATE TABLE measures_2024 PARTITION OF measures FOR VALUES FROM ('2024-01-01') TO ('2025-01-01')
    PARTITION BY HASH (tenant_id);
CREATE TABLE measures_2024_0 PARTITION OF measures_2024 FOR VALUES WITH (MODULUS 1, REMAINDER 0);
CREATE TABLE stray (id int);
CREATE TABLE journal (tenant_id uuid NOT NULL, seq bigserial, at timestamptz NOT NULL DEFAULT now(),
                      PRIMARY KEY (tenant_id, seq));
CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM current_setting('toy.actor', true);
    INSERT INTO journal (tenant_id) VALUES (NEW.id);
    RETURN NEW;
END $$;
CREATE TRIGGER trg_tenants_touch AFTER INSERT ON tenants FOR EACH ROW EXECUTE FUNCTION touch();
CREATE FUNCTION keep() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
CREATE TRIGGER trg_regions_keep BEFORE UPDATE ON regions FOR EACH ROW EXECUTE FUNCTION keep();
"""
BAD_DESIGN = Distribution(
    (
        Placement("regions", "reference"),
        Placement("tenants", "distributed", "id", "t"),
        Placement("notes", "distributed", "tenant_id", "t"),
        Placement("tags", "distributed", "tenant_id", "t"),
        Placement("events", "distributed", "tenant_id", "t"),
        Placement("others", "distributed", "tenant_id", "o"),
        Placement("lookups", "reference"),
        Placement("logs", "local"),
        Placement("configs", "local"),
        Placement("usages", "distributed", "tenant_id", "t"),
        Placement("region_stats", "distributed", "region", "r"),
        Placement("region_names", "reference"),
        Placement("shapes", "distributed", "p"),
        Placement("missing_col", "distributed", "tenant_id", "t"),
        Placement("measures", "distributed", "tenant_id", "t"),
        Placement("journal", "distributed", "tenant_id", "t"),
        Placement("ghost", "reference"),
    )
)
BROKEN = {
    "declared": {"stray", "ghost"},
    "dist-column": {"notes.tenant_id", "shapes.p (point)", "missing_col.tenant_id"},
    "colocation-type": {"group t"},
    "unique-includes-dist": {
        "notes_pkey",
        "notes_title_key",
        "notes_during_excl",
        "uq_notes_body",
        "missing_col_pkey",
    },
    "fk-placement": {"lookups_tenant_id_fkey", "logs_tenant_id_fkey", "usages_config_fkey"},
    "fk-colocated": {"others_tenant_id_fkey (co-location)", "tags_note_id_fkey (columns)"},
    "fk-actions": {"usages_tenant_id_fkey", "region_stats_region_fkey", "region_names_code_fkey"},
    "sequence-bigint": {"notes.n"},
    "partition-levels": {"measures"},
    "triggers": {"trg_tenants_touch (touch)", "trg_regions_keep (keep)"},
    "trigger-writes": {"trg_tenants_touch (touch)"},
    "trigger-setting": {"trg_tenants_touch (touch)"},
    "trigger-defaults": {"journal.seq", "journal.at"},
}


def _toy(ddl: str):
    db = connect("postgres")
    db.execute(ddl)
    return db


def test_a_schema_that_follows_the_rules_passes() -> None:
    with _toy(GOOD) as db:
        report = dc.check(db, GOOD_DESIGN)
    assert report.violations == () and report.caveats == ()
    checked = {r.rule for r in report.results}
    assert {
        "unique-includes-dist",
        "fk-placement",
        "fk-colocated",
        "fk-actions",
        "sequence-bigint",
    } <= checked
    assert {"colocation-type", "partition-levels", "dist-column", "declared"} <= checked


def test_a_schema_that_breaks_each_rule_is_reported_rule_by_rule() -> None:
    with _toy(BAD) as db:
        report = dc.check(db, BAD_DESIGN)
    assert set(BROKEN) == set(dc.RULES)
    failed = {rule: {r.obj for r in report.failed(rule)} for rule in dc.RULES}
    assert failed == BROKEN
    for r in report.violations + report.caveats:
        assert r.message and r.change and "\n" not in r.message + r.change
    pk = next(r for r in report.failed("unique-includes-dist") if r.obj == "notes_pkey")
    assert pk.change == "notes: make notes_pkey (tenant_id, id), or make notes a reference table"
    tags = next(r for r in report.failed("fk-colocated") if r.table == "tags")
    assert "(tenant_id, note_id) -> notes (tenant_id, id)" in tags.change
    assert {r.severity for r in report.caveats} == {"caveat"}
    text = dc.render_markdown(report, BAD_DESIGN)
    assert "**Refused by Citus**" in text and "notes_during_excl" in text


def test_unsafe_triggers_on_turns_the_refusal_into_caveats_only() -> None:
    design = Distribution(BAD_DESIGN.placements, enable_unsafe_triggers=True)
    with _toy(BAD) as db:
        report = dc.check(db, design)
    assert report.failed("triggers") == ()
    assert {r.obj for r in report.failed("trigger-writes")} == {"trg_tenants_touch (touch)"}


def test_a_bad_declaration_is_refused_in_one_line() -> None:
    with pytest.raises(WorkbookError, match="goes with kind 'distributed'"):
        Distribution((Placement("a", "distributed"),))
    with pytest.raises(WorkbookError, match="two placements"):
        Distribution((Placement("a", "reference"), Placement("a", "local")))
    with pytest.raises(WorkbookError, match="only distributed tables have a co-location group"):
        Distribution((Placement("a", "reference", group="g"),))
    with connect("duckdb") as duck, pytest.raises(WorkbookError, match="needs a PostgreSQL catalog"):
        dc.read_schema(duck)


# What the design's distribution needs of today's schema.
REAL = {
    ("dist-column", "pattern_applications.owner_id"),
    ("dist-column", "audit_log.changed_by"),
    ("unique-includes-dist", "pk_projects"),
    ("unique-includes-dist", "pk_pattern_applications"),
    ("unique-includes-dist", "pk_audit_log"),
    ("unique-includes-dist", "uq_audit_log_seq"),
    ("fk-colocated", "fk_pattern_applications_project_id_projects (columns)"),
}


def test_the_real_schema_reports_the_changes_the_distribution_needs() -> None:
    with connect("postgres") as db:
        migrate.migrate(db)
        schema = dc.read_schema(db)
    report = dc.check_schema(schema, DISTRIBUTION)
    assert {(r.rule, r.obj) for r in report.violations if r.rule != "triggers"} == REAL
    pk = next(r for r in report.violations if r.obj == "pk_projects")
    assert pk.message == "projects: PK pk_projects (id) lacks owner_id"
    assert pk.change == "projects: make pk_projects (owner_id, id), or make projects a reference table"
    missing = next(r for r in report.violations if r.obj == "pattern_applications.owner_id")
    assert (
        "copied from projects.owner_id through fk_pattern_applications_project_id_projects" in missing.change
    )
    with_triggers = {
        t.name for t in schema.tables if t.triggers and DISTRIBUTION.placement(t.name).kind != "local"
    }
    assert {r.table for r in report.failed("triggers")} == with_triggers
    assert "audit_log" in with_triggers and "schema_migrations" not in with_triggers
    usage = [r for r in report.caveats if r.rule == "trigger-writes" and r.table == "pattern_applications"]
    assert any("writes patterns (reference)" in r.message for r in usage)
    assert {"audit_log.seq", "audit_log.txid"} <= {r.obj for r in report.failed("trigger-defaults")}
    routes = {row["pattern"]: row["verdict"] for row in dc.routing(schema, DISTRIBUTION)}
    assert routes["user_projects: a user's projects, newest first"] == "single shard"
    assert routes["user_recent_changes: what did I change recently"] == "single shard"
    assert routes["record_history: one record's audit history"].startswith("fan-out")
    assert routes["apply_pattern"].startswith("multi-node transaction: patterns")
    assert "| Access pattern |" in dc.render_markdown(report, DISTRIBUTION, schema)
