"""Design review findings: defects of the seed, each with evidence re-run on every build.

Each finding's `check` builds what it needs on a fresh engine, runs the seed's SQL (or the
design's fix) and returns the evidence as text. When the defect no longer reproduces, or the
fix no longer holds, the check raises `EvidenceLost` and the build fails.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from . import migrate, render, seed
from .catalog import read_catalog
from .design import WORKBOOK_ACTOR
from .engines import Engine, connect
from .errors import WorkbookError
from .violations import first_line, try_write


class EvidenceLost(WorkbookError):
    """A finding's evidence no longer holds: the document would state something false."""


_opened: list[Engine] = []


def fresh(engine: str) -> Engine:
    """An empty database on the named engine, closed when the current finding's check ends."""
    e = connect(engine)
    _opened.append(e)
    return e


def error_of(e: Engine, sql: str) -> str | None:
    """Run a statement; None if it succeeded, else the first line of the engine's error."""
    try:
        e.execute(sql)
    except Exception as exc:  # the evidence is the engine's own message
        return first_line(exc)
    return None


def design(engine: str) -> Engine:
    """A fresh database with every migration applied, acting as the workbook (audit needs an actor)."""
    e = fresh(engine)
    migrate.migrate(e)
    e.set_session_actor(WORKBOOK_ACTOR)
    return e


def seed_schema(engine: str) -> Engine:
    """A fresh database holding the seed's own schema (parents first; adapted on DuckDB)."""
    e = fresh(engine)
    seed.build_seed_schema(e)
    return e


def expect(cond: bool, finding: str, what: str) -> None:
    """Fail the build when a finding's evidence stopped holding."""
    if not cond:
        raise EvidenceLost(f"finding {finding}: evidence no longer holds: {what}")


USER = "INSERT INTO users (id, email, name) VALUES ('00000000-0000-0000-0000-000000000001', 'ada@example.com', 'Ada')"
UID = "'00000000-0000-0000-0000-000000000001'"
TID = "'00000000-0000-0000-0000-0000000000a1'"
SCHEMA_OK = """, '{"variables": [], "files": []}'"""
SEARCH_LOAD = """
INSERT INTO templates (name, description, category, version, author_id, published, schema)
SELECT 'template ' || g, 'starter number ' || g || CASE WHEN g % 500 = 0 THEN ' react' ELSE ' vue' END,
       'category ' || (g % 10), '1.0.0', '00000000-0000-0000-0000-000000000001', true,
       '{"variables": [], "files": []}'
FROM generate_series(1, 2000) AS g
"""


def _template(version: str = "1.0.0", extra_cols: str = "", extra_vals: str = "") -> str:
    return (
        f"INSERT INTO templates (id, name, description, category, version, author_id{extra_cols}) "
        f"VALUES ({TID}, 'react-app', 'A React application starter', 'framework', '{version}', {UID}{extra_vals})"
    )


def with_template(e: Engine, *, seed: bool = False) -> Engine:
    """`e` holding user UID and template TID (the seed's schema has no valid default for `schema`)."""
    e.execute(USER)
    e.execute(_template("1.0.0", ", schema", SCHEMA_OK) if seed else _template())
    return e


@dataclass(frozen=True)
class Finding:
    """One defect of the seed and the fix this design adopts."""

    id: str
    severity: str  # "high" | "medium" | "low"
    title: str
    seed_says: str
    fix: str
    check: Callable[[str], str]
    engines: tuple[str, ...] = ("postgres", "duckdb")

    def evidence(self, engine: str = "duckdb") -> str:
        """Re-run the evidence on `engine` and return it as one line of text."""
        try:
            return " ".join(self.check(engine).split())
        finally:
            while _opened:
                _opened.pop().close()


def f01_order(engine: str) -> str:
    e = fresh(engine)
    users, projects = seed.find(r"CREATE TABLE users"), seed.find(r"CREATE TABLE projects")
    from .dialect import adapt_statement

    errors = []
    for s in (users, projects):
        stmts = adapt_statement(s.statement, "seed").statements if engine == "duckdb" else [s.statement]
        try:
            for st in stmts:
                e.execute(st.sql)
        except Exception as exc:
            errors.append((s, first_line(exc)))
    expect(len(errors) == 1 and errors[0][0] is projects, "F01", "CREATE TABLE projects no longer fails")
    expect("templates" in errors[0][1], "F01", "the error no longer names templates")
    order = [m.name for m in migrate.discover()]
    t, p = order.index("V0003__templates.sql"), order.index("V0004__projects.sql")
    expect(t < p, "F01", "templates is no longer created before projects")
    return f"seed statement {projects.number} fails: `{errors[0][1]}`; the design creates templates in V0003, projects in V0004"


def f02_audit_columns(engine: str) -> str:
    e = seed_schema(engine)
    if engine == "postgres":
        e.execute(
            "CREATE TRIGGER trg_users_audit AFTER INSERT ON users FOR EACH ROW EXECUTE FUNCTION audit_trigger()"
        )
        err = error_of(e, "INSERT INTO users (email, name) VALUES ('ada@example.com', 'Ada')")
        expect(err is not None and "created_by" in err, "F02", f"the seed's trigger now works ({err})")
        return f"seed audit_trigger attached to users, then an INSERT: `{err}`"
    cat = read_catalog(e)
    trig = seed.find(r"FUNCTION audit_trigger")
    used = sorted(set(re.findall(r"(?:OLD|NEW)\.(\w+)", trig.sql)) - {"id"})
    missing = [
        f"{t}.{c}"
        for t in ("users", "templates", "projects", "patterns")
        for c in used
        if c not in {col.name for col in cat.table(t).columns}
    ]
    expect(bool(missing), "F02", "the audited tables now have the columns the trigger reads")
    return f"audit_trigger reads {', '.join('OLD/NEW.' + c for c in used)}; the seed's catalog has none of: {', '.join(missing)}"


def f03_projects_deleted_at(engine: str) -> str:
    e = seed_schema(engine)
    q = seed.queries()[0].sql.replace("$1", "CAST(NULL AS UUID)")
    err = error_of(e, q)
    expect(err is not None and "deleted_at" in err, "F03", "access pattern 1 now runs on the seed schema")
    d = design(engine)
    d.execute(q)
    extra = ""
    if engine == "postgres":
        runs = [r for r in seed.build_seed_schema(fresh(engine)) if not r.ok]
        idx = [r for r in runs if "idx_projects_owner_active" in r.seed.sql]
        expect(
            bool(idx) and "deleted_at" in (idx[0].error or ""), "F03", "the seed's partial index now builds"
        )
        extra = f"; the seed's own index (statement {idx[0].seed.number}) fails too: `{idx[0].error}`"
    return f"seed access pattern 1 on the seed schema: `{err}`{extra}; on the design it runs"


def f04_schema_default(engine: str) -> str:
    d = design(engine)
    ok = d.scalar(
        "SELECT validate_template_schema(CAST('{}' AS JSON))"
        if engine == "duckdb"
        else "SELECT validate_template_schema('{}'::jsonb)"
    )
    expect(ok is False, "F04", "validate_template_schema('{}') is no longer false")
    cat = read_catalog(d)
    default = cat.table("templates").column("schema").default
    d.execute(USER)
    rejected = try_write(d, cat, "templates", _template())
    expect(rejected is None, "F04", "the design's default schema document is rejected")
    if engine == "postgres":
        s = seed_schema(engine)
        s.execute(USER)
        name = try_write(s, read_catalog(s), "templates", _template())
        expect(name == "templates_schema_valid", "F04", f"the seed's default is accepted ({name})")
        return (
            f"in the seed's schema an INSERT that omits schema is rejected by {name}; "
            f"the design's default {default} passes"
        )
    return f"validate_template_schema('{{}}') = false, so the seed's DEFAULT '{{}}' fails its own templates_schema_valid; the design's default {default} passes"


def f05_email_case(engine: str) -> str:
    s = seed_schema(engine)
    s.execute("INSERT INTO users (email, name) VALUES ('Ada@Example.com', 'Ada')")
    s.execute("INSERT INTO users (email, name) VALUES ('ada@example.com', 'Ada Again')")
    n = s.scalar("SELECT count(*) FROM users WHERE lower(email) = 'ada@example.com'")
    expect(n == 2, "F05", "the seed schema now rejects a case-only duplicate e-mail")
    d = design(engine)
    cat = read_catalog(d)
    d.execute("INSERT INTO users (email, name) VALUES ('Ada@Example.com', 'Ada')")
    name = try_write(
        d, cat, "users", "INSERT INTO users (email, name) VALUES ('ada@example.com', 'Ada Again')"
    )
    expect(
        name == "uq_users_email_lower",
        "F05",
        f"the design no longer rejects it by uq_users_email_lower ({name})",
    )
    return (
        f"seed: 'Ada@Example.com' and 'ada@example.com' both accepted ({n} rows); design: rejected by {name}"
    )


POPULAR_FIXED = """
WITH project_counts AS (
    SELECT template_id, count(*) AS project_count FROM projects GROUP BY template_id
), pattern_usage AS (
    SELECT template_id, avg(usage_count) AS avg_pattern_usage FROM patterns GROUP BY template_id
)
SELECT t.id, t.name, t.description, t.category,
       coalesce(pc.project_count, 0) AS project_count,
       pu.avg_pattern_usage
FROM templates AS t
LEFT JOIN project_counts AS pc ON pc.template_id = t.id
LEFT JOIN pattern_usage AS pu ON pu.template_id = t.id
WHERE t.published = true
  AND t.deleted_at IS NULL
ORDER BY project_count DESC, avg_pattern_usage DESC
"""


def f09_fan_out(engine: str) -> str:
    d = design(engine)
    d.execute(USER)
    d.execute(_template("1.0.0", ", published", ", true"))
    for i in range(2):
        d.execute(f"INSERT INTO projects (name, owner_id, template_id) VALUES ('project {i}', {UID}, {TID})")
    for i in range(3):
        d.execute(
            f"INSERT INTO patterns (name, description, template_id, usage_count) VALUES ('pattern {i}', 'd', {TID}, {i})"
        )
    seed_count = d.fetchall(seed.queries()[1].sql)[0][4]
    fixed_count = d.fetchall(POPULAR_FIXED)[0][4]
    expect(seed_count == 6 and fixed_count == 2, "F09", f"counts are {seed_count} and {fixed_count}")
    return f"one template with 2 projects and 3 patterns: the seed's query reports project_count = {seed_count}; aggregating before joining gives {fixed_count}"


def f10_redundant_indexes(engine: str) -> str:
    s = seed_schema(engine)
    cat = read_catalog(s)
    redundant = []
    for t in cat.base_tables:
        uniques = [c for c in t.constraints if c.kind in ("UNIQUE", "PRIMARY KEY") and len(c.columns) > 1]
        for i in t.indexes:
            for u in uniques:
                if not i.unique and i.predicate is None and tuple(u.columns[: len(i.keys)]) == i.keys:
                    redundant.append(
                        f"{i.name} ({', '.join(i.keys)}) is a prefix of UNIQUE({', '.join(u.columns)})"
                    )
    expect(len(redundant) >= 2, "F10", "the seed's redundant indexes are gone")
    return "; ".join(sorted(redundant))


def f11_no_application_table(engine: str) -> str:
    s = seed_schema(engine)
    cat = read_catalog(s)
    m2m = [r for r in render.relationships(cat) if r.kind == "many-to-many"]
    expect(not m2m, "F11", "the seed schema now has a many-to-many table")
    d = design(engine)
    ours = [r for r in render.relationships(read_catalog(d)) if r.kind == "many-to-many"]
    expect(
        any(r.via == "pattern_applications" for r in ours), "F11", "pattern_applications is not many-to-many"
    )
    return (
        f"seed schema: no table links projects and patterns (many-to-many relationships found: {len(m2m)}); design: "
        + ", ".join(f"{r.parent} ↔ {r.child} via {r.via}" for r in ours)
    )


def f12_cardinality(engine: str) -> str:
    s = seed_schema(engine)
    cat = read_catalog(s)
    projects = cat.table("projects")
    fk = next(f for f in projects.foreign_keys if f.ref_table == "templates")
    parent, child = render.cardinality(projects, fk)
    stated = re.search(r"TEMPLATE (\S+)--(\S+) PROJECT", seed.seed_text())
    expect(stated is not None and stated.group(1) != parent, "F12", "the seed's diagram now matches its DDL")
    return f"seed diagram: TEMPLATE {stated.group(1)}--{stated.group(2)} PROJECT; its DDL (template_id nullable) gives TEMPLATE {parent}--{child} PROJECT"


def f13_version_regex(engine: str) -> str:
    s = seed_schema(engine)
    s.execute(USER)
    accepted = [
        v
        for v in ("1.2.3garbage", "1.2.3.4", "01.2.3")
        if error_of(s, _template(v, ", schema", SCHEMA_OK).replace(TID, "gen_random_uuid()")) is None
    ]
    expect(len(accepted) == 3, "F13", f"the seed's version check now rejects some of them ({accepted})")
    d = design(engine)
    cat = read_catalog(d)
    d.execute(USER)
    names = {v: try_write(d, cat, "templates", _template(v)) for v in accepted}
    expect(set(names.values()) == {"ck_templates_version_semver"}, "F13", f"design verdicts {names}")
    ok = try_write(d, cat, "templates", _template("1.2.3-beta.1+build.5"))
    expect(ok is None, "F13", "the design rejects a valid semantic version")
    return f"seed check accepts {', '.join(accepted)}; the design's ck_templates_version_semver rejects all three and accepts 1.2.3-beta.1+build.5"


def f06_placeholder_checksum(engine: str) -> str:
    d = design(engine)
    cat = read_catalog(d)
    insert = seed.find(r"INSERT INTO schema_migrations")
    name = try_write(d, cat, "schema_migrations", insert.sql)
    expect(name == "ck_schema_migrations_checksum", "F06", f"the placeholder is no longer rejected ({name})")
    refused = _runner_refuses_seed_example()
    return f"the seed's sample migration records checksum 'sha256_checksum_here' and manages its own BEGIN/COMMIT; the design's ledger rejects it by {name}, and the runner, given the example as a file, refuses it before anything runs: `{refused}`"


def _runner_refuses_seed_example() -> str:
    """The runner's one-line refusal of the seed's example migration saved as a file."""
    import tempfile
    from pathlib import Path

    from . import migrate
    from .engines import DuckDBEngine

    example = seed.find(r"ALTER TABLE templates ADD COLUMN tags")
    block = [s for s in seed.statements() if example.number - 1 <= s.number <= example.number + 4]
    with tempfile.TemporaryDirectory() as tmp:
        folder = migrate.staged(
            {"V9001__add_template_tags.sql": "\n".join(s.sql + ";" for s in block)}, Path(tmp)
        )
        with DuckDBEngine() as db:
            try:
                migrate.migrate(db, folder)
            except WorkbookError as exc:
                text = str(exc)
            else:
                text = ""
            expect(
                text.startswith("V9001__add_template_tags.sql:1: BEGIN"), "F06", f"the runner ran it ({text})"
            )
            expect(not db.table_exists("templates"), "F06", "files before it ran")
    return text.split(";")[0]


def f07_migration_log(engine: str) -> str:
    missing = seed.referenced_but_never_created()
    names = sorted({n for n, _ in missing})
    expect("migration_log" in names, "F07", "migration_log is now created by the seed")
    s = next(s for n, s in missing if n == "migration_log")
    body = s.sql
    expect("WHERE migration_name = migration_name" in body, "F07", "the self-comparison is gone")
    ran = ""
    if engine == "postgres":
        e = seed_schema(engine)
        err = error_of(e, "SELECT migrate_data_safely('m1', 'SELECT 1')")
        expect(err is not None and "migration_log" in err, "F07", f"migrate_data_safely now runs ({err})")
        ran = f"; calling it: `{err}`"
    return f"seed statement {s.number} writes to {', '.join(names)}, which no seed statement creates, and filters `WHERE migration_name = migration_name` (ambiguous in PL/pgSQL, F36){ran}"


def f08_gin_expression(engine: str) -> str:
    from .catalog import normalise_expr

    idx = seed.find(r"idx_templates_name_gin")
    indexed = re.search(r"gin\((to_tsvector\(.*\))\)", idx.sql, re.I).group(1)
    query = seed.queries()[2].sql
    searched = re.search(r"WHERE (to_tsvector\(.*?\)) @@", query, re.S).group(1)
    a, b = normalise_expr(indexed, "postgres"), normalise_expr(searched.replace("t.", ""), "postgres")
    expect(a != b, "F08", "the seed's index expression now matches the query")
    if engine == "postgres":
        q3 = query.replace("$1", "'react'")
        corrected = (
            "SELECT id FROM templates WHERE search_vector @@ websearch_to_tsquery('english', 'react') "
            "AND published AND deleted_at IS NULL"
        )
        plans = {}
        for label, e, q in (("seed", seed_schema(engine), q3), ("design", design(engine), corrected)):
            e.execute(USER)
            e.execute(SEARCH_LOAD)
            e.execute("ANALYZE templates")
            e.execute("SET enable_seqscan = off")  # can an index serve it at all?
            plans[label] = "\n".join(r[0] for r in e.fetchall("EXPLAIN (COSTS OFF) " + q))
        expect(
            "idx_templates_name_gin" not in plans["seed"], "F08", "the seed's search now reads its GIN index"
        )
        expect(
            "Bitmap Index Scan on ix_templates_search" in plans["design"],
            "F08",
            "the design's search does not use ix_templates_search",
        )
        return (
            "EXPLAIN of the seed's search for 'react' over 2,000 published templates (4 matching), sequential "
            "scans disabled to ask whether an index can serve it: the seed schema's plan never reads "
            "idx_templates_name_gin (it walks idx_templates_published and filters every row); the design's search for it is a Bitmap Index "
            "Scan on ix_templates_search, over the stored document"
        )
    return f"index expression `{a}` differs from the query's `{b}`, so the planner cannot use the index for the search; the design stores the document the query searches (templates.search_vector) and indexes it (ix_templates_search)"


def f17_unique_name_soft_delete(engine: str) -> str:
    pattern = (
        "INSERT INTO patterns (name, description, template_id) VALUES ('eslint', 'Adds ESLint', " + TID + ")"
    )
    s = with_template(seed_schema(engine), seed=True)
    s.execute(pattern)
    s.execute("UPDATE patterns SET deleted_at = NOW() WHERE name = 'eslint'")
    seed_err = error_of(s, pattern)
    expect(seed_err is not None, "F17", "the seed now lets a soft-deleted pattern's name be used again")
    d = with_template(design(engine))
    d.execute(pattern)
    d.execute("UPDATE patterns SET deleted_at = NOW() WHERE name = 'eslint'")
    ours = error_of(d, pattern)
    if engine == "postgres":
        expect(ours is None, "F17", f"the design refuses a soft-deleted pattern's name ({ours})")
        return (
            f"seed: after soft-deleting pattern 'eslint', a new 'eslint' in the same template fails: `{seed_err}`; "
            "design: accepted (uq_patterns_template_id_name covers live rows only)"
        )
    expect(ours is not None, "F17", "DuckDB now frees a soft-deleted name")
    return (
        f"seed: a new 'eslint' after soft-deleting the old one fails: `{seed_err}`; the design on DuckDB keeps "
        "the name reserved too, because DuckDB cannot drop the old constraint (dialect gap drop-constraint)"
    )


def f19_updated_at(engine: str) -> str:
    s = seed_schema(engine)
    s.execute(
        "INSERT INTO users (email, name, created_at, updated_at) VALUES ('ada@example.com', 'Ada', "
        "TIMESTAMPTZ '2024-01-01 00:00:00+00', TIMESTAMPTZ '2024-01-01 00:00:00+00')"
        if engine == "duckdb"
        else "INSERT INTO users (email, name, created_at, updated_at) VALUES ('ada@example.com', 'Ada', "
        "'2024-01-01 00:00:00+00', '2024-01-01 00:00:00+00')"
    )
    s.execute("UPDATE users SET name = 'Ada Lovelace'")
    same = s.scalar("SELECT updated_at = created_at FROM users")
    expect(same is True, "F19", "the seed schema now maintains updated_at")
    if engine == "postgres":
        d = design(engine)
        d.execute(
            "INSERT INTO users (email, name, created_at, updated_at) VALUES ('ada@example.com', 'Ada', "
            "'2024-01-01 00:00:00+00', '2024-01-01 00:00:00+00')"
        )
        d.execute("UPDATE users SET name = 'Ada Lovelace'")
        moved = d.scalar("SELECT updated_at > created_at FROM users")
        expect(moved is True, "F19", "the design's trigger no longer maintains updated_at")
        return (
            "in the seed schema, UPDATE users SET name = ... leaves updated_at at its insert value; "
            "in the design, trg_users_updated_at moves it forward"
        )
    return "in the seed schema, UPDATE users SET name = ... leaves updated_at at its insert value; nothing in the seed maintains it"


def f14_soft_delete_any_table(engine: str) -> str:
    s = seed_schema(engine)
    s.execute(USER)
    err = error_of(s, f"SELECT soft_delete('users', {UID})")
    expect(
        err is not None and "deleted_at" in err, "F14", f"the seed's soft_delete on users now works ({err})"
    )
    d = design(engine)
    d.execute(USER)
    ours = error_of(d, f"SELECT soft_delete('users', {UID})")
    expect(
        ours is not None and "is not a table with a deleted_at column" in ours,
        "F14",
        f"design verdict {ours}",
    )
    return f"seed: soft_delete('users', id) builds dynamic SQL for any table name and fails late: `{err}`; design: `{ours}`"


def f16_version_backwards(engine: str) -> str:
    s = with_template(seed_schema(engine), seed=True)
    s.execute(f"SELECT create_template_version({TID}, '1.1.0', '{{}}', 'first', {UID})")
    s.execute(f"SELECT create_template_version({TID}, '0.9.0', '{{}}', 'older', {UID})")
    current = s.scalar(f"SELECT version FROM templates WHERE id = {TID}")
    expect(
        current == "0.9.0", "F16", f"the seed's function no longer moves the version backwards ({current})"
    )
    d = design(engine)
    d.execute(USER)
    d.execute(_template("1.0.0"))
    d.execute(f"SELECT create_template_version({TID}, '1.1.0', '{{}}', 'first', {UID})")
    ours = error_of(d, f"SELECT create_template_version({TID}, '0.9.0', '{{}}', 'older', {UID})")
    expect(ours is not None and "not newer" in ours, "F16", f"design verdict {ours}")
    return f"seed: after 1.1.0, create_template_version(..., '0.9.0') succeeds and the template's current version becomes {current}; design: `{ours}`"


def f18_audit_blocks_user_delete(engine: str) -> str:
    s = seed_schema(engine)
    s.execute(USER)
    s.execute(
        f"INSERT INTO audit_log (table_name, record_id, operation, changed_by) VALUES ('users', {UID}, 'INSERT', {UID})"
    )
    err = error_of(s, "DELETE FROM users")
    expect(err is not None and "audit_log" in err, "F18", f"deleting an audited user now works ({err})")
    d = design(engine)
    d.execute(f"SET workbook.actor_id = {UID}")
    d.execute(USER)
    d.execute("DELETE FROM users")
    kept = d.scalar(f"SELECT count(*) FROM audit_log WHERE record_id = {UID} AND changed_by = {UID}")
    d.execute("RESET workbook.actor_id")
    expect(kept == 2, "F18", f"the design's audit rows after the delete: {kept}")
    return (
        f"seed: deleting a user who appears in audit_log.changed_by fails: `{err}`; design: a user deleting "
        f"their own account succeeds and both audit rows (INSERT, DELETE) keep changed_by"
    )


def f20_schema_array(engine: str) -> str:
    s = seed_schema(engine)
    doc = '["variables", "files"]'
    seed_says = s.scalar(f"SELECT validate_template_schema('{doc}'::jsonb)")
    expect(
        seed_says is True, "F20", f"the seed's validate_template_schema now rejects an array ({seed_says})"
    )
    d = design(engine)
    ours = d.scalar(f"SELECT validate_template_schema('{doc}'::jsonb)")
    expect(ours is False, "F20", "the design's function accepts the array")
    return f"seed: validate_template_schema('{doc}') = true (? tests array elements; jsonb_typeof of a missing key is NULL, and the IF treats NULL as passing); design: false"


def f21_audit_never_attached(engine: str) -> str:
    triggers = [st for st in seed.statements() if re.match(r"\s*CREATE\s+TRIGGER", st.sql, re.I)]
    expect(not triggers, "F21", "the seed now attaches its audit function")
    s = seed_schema(engine)
    s.execute(USER)
    s.execute(f"UPDATE users SET name = 'Ada Lovelace' WHERE id = {UID}")
    seed_rows = s.scalar("SELECT count(*) FROM audit_log")
    expect(seed_rows == 0, "F21", f"the seed schema now audits ({seed_rows} rows)")
    from .writes import Writer

    d = design(engine)
    w = Writer(d, WORKBOOK_ACTOR)
    uid = w.insert("users", {"email": "ada@example.com", "name": "Ada"})
    w.update("users", uid, {"name": "Ada Lovelace"})
    ours = d.fetchall("SELECT operation FROM audit_log ORDER BY seq")
    expect(ours == [("INSERT",), ("UPDATE",)], "F21", f"the design's audit rows: {ours}")
    how = "its triggers" if engine == "postgres" else "the write API, which fires the migrations' triggers"
    return (
        "the seed defines audit_trigger() but no CREATE TRIGGER: after inserting and renaming a user, "
        f"audit_log holds {seed_rows} rows; the design records INSERT and UPDATE through {how}"
    )


def f22_audit_log_mutable(engine: str) -> str:
    s = seed_schema(engine)
    s.execute(USER)
    s.execute(f"INSERT INTO audit_log (table_name, record_id, operation) VALUES ('users', {UID}, 'INSERT')")
    rewrite = error_of(s, "UPDATE audit_log SET operation = 'DELETE'")
    erase = error_of(s, "DELETE FROM audit_log")
    expect(rewrite is None and erase is None, "F22", "the seed's audit_log now refuses changes")
    d = design(engine)
    d.execute(USER)
    ours = [
        error_of(d, sql)
        for sql in (
            "UPDATE audit_log SET operation = 'DELETE'",
            "DELETE FROM audit_log",
            "TRUNCATE users CASCADE",
        )
    ]
    expect(all(e and "refused" in e for e in ours), "F22", f"design verdicts {ours}")
    return (
        "seed: UPDATE and DELETE of audit_log rows succeed, so history can be rewritten or erased, and "
        f"TRUNCATE of an audited table leaves no trace; design: `{ours[0]}`; `{ours[2]}`"
    )


def f23_audit_order(engine: str) -> str:
    s = seed_schema(engine)
    s.execute(USER)
    with s.transaction():
        for op in ("INSERT", "UPDATE"):
            s.execute(
                f"INSERT INTO audit_log (table_name, record_id, operation) VALUES ('users', {UID}, '{op}')"
            )
    distinct = s.scalar("SELECT count(DISTINCT changed_at) FROM audit_log")
    cols = {c.name for c in read_catalog(s).table("audit_log").columns}
    expect(distinct == 1 and not {"seq", "txid"} & cols, "F23", "the seed's audit rows are now ordered")
    from .writes import Writer

    d = design(engine)
    w = Writer(d, WORKBOOK_ACTOR)
    uid = w.insert("users", {"email": "ada@example.com", "name": "Ada"})
    w.call(
        "soft_delete",
        "templates",
        w.insert(
            "templates",
            {
                "name": "t",
                "description": "A template here",
                "category": "c",
                "version": "1.0.0",
                "author_id": uid,
            },
        ),
    )
    seqs = [r[0] for r in d.fetchall("SELECT seq FROM audit_log ORDER BY changed_at, seq")]
    expect(seqs == sorted(seqs) and len(set(seqs)) == len(seqs), "F23", f"design seq {seqs}")
    return (
        f"seed: two audit rows written in one transaction share changed_at ({distinct} distinct value; NOW() is "
        "the transaction's start) and nothing else orders them, so replay cannot tell which change came last; "
        "design: audit_log.seq (a sequence) and txid"
    )


def f24_soft_delete_unknown_or_twice(engine: str) -> str:
    s = with_template(seed_schema(engine), seed=True)
    unknown = error_of(s, "SELECT soft_delete('templates', '00000000-0000-0000-0000-00000000dead')")
    s.execute(f"SELECT soft_delete('templates', {TID})")
    first = s.scalar(f"SELECT deleted_at FROM templates WHERE id = {TID}")
    s.execute("SELECT pg_sleep(0.01)")
    with s.transaction():  # a later transaction: NOW() moves
        s.execute(f"SELECT soft_delete('templates', {TID})")
    second = s.scalar(f"SELECT deleted_at FROM templates WHERE id = {TID}")
    expect(unknown is None and second > first, "F24", "the seed's soft_delete now refuses these")
    d = with_template(design(engine))
    d.execute(f"SELECT soft_delete('templates', {TID})")
    ours = [
        error_of(d, f"SELECT soft_delete('templates', {x})")
        for x in ("'00000000-0000-0000-0000-00000000dead'", TID)
    ]
    expect(all(ours), "F24", f"design verdicts {ours}")
    return (
        "seed: soft_delete of an unknown id succeeds silently, and deleting an already deleted template again "
        f"moves its deletion time forward; design: `{ours[0]}`; `{ours[1]}`"
    )


def f25_children_stay_live(engine: str) -> str:
    s = with_template(seed_schema(engine), seed=True)
    s.execute(
        f"INSERT INTO patterns (name, description, template_id) VALUES ('eslint', 'Adds ESLint', {TID})"
    )
    s.execute(f"SELECT soft_delete('templates', {TID})")
    live = s.scalar("SELECT count(*) FROM active_patterns")
    expect(live == 1, "F25", "the seed now soft-deletes a template's patterns")
    d = with_template(design(engine))
    d.execute(
        f"INSERT INTO patterns (name, description, template_id) VALUES ('eslint', 'Adds ESLint', {TID})"
    )
    d.execute(f"SELECT soft_delete('templates', {TID})")
    ours = d.scalar("SELECT count(*) FROM active_patterns")
    expect(ours == 0, "F25", f"design: {ours} live patterns of a deleted template")
    return (
        f"seed: after soft_delete('templates', ...), active_patterns still lists its pattern ({live} row) and "
        "nothing stops applying it; design: the template's live patterns are soft-deleted with it, at the same "
        "instant, and restore() brings back exactly those"
    )


def f26_history_mutable(engine: str) -> str:
    s = with_template(seed_schema(engine), seed=True)
    s.execute(f"SELECT create_template_version({TID}, '1.1.0', '{{\"files\": []}}', 'first', {UID})")
    rewrite = error_of(s, "UPDATE template_versions SET content = '{}', changelog = 'never happened'")
    erase = error_of(s, "DELETE FROM template_versions")
    expect(rewrite is None and erase is None, "F26", "the seed's history now refuses changes")
    d = with_template(design(engine))
    d.execute(f"SELECT create_template_version({TID}, '1.1.0', '{{\"files\": []}}', 'first', {UID})")
    ours = error_of(d, "UPDATE template_versions SET changelog = 'never happened'")
    expect(ours is not None and "history" in ours, "F26", f"design verdict {ours}")
    return f"seed: UPDATE and DELETE of template_versions rows succeed, so a version's content can be rewritten after release; design: `{ours}`"


def f27_usage_count_never_maintained(engine: str) -> str:
    writes = [
        st.number
        for st in seed.statements()
        if re.search(r"usage_count\s*=", st.sql, re.I) and re.search(r"\bUPDATE\b", st.sql, re.I)
    ]
    expect(not writes, "F27", f"the seed now writes usage_count (statements {writes})")
    from .writes import Writer

    d = design(engine)
    w = Writer(d, WORKBOOK_ACTOR)
    uid = w.insert("users", {"email": "ada@example.com", "name": "Ada"})
    tid = w.insert(
        "templates",
        {
            "name": "t",
            "description": "A template here",
            "category": "c",
            "version": "1.0.0",
            "author_id": uid,
        },
    )
    pid = w.insert("patterns", {"name": "eslint", "description": "Adds ESLint", "template_id": tid})
    project = w.insert("projects", {"name": "site", "owner_id": uid, "template_id": tid})
    for _ in range(3):
        w.insert("pattern_applications", {"project_id": project, "pattern_id": pid})
    count = d.scalar("SELECT usage_count FROM patterns")
    expect(count == 3, "F27", f"the design's usage_count after 3 applications: {count}")
    return (
        "no statement of the seed writes patterns.usage_count (declared 'Times applied'; only read by the "
        f"popular-templates query), so it stays 0; design: 3 applications give usage_count = {count}"
    )


_SEED_FINDINGS: list[Finding] = [
    Finding(
        "F01",
        "high",
        "Tables created before the tables they reference",
        "`CREATE TABLE projects` comes before `CREATE TABLE templates`, but references it.",
        "Migrations create parents first: V0003 templates, then V0004 projects.",
        f01_order,
    ),
    Finding(
        "F02",
        "high",
        "Audit trigger reads columns that do not exist",
        "`audit_trigger()` logs `OLD.updated_by` / `NEW.created_by` as the actor.",
        "The actor comes from the `workbook.actor_id` session setting (V0008).",
        f02_audit_columns,
    ),
    Finding(
        "F03",
        "high",
        "Access pattern 1 filters on a column the seed never adds",
        "Query 1 filters `p.deleted_at IS NULL`; soft delete adds `deleted_at` to templates and patterns only.",
        "V0009 adds `deleted_at` to projects too, with an `active_projects` view.",
        f03_projects_deleted_at,
    ),
    Finding(
        "F04",
        "high",
        "Default template schema violates its own check",
        "`schema JSONB NOT NULL DEFAULT '{}'` with `CHECK (validate_template_schema(schema))`.",
        'Default `{"variables": [], "files": []}`; the function is a LANGUAGE sql expression.',
        f04_schema_default,
    ),
    Finding(
        "F05",
        "medium",
        "E-mail uniqueness is case-sensitive",
        "`email VARCHAR(255) UNIQUE`, so `Ada@Example.com` and `ada@example.com` are two users.",
        "Unique index `uq_users_email_lower` on `lower(email)`.",
        f05_email_case,
    ),
    Finding(
        "F06",
        "low",
        "Sample migration records a placeholder checksum",
        "`INSERT INTO schema_migrations ... 'sha256_checksum_here'` inside its own BEGIN/COMMIT.",
        "The runner computes each file's sha256, owns the transaction; `ck_schema_migrations_checksum`.",
        f06_placeholder_checksum,
    ),
    Finding(
        "F07",
        "medium",
        "migrate_data_safely writes to a table that does not exist",
        "`migrate_data_safely` logs to `migration_log` and updates `WHERE migration_name = migration_name`.",
        "`migration_log` is created by V0021 with `migrate_data_safely` as a procedure that keeps its promises "
        "(F35 to F39); schema changes go through the runner's per-file transaction and ledger.",
        f07_migration_log,
    ),
    Finding(
        "F08",
        "medium",
        "Full-text index does not match the search expression",
        "`idx_templates_name_gin` indexes `to_tsvector('english', name)`; query 3 searches name || description.",
        "`templates.search_vector` stores the searched document (V0019) and `ix_templates_search` indexes it.",
        f08_gin_expression,
    ),
    Finding(
        "F09",
        "high",
        "Popular-templates query multiplies counts",
        "Query 2 joins projects and patterns to templates in one step, then counts `p.id`.",
        "Aggregate projects and patterns per template in CTEs, then join.",
        f09_fan_out,
    ),
    Finding(
        "F10",
        "low",
        "Indexes duplicated by unique constraints",
        "`idx_projects_owner_id` and `idx_patterns_template_id` beside `UNIQUE(owner_id, name)` and "
        "`UNIQUE(template_id, name)`.",
        "Left out; the unique constraints' indexes serve those lookups.",
        f10_redundant_indexes,
    ),
    Finding(
        "F11",
        "medium",
        "Many-to-many relationship named but not modelled",
        'Relationship analysis: "Projects → Patterns (via application history)"; no table holds it.',
        "`pattern_applications` (V0006), one row per application.",
        f11_no_application_table,
    ),
    Finding(
        "F12",
        "low",
        "Conceptual diagram disagrees with the DDL on optionality",
        "`TEMPLATE ||--o{ PROJECT` (exactly one template) while `projects.template_id` is nullable.",
        "Diagrams are derived from the catalog, so cardinality follows nullability.",
        f12_cardinality,
    ),
    Finding(
        "F13",
        "medium",
        "Version check accepts non-semantic versions",
        "`CHECK (version ~ '^[0-9]+\\.[0-9]+\\.[0-9]+.*$')`.",
        "`ck_templates_version_semver` with the semver 2.0 grammar (pre-release and build allowed).",
        f13_version_regex,
    ),
    Finding(
        "F17",
        "low",
        "Soft-deleted rows keep their names reserved for ever",
        "`UNIQUE(template_id, name)`, `UNIQUE(name, version)` and `UNIQUE(owner_id, name)` beside `deleted_at`.",
        "Reversed (this design kept it until V0014): names are unique among live rows only, through unique "
        "indexes `WHERE deleted_at IS NULL`. A user who deletes a project can create one with the same name, "
        "which is what users expect of a delete; the cost moves to `restore()`, which refuses when a live row "
        "took the name meanwhile. DuckDB cannot drop a constraint and keeps the old rule (gap `drop-constraint`).",
        f17_unique_name_soft_delete,
    ),
    Finding(
        "F19",
        "medium",
        "updated_at is never maintained",
        "Every table has `updated_at ... DEFAULT NOW()`, but nothing updates it.",
        "`set_updated_at()` BEFORE UPDATE triggers (V0011, PostgreSQL).",
        f19_updated_at,
    ),
    Finding(
        "F14",
        "medium",
        "soft_delete accepts any table name",
        "`soft_delete(table_name TEXT, record_id UUID)` runs `format('UPDATE %I SET deleted_at ...', table_name)`.",
        "Only tables that have a deleted_at column (read from the catalog) are accepted, reached through "
        "`format('%I')`; an unknown or already deleted row fails (F24).",
        f14_soft_delete_any_table,
        ("postgres",),
    ),
    Finding(
        "F16",
        "medium",
        "Template versions can move backwards",
        "`create_template_version` inserts the version and sets `templates.version` unconditionally.",
        "The function rejects a version that is not semantically newer than the current one.",
        f16_version_backwards,
        ("postgres",),
    ),
    Finding(
        "F18",
        "medium",
        "Audit history blocks deleting a user",
        "`audit_log.changed_by UUID REFERENCES users(id)` with no action, while users cascade to projects.",
        "`audit_log.changed_by` is not a foreign key: history outlives users and keeps who acted.",
        f18_audit_blocks_user_delete,
        ("postgres",),
    ),
    Finding(
        "F20",
        "high",
        "Template schema validation accepts a JSON array",
        "`validate_template_schema` checks `schema ? 'variables' AND schema ? 'files'`, then the type.",
        "The function requires an object and never returns NULL (COALESCE(..., false)).",
        f20_schema_array,
        ("postgres",),
    ),
    Finding(
        "F21",
        "high",
        "The audit function is never attached",
        "`CREATE OR REPLACE FUNCTION audit_trigger()` and no `CREATE TRIGGER`.",
        "One `audit_trigger()` on every business table (V0008, V0013); on DuckDB the write API fires it.",
        f21_audit_never_attached,
    ),
    Finding(
        "F22",
        "high",
        "The audit log can be rewritten and bypassed",
        "`audit_log` is a plain table; TRUNCATE fires no row trigger.",
        "BEFORE UPDATE/DELETE/TRUNCATE triggers refuse all but the retention role (`purge_audit_log()`); "
        "TRUNCATE of an audited table is refused (V0013). DuckDB has no triggers: only the write API writes there.",
        f22_audit_log_mutable,
        ("postgres",),
    ),
    Finding(
        "F23",
        "medium",
        "Audit rows of one transaction cannot be put in order",
        "`changed_at ... DEFAULT NOW()` is the only ordering column.",
        "`audit_log.seq` (a sequence) orders every change and `txid` groups them by transaction (V0013).",
        f23_audit_order,
    ),
    Finding(
        "F24",
        "medium",
        "soft_delete accepts an unknown id and moves a deletion time",
        "`EXECUTE format('UPDATE %I SET deleted_at = NOW() WHERE id = $1', table_name)`.",
        "`soft_delete()` refuses an unknown or already deleted row; `restore()` refuses a live one (V0014).",
        f24_soft_delete_unknown_or_twice,
        ("postgres",),
    ),
    Finding(
        "F25",
        "medium",
        "Soft-deleting a template leaves its patterns live",
        "`active_templates` and `active_patterns` filter each table on its own `deleted_at`.",
        "A template's live patterns are soft-deleted with it, at the same instant; `restore()` brings exactly "
        "those back; applying a deleted pattern is refused (V0014, V0016).",
        f25_children_stay_live,
        ("postgres",),
    ),
    Finding(
        "F26",
        "high",
        "Released template versions can be rewritten",
        "`template_versions` is a plain table.",
        "BEFORE UPDATE/DELETE trigger refuses changes to history; rows go only with their template's cascade (V0015).",
        f26_history_mutable,
        ("postgres",),
    ),
    Finding(
        "F27",
        "medium",
        "usage_count is never maintained",
        '`usage_count INTEGER NOT NULL DEFAULT 0` "Times applied", read by access pattern 2.',
        "An AFTER trigger on pattern_applications keeps it equal to the number of applications, under "
        "concurrency (row lock), and refuses a deleted pattern (V0016).",
        f27_usage_count_never_maintained,
    ),
]
_all: list[Finding] = []


def all_findings() -> list[Finding]:
    """Every finding, in id order: the seed's above and the design modules' (imported on first use, so a
    design module can be imported on its own without a cycle)."""
    if not _all:
        from .design.findings_access import FINDINGS as access_findings
        from .design.findings_migration import FINDINGS as migration_findings
        from .design.findings_safe_migration import FINDINGS as safe_findings

        _all.extend(
            sorted(_SEED_FINDINGS + access_findings + safe_findings + migration_findings, key=lambda f: f.id)
        )
    return _all


def __getattr__(name: str):  # noqa: ANN202 - module attribute FINDINGS, built on first use
    if name == "FINDINGS":
        return all_findings()
    raise AttributeError(name)


ENGINE_LABEL = {"postgres": "PostgreSQL", "duckdb": "DuckDB"}


def evaluate(engines: tuple[str, ...] = ("postgres", "duckdb")) -> list[tuple[Finding, dict[str, str]]]:
    """Re-run every finding's evidence on each engine it applies to; raises EvidenceLost on drift."""
    out = []
    for f in all_findings():
        out.append((f, {e: f.evidence(e) for e in engines if e in f.engines}))
    return out


def markdown(results: list[tuple[Finding, dict[str, str]]]) -> str:
    """The findings as a GitHub-flavoured markdown table."""
    from .tables import md_table

    rows = []
    for f, evidence in results:
        ev = "<br>".join(f"**{ENGINE_LABEL[e]}:** {text}" for e, text in evidence.items())
        rows.append([f.id, f.severity, f.title, f.seed_says, ev, f.fix])
    return md_table(
        ["ID", "Severity", "Finding", "The seed says", "Evidence (re-run on every build)", "Fix adopted"],
        rows,
    )
