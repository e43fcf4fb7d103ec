"""Data quality: the constraint catalogue and the bad-input matrix, run on both engines.

The catalogue is read from the live catalog (PostgreSQL's holds each CHECK's rule in words, see
V0012). The matrix holds, for every CHECK, NOT NULL, UNIQUE/PRIMARY KEY and FOREIGN KEY of the
design, at least two violating rows and one valid boundary row. Each row runs on both engines in
a transaction that is rolled back; the outcome is "accepted" or the name of the constraint that
rejected it. A row the engines judge differently is a finding; a row both engines judge against
the design's expectation fails the build.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from . import migrate
from .catalog import read_catalog
from .design import WORKBOOK_ACTOR
from .engines import Engine, connect
from .errors import WorkbookError
from .model import Catalog, Constraint
from .tables import md_table
from .violations import JSONB_NUL, REFERENCED, try_write

U1 = "'00000000-0000-0000-0000-000000000001'"
U2 = "'00000000-0000-0000-0000-000000000002'"
T1 = "'00000000-0000-0000-0000-0000000000a1'"
T2 = "'00000000-0000-0000-0000-0000000000a2'"
P1 = "'00000000-0000-0000-0000-0000000000b1'"
PT1 = "'00000000-0000-0000-0000-0000000000c1'"
PA1 = "'00000000-0000-0000-0000-0000000000d1'"
TV1 = "'00000000-0000-0000-0000-0000000000e1'"
AL1 = "'00000000-0000-0000-0000-0000000000f1'"
NOWHERE = "'00000000-0000-0000-0000-00000000dead'"
# A project that is soft-deleted in the fixture, for the "name of a deleted row" boundary rows.
DELETED_PROJECT = "'00000000-0000-0000-0000-0000000000b9'"
SCHEMA = """'{"variables": [], "files": []}'"""
REPAIRED_AT = "'2024-01-02 00:00:00+00'"

# Rows every case can rely on (committed once per engine before the matrix runs).
FIXTURE = [
    f"INSERT INTO users (id, email, name, role) VALUES ({U1}, 'ada@example.com', 'Ada', 'admin')",
    f"INSERT INTO users (id, email, name) VALUES ({U2}, 'bo@example.com', 'Bo')",
    f"INSERT INTO templates (id, name, description, category, version, author_id) VALUES "
    f"({T1}, 'react-app', 'A React application starter', 'framework', '1.0.0', {U1})",
    f"INSERT INTO templates (id, name, description, category, version, author_id) VALUES "
    f"({T2}, 'vue-app', 'A Vue application starter', 'framework', '2.0.0', {U2})",
    f"INSERT INTO projects (id, name, owner_id, template_id) VALUES ({P1}, 'site', {U1}, {T1})",
    f"INSERT INTO projects (name, owner_id) VALUES ('blog', {U1})",
    f"INSERT INTO patterns (id, name, description, template_id) VALUES ({PT1}, 'eslint', 'Adds ESLint', {T1})",
    f"INSERT INTO patterns (name, description, template_id) VALUES ('prettier', 'Adds Prettier', {T1})",
    f"INSERT INTO pattern_applications (id, project_id, pattern_id, applied_by) VALUES ({PA1}, {P1}, {PT1}, {U1})",
    f"INSERT INTO template_versions (id, template_id, version, content, created_by) VALUES "
    f"({TV1}, {T1}, '1.0.0', '{{}}', {U1})",
    f"INSERT INTO audit_log (id, table_name, record_id, operation, new_values) VALUES "
    f"({AL1}, 'manual', {U1}, 'INSERT', '{{}}')",
    f"INSERT INTO projects (id, name, owner_id, deleted_at) VALUES ({DELETED_PROJECT}, 'old-site', {U1}, NOW())",
    "INSERT INTO migration_log (id, migration_name, target_schema, target_table, predicate, migration_sql, run_by) "
    f"VALUES (1000, 'first', 'public', 'templates', 'true', 'UPDATE templates SET tags = tags', {U1})",
    "INSERT INTO schema_migration_repairs (version, old_checksum, new_checksum, reason, repaired_by, repaired_at) "
    f"VALUES ('0004', '{'a' * 64}', '{'b' * 64}', 'reviewed', 'ana', {REPAIRED_AT})",
    f"INSERT INTO erasure_log (id, user_id, erased_by, rows_redacted, audit_rows_redacted) VALUES (1000, {U2}, {U1}, 3, 7)",
]

# A valid row per table; a case overrides some of its columns.
BASE: dict[str, dict[str, str]] = {
    "users": {"email": "'cy@example.com'", "name": "'Cy'", "role": "'user'"},
    "templates": {
        "name": "'svelte-app'",
        "description": "'A Svelte application starter'",
        "category": "'framework'",
        "version": "'1.0.0'",
        "author_id": U1,
        "schema": SCHEMA,
    },
    "projects": {"name": "'shop'", "owner_id": U2, "template_id": T1, "configuration": "'{}'"},
    "patterns": {
        "name": "'jest'",
        "description": "'Adds Jest'",
        "template_id": T2,
        "usage_count": "0",
        "configuration": "'{}'",
    },
    "pattern_applications": {"project_id": P1, "pattern_id": PT1, "applied_by": U2, "configuration": "'{}'"},
    "template_versions": {"template_id": T1, "version": "'1.1.0'", "content": "'{}'", "created_by": U1},
    "audit_log": {
        "table_name": "'projects'",
        "record_id": P1,
        "operation": "'UPDATE'",
        "old_values": "'{}'",
        "new_values": "'{}'",
    },
    "schema_migrations": {"version": "'9999'", "description": "'example'", "checksum": "'" + "a" * 64 + "'"},
    "schema_migration_repairs": {
        "version": "'0004'",
        "old_checksum": "'" + "a" * 64 + "'",
        "new_checksum": "'" + "b" * 64 + "'",
        "reason": "'comment typo, reviewed'",
        "repaired_by": "'ana'",
    },
    "migration_log": {
        "migration_name": "'retag'",
        "target_schema": "'public'",
        "target_table": "'templates'",
        "predicate": "'true'",
        "migration_sql": "'UPDATE templates SET tags = tags'",
        "status": "'STARTED'",
        "run_by": U1,
    },
    "erasure_log": {"user_id": NOWHERE, "erased_by": U1, "rows_redacted": "0", "audit_rows_redacted": "0"},
}
# migration_log rows that satisfy every rule but the one a case breaks, per status.
_BACKED_UP = {
    "backup_table": "'migration_backup_9'",
    "backup_rows": "3",
    "backup_checksum": "'c0ffee'",
    "backed_up_at": "'2024-01-02 00:00:00+00'",
}
_COMPLETED = {
    **_BACKED_UP,
    "rows_changed": "3",
    "changed_checksum": "'beef'",
    "completed_at": "'2024-01-02 00:01:00+00'",
}
_RESTORED = {**_COMPLETED, "restored_at": "'2024-01-03 00:00:00+00'", "restored_by": U1, "rows_restored": "3"}
_FAILED = {
    "error_message": "'division by zero'",
    "failed_step": "'change'",
    "completed_at": "'2024-01-02 00:01:00+00'",
}
FIXTURE_ID = {
    "users": U1,
    "templates": T1,
    "projects": P1,
    "patterns": PT1,
    "pattern_applications": PA1,
    "template_versions": TV1,
    "audit_log": AL1,
    "migration_log": "1000",
    "erasure_log": "1000",
}
FIXTURE_KEY = {"schema_migrations": ("version", "'0001'"), "schema_migration_repairs": ("version", "'0004'")}
# History tables: PostgreSQL's triggers refuse UPDATE and DELETE of their rows, under these rule names.
IMMUTABLE = {"audit_log": "audit_log_append_only", "template_versions": "template_versions_immutable"}


@dataclass(frozen=True)
class Case:
    """One row of the bad-input matrix."""

    constraint: str  # what the row exercises: a constraint name or "table.column NOT NULL"
    table: str
    label: str
    sql: str
    expect: str | None  # the constraint that should reject it; None: it should be accepted
    values: dict[str, str] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        """What the row exercises: PRIMARY KEY, UNIQUE, FOREIGN KEY, CHECK, NOT NULL or JSONB."""
        if self.constraint.endswith(" NOT NULL"):
            return "NOT NULL"
        if self.constraint.endswith(JSONB_NUL):
            return "JSONB"
        if self.constraint in IMMUTABLE.values():
            return "TRIGGER"
        prefix = self.constraint.split("_", 1)[0]
        return {"pk": "PRIMARY KEY", "uq": "UNIQUE", "fk": "FOREIGN KEY", "ck": "CHECK"}.get(prefix, prefix)


def insert(table: str, label: str, constraint: str, expect: str | None, **values: str) -> Case:
    """A case that inserts the table's base row with some columns replaced."""
    row = {**BASE[table], **values}
    row = {k: v for k, v in row.items() if v is not None}
    sql = f"INSERT INTO {table} ({', '.join(row)}) VALUES ({', '.join(row.values())})"
    return Case(constraint, table, label, sql, expect, row)


def update(table: str, label: str, constraint: str, expect: str | None, **values: str) -> Case:
    """A case that updates the table's fixture row (for a history table: inserts a row with those values)."""
    if table in IMMUTABLE:
        return insert(
            table,
            label.replace("changed to", "inserted with")
            .replace("set to", "inserted as")
            .replace(" on update", " (history rows are never updated)"),
            constraint,
            expect,
            **values,
        )
    sets = ", ".join(f"{k} = {v}" for k, v in values.items())
    if table in FIXTURE_ID:
        where = f"id = {FIXTURE_ID[table]}"
    else:
        col, val = FIXTURE_KEY[table]
        where = f"{col} = {val}"
    return Case(constraint, table, label, f"UPDATE {table} SET {sets} WHERE {where}", expect, dict(values))


def q(text: str) -> str:
    """A SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


_LONG_PRE = "'1.0.0-" + "a" * 45 + "'"  # 51 characters, a valid semantic version
_V0024_CASES: list[tuple[str, str, list[tuple[str, dict[str, str], bool]]]] = [
    (
        "templates",
        "ck_templates_version_semver_strict",
        [
            ("pre-release number with a leading zero", {"version": "'1.2.3-007'"}, False),
            ("empty identifier inside the pre-release", {"version": "'4.5.6-x..y'"}, False),
            ("dotted pre-release (boundary)", {"version": "'1.2.3-x.7'"}, True),
        ],
    ),
    (
        "templates",
        "ck_templates_version_length",
        [
            ("51-character version", {"version": _LONG_PRE}, False),
            ("51-character version with build metadata", {"version": "'1.0.0+" + "b" * 45 + "'"}, False),
            ("50-character version (boundary)", {"version": "'1.0.0-" + "a" * 44 + "'"}, True),
        ],
    ),
    (
        "templates",
        "ck_templates_description_not_blank",
        [
            ("15 spaces", {"description": "repeat(' ', 15)"}, False),
            ("11 ideographic spaces", {"description": "repeat(chr(12288), 11)"}, False),
            ("spaces and one letter (boundary)", {"description": "repeat(' ', 12) || 'x'"}, True),
        ],
    ),
    (
        "templates",
        "ck_templates_deleted_after_created",
        [
            (
                "deleted a day before it was created",
                {"created_at": "'2024-02-02 00:00:00+00'", "deleted_at": "'2024-02-01 00:00:00+00'"},
                False,
            ),
            (
                "deleted a second before it was created",
                {"created_at": "'2024-02-02 00:00:01+00'", "deleted_at": "'2024-02-02 00:00:00+00'"},
                False,
            ),
            (
                "deleted the instant it was created (boundary)",
                {"created_at": "'2024-02-02 00:00:00+00'", "deleted_at": "'2024-02-02 00:00:00+00'"},
                True,
            ),
        ],
    ),
    (
        "template_versions",
        "ck_template_versions_version_semver_strict",
        [
            ("pre-release number with a leading zero", {"version": "'1.2.0-010'"}, False),
            ("empty build identifier", {"version": "'1.2.0+a..b'"}, False),
            ("pre-release and build (boundary)", {"version": "'1.2.0-rc.1+b.2'"}, True),
        ],
    ),
    (
        "template_versions",
        "ck_template_versions_version_length",
        [
            ("51-character version", {"version": _LONG_PRE}, False),
            ("60-character version", {"version": "'1.0.0-" + "c" * 54 + "'"}, False),
            ("50-character version (boundary)", {"version": "'1.0.0-" + "c" * 44 + "'"}, True),
        ],
    ),
    (
        "patterns",
        "ck_patterns_deleted_after_created",
        [
            (
                "deleted a day before it was created",
                {"created_at": "'2024-03-02 00:00:00+00'", "deleted_at": "'2024-03-01 00:00:00+00'"},
                False,
            ),
            (
                "deleted a year before it was created",
                {"created_at": "'2025-03-02 00:00:00+00'", "deleted_at": "'2024-03-02 00:00:00+00'"},
                False,
            ),
            (
                "deleted the instant it was created (boundary)",
                {"created_at": "'2024-03-02 00:00:00+00'", "deleted_at": "'2024-03-02 00:00:00+00'"},
                True,
            ),
        ],
    ),
    (
        "projects",
        "ck_projects_deleted_after_created",
        [
            (
                "deleted a day before it was created",
                {"created_at": "'2024-04-02 00:00:00+00'", "deleted_at": "'2024-04-01 00:00:00+00'"},
                False,
            ),
            (
                "deleted a minute before it was created",
                {"created_at": "'2024-04-02 00:01:00+00'", "deleted_at": "'2024-04-02 00:00:00+00'"},
                False,
            ),
            (
                "deleted a minute after it was created (boundary)",
                {"created_at": "'2024-04-02 00:00:00+00'", "deleted_at": "'2024-04-02 00:01:00+00'"},
                True,
            ),
        ],
    ),
    (
        "audit_log",
        "ck_audit_log_table_name_length",
        [
            ("101-character table name", {"table_name": "repeat('t', 101)"}, False),
            ("150-character table name", {"table_name": "repeat('u', 150)"}, False),
            ("100-character table name (boundary)", {"table_name": "repeat('t', 100)"}, True),
        ],
    ),
    (
        "schema_migrations",
        "ck_schema_migrations_version_length",
        [
            ("51-character version", {"version": "repeat('9', 51)"}, False),
            ("60-character version", {"version": "repeat('8', 60)"}, False),
            ("50-character version (boundary)", {"version": "repeat('9', 50)"}, True),
        ],
    ),
]


def check_cases() -> list[Case]:
    """Hand-written cases for every CHECK constraint: two violations and one boundary each."""
    c = []
    ck = "ck_users_email"
    c += [
        insert("users", "e-mail without a top-level domain", ck, ck, email=q("cy@example")),
        insert("users", "e-mail with a space", ck, ck, email=q("cy lee@example.com")),
        insert("users", "e-mail with a one-letter TLD", ck, ck, email=q("cy@example.c")),
        insert("users", "e-mail of 254 characters (boundary)", ck, None, email=q("c" * 242 + "@example.com")),
        insert("users", "e-mail of 255 characters", ck, ck, email=q("c" * 243 + "@example.com")),
    ]
    ck = "ck_users_name_length"
    c += [
        insert("users", "empty name", ck, ck, name="''"),
        insert("users", "name of 256 characters", ck, ck, name=q("n" * 256)),
        insert("users", "name of 1 character (boundary)", ck, None, name="'N'"),
    ]
    ck = "ck_users_role"
    c += [
        insert("users", "role 'owner' outside the set", ck, ck, role="'owner'"),
        insert("users", "role 'Admin' in the wrong case", ck, ck, role="'Admin'"),
        insert("users", "role 'contributor' (boundary)", ck, None, role="'contributor'"),
    ]
    for table, ck in [
        ("users", "ck_users_updated_after_created"),
        ("templates", "ck_templates_updated_after_created"),
        ("projects", "ck_projects_updated_after_created"),
        ("patterns", "ck_patterns_updated_after_created"),
    ]:
        c += [
            insert(
                table,
                "updated a day before created",
                ck,
                ck,
                created_at="'2024-01-02 00:00:00+00'",
                updated_at="'2024-01-01 00:00:00+00'",
            ),
            insert(
                table,
                "updated a microsecond before created",
                ck,
                ck,
                created_at="'2024-01-01 00:00:00.000001+00'",
                updated_at="'2024-01-01 00:00:00+00'",
            ),
            insert(
                table,
                "updated at the creation instant (boundary)",
                ck,
                None,
                created_at="'2024-01-01 00:00:00+00'",
                updated_at="'2024-01-01 00:00:00+00'",
            ),
        ]
    ck = "ck_templates_name_length"
    c += [
        insert("templates", "empty name", ck, ck, name="''"),
        insert("templates", "name of 256 characters", ck, ck, name=q("t" * 256)),
        insert("templates", "name of 255 characters (boundary)", ck, None, name=q("t" * 255)),
    ]
    ck = "ck_templates_description_length"
    c += [
        insert("templates", "description of 9 characters", ck, ck, description="'Too short'"),
        insert("templates", "empty description", ck, ck, description="''"),
        insert("templates", "description of 10 characters (boundary)", ck, None, description="'Just right'"),
    ]
    ck = "ck_templates_category_length"
    c += [
        insert("templates", "empty category", ck, ck, category="''"),
        insert("templates", "category of 101 characters", ck, ck, category=q("c" * 101)),
        insert("templates", "category of 100 characters (boundary)", ck, None, category=q("c" * 100)),
    ]
    for table, ck in [
        ("templates", "ck_templates_version_semver"),
        ("template_versions", "ck_template_versions_version_semver"),
    ]:
        c += [
            insert(table, "version '1.2'", ck, ck, version="'1.2'"),
            insert(table, "version 'v1.2.3'", ck, ck, version="'v1.2.3'"),
            insert(table, "version '01.2.3' (leading zero)", ck, ck, version="'01.2.3'"),
            insert(table, "version '1.2.3garbage'", ck, ck, version="'1.2.3garbage'"),
            insert(table, "version '1.2.3-beta' (boundary)", ck, None, version="'1.2.3-beta'"),
            insert(table, "version '10.20.30+build.7' (boundary)", ck, None, version="'10.20.30+build.7'"),
        ]
    ck = "ck_templates_schema_valid"
    c += [
        insert("templates", "schema '{}' (the seed's default)", ck, ck, schema="'{}'"),
        insert("templates", "schema that is a JSON array", ck, ck, schema="""'["variables", "files"]'"""),
        insert(
            "templates",
            "schema whose variables is an object",
            ck,
            ck,
            schema="""'{"variables": {}, "files": []}'""",
        ),
        insert("templates", "schema that is a JSON string", ck, ck, schema="""'"variables"'"""),
        insert(
            "templates",
            "schema with an empty variables array (boundary)",
            ck,
            None,
            schema="""'{"variables": [], "files": null}'""",
        ),
    ]
    ck = "ck_projects_name_length"
    c += [
        insert("projects", "name of 1 character", ck, ck, name="'x'"),
        insert("projects", "name of 101 characters", ck, ck, name=q("p" * 101)),
        insert("projects", "name of 2 characters (boundary)", ck, None, name="'xy'"),
        insert("projects", "name of 100 characters (boundary)", ck, None, name=q("p" * 100)),
    ]
    for table, ck in [
        ("projects", "ck_projects_configuration_object"),
        ("patterns", "ck_patterns_configuration_object"),
        ("pattern_applications", "ck_pattern_applications_configuration_object"),
    ]:
        c += [
            insert(table, "configuration that is a JSON array", ck, ck, configuration="'[1, 2]'"),
            insert(table, "configuration that is a JSON string", ck, ck, configuration="""'"dark"'"""),
            insert(table, "configuration that is JSON null", ck, ck, configuration="'null'"),
            insert(table, "configuration that is an empty object (boundary)", ck, None, configuration="'{}'"),
        ]
    ck = "ck_patterns_name_length"
    c += [
        insert("patterns", "empty name", ck, ck, name="''"),
        insert("patterns", "name of 256 characters", ck, ck, name=q("p" * 256)),
        insert("patterns", "name of 1 character (boundary)", ck, None, name="'j'"),
    ]
    ck = "ck_patterns_usage_count"
    c += [
        insert("patterns", "usage count -1", ck, ck, usage_count="-1"),
        insert("patterns", "usage count -2147483648", ck, ck, usage_count="-2147483648"),
        insert("patterns", "usage count 0 (boundary)", ck, None, usage_count="0"),
    ]
    ck = "ck_audit_log_operation"
    c += [
        insert("audit_log", "operation 'MERGE'", ck, ck, operation="'MERGE'"),
        insert("audit_log", "operation 'update' in lower case", ck, ck, operation="'update'"),
        insert(
            "audit_log",
            "operation 'DELETE' with old values only (boundary)",
            ck,
            None,
            operation="'DELETE'",
            new_values="NULL",
        ),
    ]
    ck = "ck_audit_log_values"
    c += [
        insert("audit_log", "INSERT with old values", ck, ck, operation="'INSERT'"),
        insert("audit_log", "UPDATE without new values", ck, ck, new_values="NULL"),
        insert(
            "audit_log",
            "INSERT with new values only (boundary)",
            ck,
            None,
            operation="'INSERT'",
            old_values="NULL",
        ),
    ]
    ck = "ck_schema_migrations_checksum"
    c += [
        insert(
            "schema_migrations",
            "the seed's 'sha256_checksum_here'",
            ck,
            ck,
            checksum="'sha256_checksum_here'",
        ),
        insert("schema_migrations", "upper-case hex digest", ck, ck, checksum=q("A" * 64)),
        insert("schema_migrations", "63 hex digits", ck, ck, checksum=q("a" * 63)),
        insert("schema_migrations", "64 lower-case hex digits (boundary)", ck, None, checksum=q("0" * 64)),
    ]
    ck = "ck_schema_migrations_state"
    c += [
        insert("schema_migrations", "state 'done'", ck, ck, state="'done'"),
        insert("schema_migrations", "state 'APPLIED' (upper case)", ck, ck, state="'APPLIED'"),
        insert(
            "schema_migrations",
            "state 'failed' with its error (boundary)",
            ck,
            None,
            state="'failed'",
            error="'x'",
        ),
    ]
    ck = "ck_schema_migration_repairs_reason"
    c += [
        insert("schema_migration_repairs", "empty reason", ck, ck, reason="''"),
        insert("schema_migration_repairs", "reason of spaces only", ck, ck, reason="'   '"),
        insert("schema_migration_repairs", "a one-letter reason (boundary)", ck, None, reason="'x'"),
    ]
    ml = "migration_log"
    ck = "ck_migration_log_status"
    c += [
        insert(ml, "status 'DONE'", ck, ck, status="'DONE'", **_COMPLETED),
        insert(ml, "status 'started' (lower case)", ck, ck, status="'started'", **_COMPLETED),
        insert(ml, "status 'STARTED' (boundary)", ck, None, status="'STARTED'"),
    ]
    # V0024's checks (found by the held-out rows): two violating rows and a boundary row each.
    for table, ck, rows in _V0024_CASES:
        c += [insert(table, label, ck, None if ok else ck, **values) for label, values, ok in rows]
    ck = "ck_erasure_log_counts"
    c += [
        insert("erasure_log", "negative rows redacted", ck, ck, rows_redacted="-1"),
        insert("erasure_log", "negative audit rows redacted", ck, ck, audit_rows_redacted="-1"),
        insert(
            "erasure_log",
            "nothing to redact (boundary)",
            ck,
            None,
            rows_redacted="0",
            audit_rows_redacted="0",
        ),
    ]
    ck = "ck_migration_log_name_length"
    c += [
        insert(ml, "empty name", ck, ck, migration_name="''"),
        insert(ml, "201-character name", ck, ck, migration_name=q("m" * 201)),
        insert(ml, "200-character name (boundary)", ck, None, migration_name=q("m" * 200)),
    ]
    ck = "ck_migration_log_backed_up"
    c += [
        insert(ml, "BACKED_UP without a backup", ck, ck, status="'BACKED_UP'"),
        insert(
            ml,
            "BACKED_UP without the backup's checksum",
            ck,
            ck,
            status="'BACKED_UP'",
            **{**_BACKED_UP, "backup_checksum": None},
        ),
        insert(
            ml, "BACKED_UP with a verified backup (boundary)", ck, None, status="'BACKED_UP'", **_BACKED_UP
        ),
    ]
    ck = "ck_migration_log_completed"
    c += [
        insert(
            ml,
            "COMPLETED without a changed-row count",
            ck,
            ck,
            status="'COMPLETED'",
            **{**_COMPLETED, "rows_changed": None},
        ),
        insert(
            ml,
            "COMPLETED without a checksum of the change",
            ck,
            ck,
            status="'COMPLETED'",
            **{**_COMPLETED, "changed_checksum": None},
        ),
        insert(ml, "COMPLETED with its counts (boundary)", ck, None, status="'COMPLETED'", **_COMPLETED),
    ]
    ck = "ck_migration_log_failed"
    c += [
        insert(
            ml, "FAILED without the error", ck, ck, status="'FAILED'", **{**_FAILED, "error_message": None}
        ),
        insert(ml, "STARTED with an error message", ck, ck, status="'STARTED'", **_FAILED),
        insert(ml, "FAILED with step, error and time (boundary)", ck, None, status="'FAILED'", **_FAILED),
    ]
    ck = "ck_migration_log_restored"
    c += [
        insert(
            ml,
            "RESTORED without who restored it",
            ck,
            ck,
            status="'RESTORED'",
            **{**_RESTORED, "restored_by": None},
        ),
        insert(
            ml,
            "COMPLETED with a restore recorded",
            ck,
            ck,
            status="'COMPLETED'",
            **_RESTORED,
        ),
        insert(
            ml, "RESTORED with who, when and how many (boundary)", ck, None, status="'RESTORED'", **_RESTORED
        ),
    ]
    return c


def _not_null_cases(cat: Catalog) -> list[Case]:
    out = []
    for t in cat.base_tables:
        if t.name not in BASE:
            continue
        for col in t.columns:
            if col.nullable:
                continue
            name = f"{t.name}.{col.name} NOT NULL"
            out.append(insert(t.name, f"{col.name} NULL on insert", name, name, **{col.name: "NULL"}))
            maintained = col.name == "updated_at" and any(
                tr.timing == "BEFORE" and "UPDATE" in tr.events and tr.function == "set_updated_at"
                for tr in t.triggers
            )
            if maintained:
                out.append(
                    insert(
                        t.name,
                        f"{col.name} NULL on insert, created_at given",
                        name,
                        name,
                        created_at="'2024-01-01 00:00:00+00'",
                        **{col.name: "NULL"},
                    )
                )
                out.append(
                    update(
                        t.name,
                        f"{col.name} set to NULL on update (the trigger restores it)",
                        name,
                        None,
                        **{col.name: "NULL"},
                    )
                )
            else:
                out.append(
                    update(t.name, f"{col.name} set to NULL on update", name, name, **{col.name: "NULL"})
                )
            if col.name in BASE[t.name]:
                out.append(insert(t.name, f"{col.name} given (boundary)", name, None))
            else:
                out.append(
                    insert(
                        t.name,
                        f"{col.name} omitted, default applies (boundary)",
                        name,
                        None,
                        **{col.name: None},
                    )
                )
    return out


def _unique_cases() -> list[Case]:
    c = []
    ck = "pk_users"
    c += [
        insert("users", "id of an existing user", ck, ck, id=U1),
        update("users", "id changed to another user's", ck, ck, id=U2),
        insert("users", "a new id (boundary)", ck, None, id="'00000000-0000-0000-0000-000000000003'"),
    ]
    ck = "uq_users_email_lower"
    c += [
        insert("users", "e-mail of an existing user", ck, ck, email="'ada@example.com'"),
        insert("users", "e-mail differing only by case", ck, ck, email="'ADA@Example.COM'"),
        insert("users", "e-mail differing by one character (boundary)", ck, None, email="'ada1@example.com'"),
    ]
    ck = "pk_templates"
    c += [
        insert("templates", "id of an existing template", ck, ck, id=T1),
        update("templates", "id changed to another template's", ck, ck, id=T2),
        insert("templates", "a new id (boundary)", ck, None, id="'00000000-0000-0000-0000-0000000000a3'"),
    ]
    ck = "uq_templates_name_version"
    c += [
        insert("templates", "same name and version", ck, ck, name="'react-app'", version="'1.0.0'"),
        update(
            "templates",
            "renamed onto another's name and version",
            ck,
            ck,
            name="'vue-app'",
            version="'2.0.0'",
        ),
        insert(
            "templates", "same name, next version (boundary)", ck, None, name="'react-app'", version="'1.0.1'"
        ),
    ]
    ck = "pk_projects"
    c += [
        insert("projects", "id of an existing project", ck, ck, id=P1),
        insert("projects", "id of an existing project, other owner", ck, ck, id=P1, name="'other'"),
        insert("projects", "a new id (boundary)", ck, None, id="'00000000-0000-0000-0000-0000000000b3'"),
    ]
    ck = "uq_projects_owner_id_name"
    c += [
        insert("projects", "same owner, same name", ck, ck, owner_id=U1, name="'site'"),
        update("projects", "renamed onto the owner's other project", ck, ck, name="'blog'"),
        insert("projects", "same name, other owner (boundary)", ck, None, owner_id=U2, name="'site'"),
        insert(
            "projects",
            "name of the owner's soft-deleted project (boundary)",
            ck,
            None,
            owner_id=U1,
            name="'old-site'",
        ),
    ]
    ck = "pk_patterns"
    c += [
        insert("patterns", "id of an existing pattern", ck, ck, id=PT1),
        insert("patterns", "id of an existing pattern, other name", ck, ck, id=PT1, name="'mocha'"),
        insert("patterns", "a new id (boundary)", ck, None, id="'00000000-0000-0000-0000-0000000000c3'"),
    ]
    ck = "uq_patterns_template_id_name"
    c += [
        insert("patterns", "same template, same name", ck, ck, template_id=T1, name="'eslint'"),
        update("patterns", "renamed onto the template's other pattern", ck, ck, name="'prettier'"),
        insert("patterns", "same name, other template (boundary)", ck, None, template_id=T2, name="'eslint'"),
    ]
    ck = "pk_pattern_applications"
    c += [
        insert("pattern_applications", "id of an existing application", ck, ck, id=PA1),
        insert(
            "pattern_applications", "id of an existing application, other user", ck, ck, id=PA1, applied_by=U1
        ),
        insert("pattern_applications", "the same pattern applied again (boundary)", ck, None),
    ]
    ck = "pk_template_versions"
    c += [
        insert("template_versions", "id of an existing version", ck, ck, id=TV1),
        insert(
            "template_versions", "id of an existing version, other number", ck, ck, id=TV1, version="'1.2.0'"
        ),
        insert(
            "template_versions", "a new id (boundary)", ck, None, id="'00000000-0000-0000-0000-0000000000e3'"
        ),
    ]
    ck = "uq_template_versions_template_id_version"
    c += [
        insert("template_versions", "same template, same version", ck, ck, version="'1.0.0'"),
        insert(
            "template_versions",
            "same template, same version, other author",
            ck,
            ck,
            version="'1.0.0'",
            created_by=U2,
        ),
        insert(
            "template_versions",
            "same version, other template (boundary)",
            ck,
            None,
            template_id=T2,
            version="'1.0.0'",
        ),
    ]
    ck = "pk_audit_log"
    c += [
        insert("audit_log", "id of an existing entry", ck, ck, id=AL1),
        insert("audit_log", "id of an existing entry, other table", ck, ck, id=AL1, table_name="'users'"),
        insert("audit_log", "a new id (boundary)", ck, None, id="'00000000-0000-0000-0000-0000000000f3'"),
    ]
    ck = "pk_schema_migrations"
    c += [
        insert("schema_migrations", "version of an applied migration", ck, ck, version="'0001'"),
        update("schema_migrations", "version changed to another applied one", ck, ck, version="'0002'"),
        insert("schema_migrations", "a new version (boundary)", ck, None, version="'9998'"),
    ]
    ck = "pk_schema_migration_repairs"
    c += [
        insert(
            "schema_migration_repairs",
            "same version and time as a recorded repair",
            ck,
            ck,
            repaired_at=REPAIRED_AT,
        ),
        insert(
            "schema_migration_repairs",
            "same version and time, another reason",
            ck,
            ck,
            repaired_at=REPAIRED_AT,
            reason="'other'",
        ),
        insert(
            "schema_migration_repairs",
            "same version, a later time (boundary)",
            ck,
            None,
            repaired_at="'2024-01-03 00:00:00+00'",
        ),
    ]
    ck = "pk_migration_log"
    c += [
        insert("migration_log", "id of a logged run", ck, ck, id="1000"),
        insert(
            "migration_log", "id of a logged run, another name", ck, ck, id="1000", migration_name="'other'"
        ),
        insert("migration_log", "a new id (boundary)", ck, None, id="99"),
    ]
    ck = "pk_erasure_log"
    c += [
        insert("erasure_log", "id of a recorded erasure", ck, ck, id="1000"),
        insert("erasure_log", "id of a recorded erasure, another user", ck, ck, id="1000", user_id=T1),
        insert("erasure_log", "a new id (boundary)", ck, None, id="99"),
    ]
    ck = "uq_erasure_log_user_id"
    c += [
        insert("erasure_log", "a user erased a second time", ck, ck, user_id=U2),
        insert(
            "erasure_log",
            "a second erasure of the same user, other counts",
            ck,
            ck,
            user_id=U2,
            rows_redacted="9",
        ),
        insert("erasure_log", "another user (boundary)", ck, None, user_id=U1),
    ]
    return c


def _fk_cases(cat: Catalog) -> list[Case]:
    out = []
    for t in cat.base_tables:
        for fk in t.foreign_keys:
            (col,) = fk.columns
            nullable = t.column(col).nullable
            out.append(insert(t.name, f"dangling {col}", fk.name, fk.name, **{col: NOWHERE}))
            if t.name in FIXTURE_ID:
                out.append(
                    update(t.name, f"{col} changed to a dangling id", fk.name, fk.name, **{col: NOWHERE})
                )
            else:
                out.append(
                    insert(
                        t.name,
                        f"another dangling {col}",
                        fk.name,
                        fk.name,
                        **{col: "'00000000-0000-0000-0000-00000000beef'"},
                    )
                )
            if nullable:
                out.append(insert(t.name, f"{col} NULL, optional (boundary)", fk.name, None, **{col: "NULL"}))
            else:
                out.append(
                    insert(t.name, f"{col} of an existing {fk.ref_table} row (boundary)", fk.name, None)
                )
    return out


def _jsonb_cases(cat: Catalog) -> list[Case]:
    """Every JSONB column: a U+0000 in a string and in a key (refused by jsonb), and an escaped one (stored)."""
    out = []
    for t in cat.base_tables:
        for col in t.columns:
            if col.type != "jsonb" or t.name not in BASE:
                continue
            base = json.loads(BASE[t.name].get(col.name, "'{}'")[1:-1])
            if not isinstance(base, dict):
                continue
            name = f"{t.name}.{col.name} {JSONB_NUL}"

            def doc(extra: dict, base: dict = base) -> str:
                return q(json.dumps({**base, **extra}))

            out += [
                insert(
                    t.name,
                    f"{col.name} with U+0000 in a string",
                    name,
                    JSONB_NUL,
                    **{col.name: doc({"note": "\x00"})},
                ),
                insert(
                    t.name,
                    f"{col.name} with U+0000 in a key",
                    name,
                    JSONB_NUL,
                    **{col.name: doc({"\x00": 1})},
                ),
                insert(
                    t.name,
                    f"{col.name} with an escaped backslash-u0000, six characters (boundary)",
                    name,
                    None,
                    **{col.name: doc({"note": "\\u0000"})},
                ),
            ]
    return out


def _history_cases() -> list[Case]:
    """History tables refuse UPDATE and DELETE of their rows; a new row is the boundary."""
    out = []
    for table, rule in IMMUTABLE.items():
        where = f"id = {FIXTURE_ID[table]}"
        out += [
            Case(
                rule,
                table,
                "UPDATE of a history row",
                f"UPDATE {table} SET created_at = created_at WHERE {where}"
                if table == "template_versions"
                else f"UPDATE {table} SET changed_at = changed_at WHERE {where}",
                rule,
            ),
            Case(rule, table, "DELETE of a history row", f"DELETE FROM {table} WHERE {where}", rule),
            insert(table, "a new history row (boundary)", rule, None),
        ]
    return out


def cases(cat: Catalog) -> list[Case]:
    """Every row of the bad-input matrix, for the design's catalog."""
    return (
        check_cases()
        + _unique_cases()
        + _fk_cases(cat)
        + _not_null_cases(cat)
        + _jsonb_cases(cat)
        + _history_cases()
    )


@dataclass(frozen=True)
class Outcome:
    """One matrix row's result on each engine."""

    case: Case
    results: dict[str, str]  # engine -> "accepted" or the rejecting constraint

    @property
    def expected(self) -> str:
        return self.case.expect or "accepted"

    @property
    def agree(self) -> bool:
        return len(set(self.results.values())) == 1

    @property
    def as_designed(self) -> dict[str, bool]:
        return {e: r == self.expected for e, r in self.results.items()}


def prepared(engine: str) -> Engine:
    """A migrated database on `engine` holding the fixture rows."""
    db = connect(engine)
    migrate.migrate(db)
    db.set_session_actor(WORKBOOK_ACTOR)
    for sql in FIXTURE:
        db.execute(sql)
    return db


def run_matrix(engines: tuple[str, ...] = ("postgres", "duckdb")) -> list[Outcome]:
    """Run every case on every engine; raises when both engines defy the design on a row."""
    dbs = {e: prepared(e) for e in engines}
    try:
        cats = {e: read_catalog(db) for e, db in dbs.items()}
        results: list[Outcome] = []
        for case in cases(cats[engines[0]]):
            got = {}
            for e, db in dbs.items():
                name = try_write(db, cats[e], case.table, case.sql, values=case.values)
                got[e] = "accepted" if name is None else name
            results.append(Outcome(case, got))
    finally:
        for db in dbs.values():
            db.close()
    wrong = [o for o in results if o.agree and not any(o.as_designed.values())]
    if wrong:
        o = wrong[0]
        raise WorkbookError(
            f"{len(wrong)} matrix row(s) defy the design on every engine; first: {o.case.table}: "
            f"{o.case.label}: expected {o.expected}, got {o.results}"
        )
    return results


def disagreements(outcomes: list[Outcome]) -> list[Outcome]:
    """Rows the engines judged differently."""
    return [o for o in outcomes if not o.agree]


def matrix_markdown(outcomes: list[Outcome], engines: tuple[str, ...] = ("postgres", "duckdb")) -> str:
    """The matrix as a GFM table; a cell differing from the design is marked."""
    label = {"postgres": "PostgreSQL", "duckdb": "DuckDB"}

    def show(o: Outcome, e: str) -> str:
        r = o.results[e]
        mark = "" if r == o.expected else " ⚠"
        return ("accepted" if r == "accepted" else f"`{r}`") + mark

    rows = [
        [
            o.case.table,
            f"`{o.case.constraint}`",
            o.case.label,
            "accepted" if o.case.expect is None else "rejected",
            *[show(o, e) for e in engines],
        ]
        for o in outcomes
    ]
    return md_table(["Table", "Constraint", "Row", "Design", *[label[e] for e in engines]], rows)


def rule_in_words(table: str, c: Constraint, nullable: dict[str, bool]) -> str:
    """The rule a constraint enforces, in words: its catalog comment, or derived from its keys."""
    if c.comment:
        return c.comment
    cols = ", ".join(c.columns)
    if c.kind == "PRIMARY KEY":
        return f"Each row is identified by {cols}, unique and never NULL."
    if c.kind == "UNIQUE":
        return f"No two rows share the same {cols}."
    if c.kind == "FOREIGN KEY":
        opt = " or be NULL" if any(nullable[x] for x in c.columns) else ""
        action = {
            "CASCADE": f"deleting the {c.ref_table} row deletes this one",
            "SET NULL": f"deleting the {c.ref_table} row clears {cols}",
        }.get(c.on_delete or "", f"deleting a referenced {c.ref_table} row is refused")
        return f"{cols} must match an existing {c.ref_table}.{', '.join(c.ref_columns)}{opt}; {action}."
    return c.definition


def catalogue_markdown(cat: Catalog) -> str:
    """Every constraint and unique index of the design: table, name, kind, rule in words, SQL."""
    rows = []
    order = {"PRIMARY KEY": 0, "UNIQUE": 1, "FOREIGN KEY": 2, "CHECK": 3}
    for t in cat.base_tables:
        nullable = {c.name: c.nullable for c in t.columns}
        for c in sorted(t.constraints, key=lambda c: (order[c.kind], c.name)):
            rows.append(
                [t.name, f"`{c.name}`", c.kind, rule_in_words(t.name, c, nullable), f"`{c.definition}`"]
            )
        for i in t.indexes:
            if i.unique:
                rows.append(
                    [
                        t.name,
                        f"`{i.name}`",
                        "UNIQUE INDEX",
                        f"No two rows share the same {', '.join(i.keys)}.",
                        f"`{i.definition}`",
                    ]
                )
        not_null = [c.name for c in t.columns if not c.nullable]
        rows.append(
            [t.name, "NOT NULL", "NOT NULL", "These columns always have a value.", ", ".join(not_null)]
        )
    return md_table(["Table", "Constraint", "Kind", "Rule", "SQL"], rows)


def _added_constraints() -> set[str]:
    """Constraints the migrations add to existing tables (ALTER TABLE ... ADD CONSTRAINT)."""
    return {g.where.split()[-1] for g in migrate.gaps() if g.rule == "add-constraint"}


# Why the engines can disagree on a matrix row, keyed by what each engine answered.
KNOWN_CAUSES = [
    (
        lambda r: r.get("duckdb") == REFERENCED,
        "DuckDB refuses to update an indexed column of a row that other rows reference",
        "DuckDB executes such an UPDATE as delete + insert, and its foreign keys refuse the delete while children "
        "exist; PostgreSQL updates in place and judges the row by the constraint under test.",
        "Documented as a DuckDB limitation: in DuckDB, update referenced rows' indexed columns only before children "
        "exist, or load PostgreSQL for write-path reviews.",
    ),
    (
        lambda r: (
            r.get("postgres") == "accepted" and str(r.get("duckdb", "")).endswith(".updated_at NOT NULL")
        ),
        "Setting updated_at to NULL: PostgreSQL's trigger repairs it, DuckDB rejects it",
        "On PostgreSQL the BEFORE UPDATE trigger set_updated_at() overwrites updated_at, so the NULL never reaches "
        "the NOT NULL check; DuckDB has no triggers (dialect gap `trigger`).",
        "As designed on PostgreSQL; on DuckDB, writers must maintain updated_at themselves.",
    ),
    (
        lambda r: r.get("postgres") == JSONB_NUL and r.get("duckdb") == "accepted",
        "A JSON document holding U+0000: PostgreSQL's jsonb refuses it, DuckDB stores it",
        "PostgreSQL's jsonb stores strings as text, which cannot contain U+0000 (`unsupported Unicode escape "
        "sequence`, SQLSTATE 22P05); DuckDB's JSON type keeps the document as text and accepts the escape. Found "
        "by the property test of the JSON rules (hypothesis drew `{'variables': '\\x00'}`).",
        "The design's rule follows PostgreSQL (`rules.jsonb_storable`): a document with U+0000 is invalid. On "
        "DuckDB, writers check it; the property test asserts this disagreement, so a change on either engine "
        "fails the build.",
    ),
    (
        lambda r: r.get("postgres") in IMMUTABLE.values() and r.get("duckdb") != r.get("postgres"),
        "History rows: PostgreSQL refuses UPDATE and DELETE, DuckDB lets them through",
        "On PostgreSQL the BEFORE UPDATE OR DELETE triggers of audit_log and template_versions refuse the change "
        "(migrations V0013, V0015); DuckDB has no triggers (dialect gap `trigger`).",
        "As designed on PostgreSQL; on DuckDB the write API never updates or deletes history rows.",
    ),
    (
        lambda r: r.get("postgres") == "accepted" and r.get("duckdb", "").startswith("uq_"),
        "The name of a soft-deleted row: PostgreSQL frees it, DuckDB keeps it reserved",
        "The design makes names unique among live rows (unique indexes WHERE deleted_at IS NULL, V0014); "
        "DuckDB can neither drop the original UNIQUE constraint nor build a partial index (gaps `drop-constraint`, "
        "`partial-index`).",
        "As designed on PostgreSQL (finding F17); on DuckDB a soft-deleted name stays taken.",
    ),
    (
        lambda r: r.get("postgres") in _added_constraints() and r.get("duckdb") == "accepted",
        "A constraint added to an existing table by a later migration: DuckDB does not hold it",
        "DuckDB cannot add a constraint to an existing table (gap `add-constraint`), so the statement is skipped.",
        "As designed on PostgreSQL; on DuckDB only the runner writes the ledger, and only states the rule allows.",
    ),
    (
        lambda r: str(r.get("postgres", "")).endswith(" NOT NULL") and r.get("duckdb") == "accepted",
        "A NOT NULL column added by a later migration: DuckDB keeps it nullable",
        "DuckDB cannot add a column with a constraint, nor set NOT NULL on a table with an index (gap "
        "`add-column-not-null`); the column's default fills it.",
        "As designed on PostgreSQL; on DuckDB the write API always fills the column.",
    ),
]


@dataclass(frozen=True)
class Disagreement:
    """Matrix rows the engines judged differently, grouped by cause."""

    title: str
    cause: str
    fix: str
    rows: tuple[Outcome, ...]


def group_disagreements(outcomes: list[Outcome]) -> list[Disagreement]:
    """Every disagreeing row in exactly one group; rows of no known cause form their own groups."""
    groups: list[Disagreement] = []
    rest = disagreements(outcomes)
    for test, title, cause, fix in KNOWN_CAUSES:
        hit = tuple(o for o in rest if test(o.results))
        rest = [o for o in rest if o not in hit]
        if hit:
            groups.append(Disagreement(title, cause, fix, hit))
    for o in rest:
        groups.append(
            Disagreement(
                f"{o.case.table}: {o.case.label}", f"engines answered {o.results}", "Not yet triaged.", (o,)
            )
        )
    return groups
