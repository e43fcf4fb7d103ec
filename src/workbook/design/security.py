"""Who may do what in this design: roles, grants, row-level security policies (Security and Privacy).

One declaration. `workbook.security` generates the grants and policies of migration V0025 from it
(a test fails when the file's generated block is stale), runs every operation as every role to
prove the matrix, and checks the live catalog against it: a table that is in neither RLS nor
NO_RLS fails the build, as does a table in RLS whose row-level security is not enabled and forced.

The acting user is the transaction-local setting workbook.actor_id, the same one the audit trail
records (V0013). Policies read it through workbook_actor() (V0025): NULL when unset, so a session
that names no user sees no rows; an error naming the setting when it is not a uuid.
"""

from __future__ import annotations

from dataclasses import dataclass, field

OPERATIONS = ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "DDL")


@dataclass(frozen=True)
class Role:
    name: str
    purpose: str
    bypassrls: bool = False
    tested: bool = True  # the matrix runs as it (never a BYPASSRLS role)


ROLES = (
    Role(
        "workbook_owner",
        "migration owner: owns every table, view, sequence and function, runs DDL; reads no row of a "
        "table with forced row-level security (it has no policy there)",
    ),
    Role("workbook_app", "the application: reads and writes as the acting user (workbook.actor_id)"),
    Role("workbook_readonly", "read-only: reports and support screens, as the acting user"),
    Role("workbook_auditor", "reads the audit trail, the erasure log and the migration ledger; nothing else"),
    Role("workbook_nobody", "a role with no grants: what any other login of the server gets"),
    Role(
        "workbook_maintainer",
        "owns the trigger functions that write audit rows and counters for every writer (SECURITY DEFINER)",
        bypassrls=True,
        tested=False,
    ),
    Role(
        "workbook_retention",
        "owns purge_audit_log() and erase_user(): the only code that may delete or redact audit rows",
        bypassrls=True,
        tested=False,
    ),
)

BUSINESS = ("users", "templates", "projects", "patterns", "pattern_applications", "template_versions")
VIEWS = ("active_templates", "active_patterns", "active_projects")
LEDGER = ("schema_migrations", "schema_migration_repairs", "migration_log")

# role -> relation -> privileges. Ownership (workbook_owner) is not a grant: the owner has them all.
GRANTS: dict[str, dict[str, str]] = {
    "workbook_app": {
        "users": "SELECT, INSERT, UPDATE",
        "templates": "SELECT, INSERT, UPDATE, DELETE",
        "projects": "SELECT, INSERT, UPDATE, DELETE",
        "patterns": "SELECT, INSERT, UPDATE, DELETE",
        "pattern_applications": "SELECT, INSERT, DELETE",
        "template_versions": "SELECT, INSERT",
        **{v: "SELECT" for v in VIEWS},
    },
    "workbook_readonly": {**{t: "SELECT" for t in BUSINESS}, **{v: "SELECT" for v in VIEWS}},
    "workbook_auditor": {"audit_log": "SELECT", "erasure_log": "SELECT", **{t: "SELECT" for t in LEDGER}},
    "workbook_maintainer": {
        "audit_log": "INSERT",
        "audit_log_seq": "USAGE",
        "templates": "SELECT, UPDATE",
        "patterns": "SELECT, UPDATE",
        "users": "SELECT",
    },
    "workbook_retention": {
        "audit_log": "SELECT, UPDATE, DELETE",
        "erasure_log": "SELECT, INSERT",
        "erasure_log_id_seq": "USAGE",
        **{t: "SELECT, UPDATE" for t in BUSINESS},
    },
}

# Functions nobody but the named roles may execute (PUBLIC's default EXECUTE is revoked).
RESTRICTED_FUNCTIONS: dict[str, tuple[str, ...]] = {
    "migrate_data_safely(text, regclass, text, text, bigint)": (),
    "restore_data_migration(bigint)": (),
    # It runs its WHERE text as SQL (for migrate_data_safely's checksums): callable by anyone it would run
    # SQL of the caller's choosing (found by the injection tests).
    "migration_digest(regclass, text[], text)": (),
    "erase_user(uuid)": ("workbook_app",),
}

# Functions that run as another role than their caller, and why.
DEFINER_FUNCTIONS: dict[str, tuple[str, str]] = {
    "audit_trigger()": (
        "workbook_maintainer",
        "every writer's change gets its audit row; no writer may insert one",
    ),
    "count_pattern_applications()": (
        "workbook_maintainer",
        "applying another author's pattern counts on that pattern, which the applier may not update",
    ),
    "count_template_projects()": (
        "workbook_maintainer",
        "a project made from another author's template counts on that template",
    ),
    "workbook_actor_role()": (
        "workbook_maintainer",
        "reads the acting user's own role without the users policy",
    ),
    "purge_audit_log(timestamp with time zone)": (
        "workbook_retention",
        "the only code that deletes audit rows",
    ),
    "erase_user(uuid)": (
        "workbook_retention",
        "redacts a user's e-mail and name in every table and in the audit trail, which nobody else may change",
    ),
}

# Each a scalar subquery: evaluated once per statement (an InitPlan), not again for every row.
ACTOR = "(SELECT workbook_actor())"
ADMIN = "(SELECT workbook_actor_role()) = 'admin'"


def ACTS_FOR(column: str) -> str:  # noqa: N802 - reads as the SQL it stands for
    """The row's user is the acting user, or the acting user is an admin. One opaque function call
    (V0026): the planner gives it a default selectivity instead of multiplying an estimate of
    `owner_id = <actor>` into the query's own `owner_id = <owner>`, which made it sort a heavy owner's
    projects instead of reading the first page off the index in order."""
    return f"workbook_acts_for({column})"


@dataclass(frozen=True)
class Policy:
    name: str
    command: str  # SELECT | INSERT | UPDATE | DELETE
    roles: tuple[str, ...]
    using: str | None = None
    check: str | None = None


APP = ("workbook_app",)
READERS = ("workbook_app", "workbook_readonly")


def _writes(table: str, using: str, check: str | None = None) -> tuple[Policy, ...]:
    """INSERT, UPDATE and DELETE policies for the application (not FOR ALL, which would add its
    condition to every SELECT a second time)."""
    check = check or using
    return (
        Policy(f"p_{table}_insert", "INSERT", APP, check=check),
        Policy(f"p_{table}_update", "UPDATE", APP, using=using, check=check),
        Policy(f"p_{table}_delete", "DELETE", APP, using=using),
    )


# Subqueries on another table run under that table's own policies for the caller: a project is
# "visible" exactly when the caller may see it.
_VISIBLE_TEMPLATE = "EXISTS (SELECT 1 FROM templates AS t WHERE t.id = template_id)"
_MY_TEMPLATE = f"EXISTS (SELECT 1 FROM templates AS t WHERE t.id = template_id AND {ACTS_FOR('t.author_id')})"
_VISIBLE_PROJECT = "EXISTS (SELECT 1 FROM projects AS p WHERE p.id = project_id)"

# table -> its policies (row-level security enabled and forced). Visible templates are the published,
# live ones (to anyone acting for a user), the acting user's own, and all of them for an admin; a
# pattern or version is visible with its template; a project and its applications to its owner.
RLS: dict[str, tuple[Policy, ...]] = {
    "users": (
        Policy("p_users_read", "SELECT", READERS, using=ACTS_FOR("id")),
        Policy("p_users_signup", "INSERT", APP, check=f"(id = {ACTOR} AND role = 'user') OR {ADMIN}"),
        # A user edits their own row but cannot change their own role: only an admin can.
        Policy(
            "p_users_update",
            "UPDATE",
            APP,
            using=ACTS_FOR("id"),
            check=f"(id = {ACTOR} AND role = (SELECT workbook_actor_role())) OR {ADMIN}",
        ),
    ),
    "templates": (
        Policy(
            "p_templates_read",
            "SELECT",
            READERS,
            using=f"(published AND deleted_at IS NULL AND {ACTOR} IS NOT NULL) OR {ACTS_FOR('author_id')}",
        ),
        *_writes("templates", ACTS_FOR("author_id")),
    ),
    "patterns": (
        Policy(
            "p_patterns_read",
            "SELECT",
            READERS,
            using=f"{_VISIBLE_TEMPLATE} AND (deleted_at IS NULL OR {_MY_TEMPLATE})",
        ),
        *_writes("patterns", _MY_TEMPLATE),
    ),
    "projects": (
        Policy("p_projects_read", "SELECT", READERS, using=ACTS_FOR("owner_id")),
        *_writes("projects", ACTS_FOR("owner_id")),
    ),
    "pattern_applications": (
        Policy("p_pattern_applications_read", "SELECT", READERS, using=_VISIBLE_PROJECT),
        Policy(
            "p_pattern_applications_insert",
            "INSERT",
            APP,
            check=f"{_VISIBLE_PROJECT} AND {ACTS_FOR('applied_by')} "
            "AND EXISTS (SELECT 1 FROM patterns AS q WHERE q.id = pattern_id)",
        ),
        Policy("p_pattern_applications_delete", "DELETE", APP, using=_VISIBLE_PROJECT),
    ),
    "template_versions": (
        Policy("p_template_versions_read", "SELECT", READERS, using=_VISIBLE_TEMPLATE),
        Policy(
            "p_template_versions_insert",
            "INSERT",
            APP,
            check=f"{_MY_TEMPLATE} AND {ACTS_FOR('created_by')}",
        ),
    ),
}

# Tables without row-level security, and why each is safe without it.
NO_RLS: dict[str, str] = {
    "audit_log": "no policy can scope it to a user (rows of every table); only the auditor reads it, "
    "only the audit trigger inserts, only the retention functions delete or redact",
    "erasure_log": "holds no personal data (pseudonymous ids and counts); only the auditor and erase_user() reach it",
    "schema_migrations": "the migration ledger: no user data; the auditor reads it",
    "schema_migration_repairs": "the ledger's repairs: no user data; the auditor reads it",
    "migration_log": "the data-migration ledger: no user data; the auditor reads it",
}

# Views over tables with row-level security run as their caller (security_invoker), so the caller's
# policies apply; a view that runs as its owner would show every row to anyone allowed to read it.
INVOKER_VIEWS = VIEWS


@dataclass(frozen=True)
class MatrixFixture:
    """Rows the role matrix runs against: an acting user who owns some rows, and another user's rows."""

    actor: str
    rows: tuple[str, ...] = field(default_factory=tuple)
    inserts: dict[str, str] = field(default_factory=dict)  # relation -> an INSERT the acting user could write


_A = "00000000-0000-4000-8000-0000000000a1"  # the acting user (role user)
_B = "00000000-0000-4000-8000-0000000000b1"  # another user
_TA = "00000000-0000-4000-8000-0000000000a2"  # the acting user's draft template
_TB = "00000000-0000-4000-8000-0000000000b2"  # the other user's published template
_TD = "00000000-0000-4000-8000-0000000000b3"  # the other user's draft
_PA = "00000000-0000-4000-8000-0000000000a4"  # the acting user's project
_PB = "00000000-0000-4000-8000-0000000000b4"
_QA = "00000000-0000-4000-8000-0000000000a5"
_QB = "00000000-0000-4000-8000-0000000000b5"
_SCHEMA = """'{"variables": [], "files": []}'"""

FIXTURE = MatrixFixture(
    actor=_A,
    rows=(
        f"INSERT INTO users (id, email, name) VALUES ('{_A}', 'ana@example.com', 'Ana'), ('{_B}', 'ben@example.com', 'Ben')",
        "INSERT INTO templates (id, name, description, category, version, author_id, published) VALUES "
        f"('{_TA}', 'ana-draft', 'Ana''s draft template', 'web', '0.1.0', '{_A}', false), "
        f"('{_TB}', 'ben-public', 'Ben''s published template', 'web', '1.0.0', '{_B}', true), "
        f"('{_TD}', 'ben-draft', 'Ben''s draft template', 'web', '0.1.0', '{_B}', false)",
        f"INSERT INTO projects (id, name, owner_id, template_id) VALUES ('{_PA}', 'ana-site', '{_A}', '{_TB}'), "
        f"('{_PB}', 'ben-site', '{_B}', '{_TB}')",
        f"INSERT INTO patterns (id, name, description, template_id) VALUES ('{_QA}', 'lint', 'Adds a linter', '{_TA}'), "
        f"('{_QB}', 'ci', 'Adds CI', '{_TB}'), ('00000000-0000-4000-8000-0000000000b6', 'secret', 'Draft pattern', '{_TD}')",
        f"INSERT INTO pattern_applications (project_id, pattern_id, applied_by) VALUES ('{_PA}', '{_QB}', '{_A}'), "
        f"('{_PB}', '{_QB}', '{_B}')",
        f"INSERT INTO template_versions (template_id, version, content, created_by) VALUES ('{_TB}', '1.0.0', '{{}}', '{_B}'), "
        f"('{_TD}', '0.1.0', '{{}}', '{_B}')",
    ),
    inserts={
        "users": "INSERT INTO users (id, email, name) VALUES (gen_random_uuid(), 'probe@example.com', 'Probe')",
        "templates": "INSERT INTO templates (name, description, category, version, author_id) VALUES "
        "('probe', 'A probe template', 'web', '1.0.0', workbook_actor())",
        "projects": "INSERT INTO projects (name, owner_id) VALUES ('probe', workbook_actor())",
        "patterns": f"INSERT INTO patterns (name, description, template_id) VALUES ('probe', 'A probe', '{_TA}')",
        "pattern_applications": f"INSERT INTO pattern_applications (project_id, pattern_id, applied_by) VALUES "
        f"('{_PA}', '{_QA}', workbook_actor())",
        "template_versions": f"INSERT INTO template_versions (template_id, version, content, created_by) VALUES "
        f"('{_TA}', '0.2.0', '{{}}', workbook_actor())",
        "audit_log": f"INSERT INTO audit_log (table_name, record_id, operation, new_values, changed_by) VALUES "
        f"('projects', '{_PA}', 'INSERT', '{{}}', workbook_actor())",
        "erasure_log": f"INSERT INTO erasure_log (user_id, erased_by, rows_redacted, audit_rows_redacted) VALUES "
        f"('{_B}', workbook_actor(), 0, 0)",
        "schema_migrations": "INSERT INTO schema_migrations (version, description, checksum) VALUES "
        "('9999', 'probe', repeat('0', 64))",
        "schema_migration_repairs": "INSERT INTO schema_migration_repairs (version, old_checksum, reason, repaired_by) "
        "VALUES ('9999', repeat('0', 64), 'probe', 'probe')",
        "migration_log": "INSERT INTO migration_log (migration_name, target_schema, target_table, predicate, "
        "migration_sql, run_by) VALUES ('probe', 'public', 'projects', 'false', 'SELECT 1', workbook_actor())",
        **{
            v: f"INSERT INTO {v} (name, owner_id) VALUES ('probe', workbook_actor())"
            if v == "active_projects"
            else f"INSERT INTO {v} SELECT * FROM {v} WHERE false"
            for v in VIEWS
        },
    },
)

# The cost of row-level security is measured on this access pattern (workbook.design.access), for its
# heaviest owner, as the application acting for that owner against the table owner's view without policies.
RLS_COST_PATTERN = "user_projects"
RLS_COST_OWNER = "SELECT owner_id::text FROM projects WHERE deleted_at IS NULL GROUP BY owner_id ORDER BY count(*) DESC, owner_id LIMIT 1"
RLS_COST_PARAM = "owner"
RLS_COST_ROLE = "workbook_app"
