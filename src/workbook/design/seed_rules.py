"""Every rule the seed prompt states, and where the design enforces it.

A rule is anything the seed says a stored row must satisfy: a CHECK, a key, a foreign key, NOT
NULL, a type's length (VARCHAR(n)), the values a comment lists, and what its functions are for
(validate_template_schema, audit_trigger, soft_delete, create_template_version,
migrate_data_safely). Not counted: the seed's indexes, views and queries (they read, they do not
constrain), its defaults, and names in the diagram that carry no condition ("Full name").

Each rule quotes the seed exactly (`quote` is a part of the line `where` names in
src/workbook/seed_prompt.md; the tests check it), says what kind of rule it is, and names what
enforces it in the design: constraint, index, trigger and function names, or "table.column NOT
NULL", all found in the live PostgreSQL catalog by `workbook.held_out.missing_names`. A part of a
rule the design does not hold is an entry "not enforced: <why>". `matrix` lists the bad-input
matrix's cases (by the constraint they exercise, `quality.Case.constraint`) and the held-out rows
(`workbook.design.held_out`, by id) that exercise the rule.

`NOT_RULES` lists what a new user might take for a rule and the seed does not state, with why.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from .held_out import ROWS as HELD_OUT

KINDS = ("check", "fk", "unique", "not-null", "trigger", "function", "prose")
NOT_ENFORCED = "not enforced: "


@dataclass(frozen=True)
class SeedRule:
    """One rule of the seed prompt."""

    id: str
    quote: str  # the seed's words, exactly as they stand on the line `where` names
    where: str  # section, and "line N" of src/workbook/seed_prompt.md
    kind: str  # one of KINDS
    enforced_by: tuple[str, ...]  # catalog names, "table.column NOT NULL", or "not enforced: <why>"
    matrix: tuple[str, ...] = ()  # matrix cases (their constraint) and held-out rows (their id)
    note: str = ""

    @property
    def line(self) -> int:
        return int(self.where.rsplit("line ", 1)[1])

    @property
    def names(self) -> tuple[str, ...]:
        """What enforces it, by name."""
        return tuple(e for e in self.enforced_by if not e.startswith(NOT_ENFORCED))

    @property
    def gaps(self) -> tuple[str, ...]:
        """Why a part of it is not enforced."""
        return tuple(e[len(NOT_ENFORCED) :] for e in self.enforced_by if e.startswith(NOT_ENFORCED))


ER = "§1 Conceptual Data Model, Entity Identification"
REL = "§1 Conceptual Data Model, Relationship Analysis"
LOGICAL = "§2 Logical Data Model"
AUDIT = "§3 Data Patterns, Audit Trail Pattern"
SOFT = "§3 Data Patterns, Soft Delete Pattern"
VERSIONING = "§3 Data Patterns, Versioning Pattern"
INTEGRITY = "§5 Data Integrity and Validation"
MIGRATION = "§6 Migration Strategy"


def nn(table: str, *columns: str) -> tuple[str, ...]:
    return tuple(f"{table}.{c} NOT NULL" for c in columns)


def at(section: str, line: int) -> str:
    return f"{section}, line {line}"


_TIMESTAMPS = {
    "users": (97, 98, "ck_users_updated_after_created", "trg_users_updated_at"),
    "projects": (113, 114, "ck_projects_updated_after_created", "trg_projects_updated_at"),
    "templates": (130, 131, "ck_templates_updated_after_created", "trg_templates_updated_at"),
    "patterns": (146, 147, "ck_patterns_updated_after_created", "trg_patterns_updated_at"),
}


def _timestamps() -> list[SeedRule]:
    out = []
    for table, (created, updated, ck, trg) in _TIMESTAMPS.items():
        out += [
            SeedRule(
                f"{table}-created-at",
                "created_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),",
                at(f"{LOGICAL}, {table}", created),
                "not-null",
                nn(table, "created_at"),
                nn(table, "created_at"),
            ),
            SeedRule(
                f"{table}-updated-at",
                "updated_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),",
                at(f"{LOGICAL}, {table}", updated),
                "not-null",
                (*nn(table, "updated_at"), ck, trg, "set_updated_at"),
                (*nn(table, "updated_at"), ck),
                "The design keeps updated_at true (V0011's trigger) and never before created_at (V0002-V0005).",
            ),
        ]
    return out


_RULES: list[SeedRule] = [
    # -- §1 the conceptual model ---------------------------------------------------------------------
    SeedRule(
        "er-ids",
        'string id PK "Unique identifier"',
        at(f"{ER}, USER", 28),
        "unique",
        ("pk_users", "pk_projects", "pk_templates", "pk_patterns"),
        ("pk_users", "pk_projects", "pk_templates", "pk_patterns"),
        "Stated for each of the four entities (lines 28, 38, 49, 62).",
    ),
    SeedRule(
        "er-email-unique",
        'string email UK "Email address"',
        at(f"{ER}, USER", 29),
        "unique",
        ("uq_users_email_lower",),
        ("uq_users_email_lower",),
        "Unique ignoring case (finding F05).",
    ),
    SeedRule(
        "er-role",
        'string role "user, admin, contributor"',
        at(f"{ER}, USER", 31),
        "check",
        ("ck_users_role",),
        ("ck_users_role",),
    ),
    SeedRule(
        "er-project-owner",
        'string owner_id FK "References USER.id"',
        at(f"{ER}, PROJECT", 41),
        "fk",
        ("fk_projects_owner_id_users",),
        ("fk_projects_owner_id_users",),
    ),
    SeedRule(
        "er-project-template",
        'string template_id FK "Base template used"',
        at(f"{ER}, PROJECT", 42),
        "fk",
        ("fk_projects_template_id_templates",),
        ("fk_projects_template_id_templates",),
    ),
    SeedRule(
        "er-template-version",
        'string version "Semantic version"',
        at(f"{ER}, TEMPLATE", 53),
        "check",
        ("ck_templates_version_semver", "ck_templates_version_semver_strict", "semver_valid"),
        ("ck_templates_version_semver",),
        "Semantic Versioning 2.0: no empty identifiers, no leading zero in a numeric one. Before V0024 only "
        "the shape was checked on direct writes (create_template_version applied the strict grammar).",
    ),
    SeedRule(
        "er-template-author",
        'string author_id FK "References USER.id"',
        at(f"{ER}, TEMPLATE", 54),
        "fk",
        ("fk_templates_author_id_users",),
        ("fk_templates_author_id_users",),
    ),
    SeedRule(
        "er-template-published",
        'boolean published "Public availability"',
        at(f"{ER}, TEMPLATE", 58),
        "prose",
        (
            *nn("templates", "published"),
            NOT_ENFORCED + "availability is a read rule, not a row rule: the design's listing and search "
            "patterns read only published, live templates (ix_templates_popular is WHERE published AND "
            "deleted_at IS NULL), and who may instantiate another user's unpublished template is access "
            "control (row-level security, Security and Privacy). No CHECK or trigger can refuse it: a project "
            "keeps its template when the author unpublishes it later, so the same row is valid then.",
        ),
        nn("templates", "published"),
    ),
    SeedRule(
        "er-pattern-template",
        'string template_id FK "Associated template"',
        at(f"{ER}, PATTERN", 65),
        "fk",
        ("fk_patterns_template_id_templates",),
        ("fk_patterns_template_id_templates",),
    ),
    SeedRule(
        "er-usage-count",
        'integer usage_count "Times applied"',
        at(f"{ER}, PATTERN", 67),
        "trigger",
        (
            "trg_pattern_applications_usage_count",
            "count_pattern_applications",
            "ck_patterns_usage_count",
            NOT_ENFORCED + "a direct write of usage_count (UPDATE patterns SET usage_count = 99) is not "
            "refused: the bulk loader and restore_data_migration write the stored count as it was, and the "
            "synthetic-data check 'usage_count counts applications' verifies it after every load. Only "
            "writes through pattern_applications keep it by construction.",
        ),
        ("ck_patterns_usage_count",),
    ),
    SeedRule(
        "er-owns",
        'USER ||--o{ PROJECT : "owns"',
        at(f"{ER}, relationships", 72),
        "fk",
        ("fk_projects_owner_id_users", *nn("projects", "owner_id")),
        ("fk_projects_owner_id_users", *nn("projects", "owner_id")),
    ),
    SeedRule(
        "er-creates",
        'USER ||--o{ TEMPLATE : "creates"',
        at(f"{ER}, relationships", 73),
        "fk",
        ("fk_templates_author_id_users", *nn("templates", "author_id")),
        ("fk_templates_author_id_users", *nn("templates", "author_id")),
    ),
    SeedRule(
        "er-instantiates",
        'TEMPLATE ||--o{ PROJECT : "instantiates"',
        at(f"{ER}, relationships", 74),
        "fk",
        (
            "fk_projects_template_id_templates",
            NOT_ENFORCED + "the diagram's || reads 'exactly one template per project', but the logical "
            "schema (line 111) makes template_id optional and cleared when the template is deleted (ON "
            "DELETE SET NULL); the design follows the logical schema, so a project without a template is valid.",
        ),
        ("fk_projects_template_id_templates",),
    ),
    SeedRule(
        "er-contains",
        'TEMPLATE ||--o{ PATTERN : "contains"',
        at(f"{ER}, relationships", 75),
        "fk",
        ("fk_patterns_template_id_templates", *nn("patterns", "template_id")),
        ("fk_patterns_template_id_templates", *nn("patterns", "template_id")),
    ),
    SeedRule(
        "rel-one-to-many",
        "**One-to-Many**: User → Projects, User → Templates",
        at(REL, 79),
        "fk",
        ("fk_projects_owner_id_users", "fk_templates_author_id_users"),
        ("fk_projects_owner_id_users", "fk_templates_author_id_users"),
    ),
    SeedRule(
        "rel-many-to-many",
        "**Many-to-Many**: Projects → Patterns (via application history)",
        at(REL, 80),
        "fk",
        (
            "pk_pattern_applications",
            "fk_pattern_applications_project_id_projects",
            "fk_pattern_applications_pattern_id_patterns",
            "ck_pattern_applications_configuration_object",
        ),
        (
            "fk_pattern_applications_project_id_projects",
            "fk_pattern_applications_pattern_id_patterns",
            "ck_pattern_applications_configuration_object",
        ),
        "The seed names the relationship and never defines its table; pattern_applications is the design's (F11).",
    ),
    SeedRule(
        "rel-hierarchical",
        "**Hierarchical**: Template → Patterns, Project → Configurations",
        at(REL, 81),
        "fk",
        ("fk_patterns_template_id_templates", "ck_projects_configuration_object"),
        ("fk_patterns_template_id_templates", "ck_projects_configuration_object"),
    ),
    SeedRule(
        "rel-temporal",
        "**Temporal**: All entities have creation/modification timestamps",
        at(REL, 82),
        "check",
        (
            *(ck for *_, ck, _ in _TIMESTAMPS.values()),
            *(trg for *_, trg in _TIMESTAMPS.values()),
            "set_updated_at",
        ),
        tuple(ck for *_, ck, _ in _TIMESTAMPS.values()),
        "pattern_applications (applied_at) and template_versions (created_at) are history: created, never "
        "modified (template_versions_immutable).",
    ),
    # -- §2 the logical model: users ----------------------------------------------------------------
    SeedRule(
        "users-id",
        "id UUID PRIMARY KEY DEFAULT gen_random_uuid(),",
        at(f"{LOGICAL}, users", 92),
        "unique",
        ("pk_users",),
        ("pk_users",),
    ),
    SeedRule(
        "users-email",
        "email VARCHAR(255) UNIQUE NOT NULL,",
        at(f"{LOGICAL}, users", 93),
        "unique",
        ("uq_users_email_lower", "ck_users_email", *nn("users", "email")),
        ("uq_users_email_lower", *nn("users", "email")),
        "ck_users_email allows 254 characters, the longest address SMTP carries (within the 255).",
    ),
    SeedRule(
        "users-name",
        "name VARCHAR(255) NOT NULL,",
        at(f"{LOGICAL}, users", 94),
        "check",
        ("ck_users_name_length", *nn("users", "name")),
        ("ck_users_name_length", *nn("users", "name")),
    ),
    SeedRule(
        "users-role",
        "role VARCHAR(50) NOT NULL DEFAULT 'user',",
        at(f"{LOGICAL}, users", 95),
        "check",
        ("ck_users_role", *nn("users", "role")),
        ("ck_users_role", *nn("users", "role")),
    ),
    SeedRule(
        "users-active",
        "active BOOLEAN NOT NULL DEFAULT true,",
        at(f"{LOGICAL}, users", 96),
        "not-null",
        nn("users", "active"),
        nn("users", "active"),
    ),
    SeedRule(
        "users-email-check",
        "CONSTRAINT users_email_check CHECK (email ~* '^[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\\.[A-Za-z]{2,}$'),",
        at(f"{LOGICAL}, users", 101),
        "check",
        ("ck_users_email",),
        ("ck_users_email",),
    ),
    SeedRule(
        "users-role-check",
        "CONSTRAINT users_role_check CHECK (role IN ('user', 'admin', 'contributor'))",
        at(f"{LOGICAL}, users", 102),
        "check",
        ("ck_users_role",),
        ("ck_users_role",),
    ),
    # -- projects -------------------------------------------------------------------------------------
    SeedRule(
        "projects-id",
        "id UUID PRIMARY KEY DEFAULT gen_random_uuid(),",
        at(f"{LOGICAL}, projects", 107),
        "unique",
        ("pk_projects",),
        ("pk_projects",),
    ),
    SeedRule(
        "projects-name",
        "name VARCHAR(255) NOT NULL,",
        at(f"{LOGICAL}, projects", 108),
        "check",
        ("ck_projects_name_length", *nn("projects", "name")),
        ("ck_projects_name_length", *nn("projects", "name")),
        "§5 narrows it to 2 to 100 characters (projects_name_length).",
    ),
    SeedRule(
        "projects-owner",
        "owner_id UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,",
        at(f"{LOGICAL}, projects", 110),
        "fk",
        ("fk_projects_owner_id_users", *nn("projects", "owner_id")),
        ("fk_projects_owner_id_users", *nn("projects", "owner_id")),
        "DuckDB keeps the key without the cascade (dialect gap fk-referential-action).",
    ),
    SeedRule(
        "projects-template",
        "template_id UUID REFERENCES templates(id) ON DELETE SET NULL,",
        at(f"{LOGICAL}, projects", 111),
        "fk",
        ("fk_projects_template_id_templates",),
        ("fk_projects_template_id_templates",),
    ),
    SeedRule(
        "projects-configuration",
        "configuration JSONB NOT NULL DEFAULT '{}',",
        at(f"{LOGICAL}, projects", 112),
        "not-null",
        (*nn("projects", "configuration"), "ck_projects_configuration_object"),
        (*nn("projects", "configuration"), "ck_projects_configuration_object"),
        "An object, as the seed requires of a pattern's configuration (patterns_config_valid).",
    ),
    SeedRule(
        "projects-unique",
        "UNIQUE(owner_id, name)",
        at(f"{LOGICAL}, projects", 117),
        "unique",
        ("uq_projects_owner_id_name",),
        ("uq_projects_owner_id_name",),
        "Among live projects (V0014, F17).",
    ),
    # -- templates ------------------------------------------------------------------------------------
    SeedRule(
        "templates-id",
        "id UUID PRIMARY KEY DEFAULT gen_random_uuid(),",
        at(f"{LOGICAL}, templates", 122),
        "unique",
        ("pk_templates",),
        ("pk_templates",),
    ),
    SeedRule(
        "templates-name",
        "name VARCHAR(255) NOT NULL,",
        at(f"{LOGICAL}, templates", 123),
        "check",
        ("ck_templates_name_length", *nn("templates", "name")),
        ("ck_templates_name_length", *nn("templates", "name")),
    ),
    SeedRule(
        "templates-description",
        "description TEXT NOT NULL,",
        at(f"{LOGICAL}, templates", 124),
        "not-null",
        nn("templates", "description"),
        nn("templates", "description"),
    ),
    SeedRule(
        "templates-category",
        "category VARCHAR(100) NOT NULL,",
        at(f"{LOGICAL}, templates", 125),
        "check",
        ("ck_templates_category_length", *nn("templates", "category")),
        ("ck_templates_category_length", *nn("templates", "category")),
    ),
    SeedRule(
        "templates-version",
        "version VARCHAR(50) NOT NULL,",
        at(f"{LOGICAL}, templates", 126),
        "check",
        ("ck_templates_version_length", *nn("templates", "version")),
        nn("templates", "version"),
        "The design's TEXT column had lost the 50-character limit until V0024.",
    ),
    SeedRule(
        "templates-author",
        "author_id UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,",
        at(f"{LOGICAL}, templates", 127),
        "fk",
        ("fk_templates_author_id_users", *nn("templates", "author_id")),
        ("fk_templates_author_id_users", *nn("templates", "author_id")),
    ),
    SeedRule(
        "templates-schema",
        "schema JSONB NOT NULL DEFAULT '{}',",
        at(f"{LOGICAL}, templates", 128),
        "not-null",
        (*nn("templates", "schema"), "ck_templates_schema_valid"),
        (*nn("templates", "schema"), "ck_templates_schema_valid"),
        "The seed's default '{}' fails its own templates_schema_valid; the design's default passes it (F04).",
    ),
    SeedRule(
        "templates-published",
        "published BOOLEAN NOT NULL DEFAULT false,",
        at(f"{LOGICAL}, templates", 129),
        "not-null",
        nn("templates", "published"),
        nn("templates", "published"),
    ),
    SeedRule(
        "templates-unique",
        "UNIQUE(name, version),",
        at(f"{LOGICAL}, templates", 134),
        "unique",
        ("uq_templates_name_version",),
        ("uq_templates_name_version",),
        "Among live templates (V0014, F17).",
    ),
    SeedRule(
        "templates-version-check",
        "CHECK (version ~ '^[0-9]+\\.[0-9]+\\.[0-9]+.*$')",
        at(f"{LOGICAL}, templates", 135),
        "check",
        ("ck_templates_version_semver", "ck_templates_version_semver_strict"),
        ("ck_templates_version_semver",),
        "The seed's pattern accepts any tail after MAJOR.MINOR.PATCH ('1.2.3garbage'); the design holds the "
        "column to semantic versions, which the column's own comment (line 53) calls it.",
    ),
    # -- patterns -------------------------------------------------------------------------------------
    SeedRule(
        "patterns-id",
        "id UUID PRIMARY KEY DEFAULT gen_random_uuid(),",
        at(f"{LOGICAL}, patterns", 140),
        "unique",
        ("pk_patterns",),
        ("pk_patterns",),
    ),
    SeedRule(
        "patterns-name",
        "name VARCHAR(255) NOT NULL,",
        at(f"{LOGICAL}, patterns", 141),
        "check",
        ("ck_patterns_name_length", *nn("patterns", "name")),
        ("ck_patterns_name_length", *nn("patterns", "name")),
    ),
    SeedRule(
        "patterns-description",
        "description TEXT NOT NULL,",
        at(f"{LOGICAL}, patterns", 142),
        "not-null",
        nn("patterns", "description"),
        nn("patterns", "description"),
    ),
    SeedRule(
        "patterns-template",
        "template_id UUID NOT NULL REFERENCES templates(id) ON DELETE CASCADE,",
        at(f"{LOGICAL}, patterns", 143),
        "fk",
        ("fk_patterns_template_id_templates", *nn("patterns", "template_id")),
        ("fk_patterns_template_id_templates", *nn("patterns", "template_id")),
    ),
    SeedRule(
        "patterns-configuration",
        "configuration JSONB NOT NULL DEFAULT '{}',",
        at(f"{LOGICAL}, patterns", 144),
        "not-null",
        nn("patterns", "configuration"),
        nn("patterns", "configuration"),
    ),
    SeedRule(
        "patterns-usage-count",
        "usage_count INTEGER NOT NULL DEFAULT 0,",
        at(f"{LOGICAL}, patterns", 145),
        "not-null",
        nn("patterns", "usage_count"),
        nn("patterns", "usage_count"),
    ),
    SeedRule(
        "patterns-unique",
        "UNIQUE(template_id, name),",
        at(f"{LOGICAL}, patterns", 150),
        "unique",
        ("uq_patterns_template_id_name",),
        ("uq_patterns_template_id_name",),
        "Among live patterns (V0014, F17).",
    ),
    SeedRule(
        "patterns-usage-check",
        "CHECK (usage_count >= 0)",
        at(f"{LOGICAL}, patterns", 151),
        "check",
        ("ck_patterns_usage_count",),
        ("ck_patterns_usage_count",),
    ),
    # -- §3 the audit trail -------------------------------------------------------------------------
    SeedRule(
        "audit-all-changes",
        "-- Audit log for all data changes",
        at(AUDIT, 159),
        "trigger",
        (
            "audit_trigger",
            "trg_users_audit",
            "trg_templates_audit",
            "trg_projects_audit",
            "trg_patterns_audit",
            "trg_pattern_applications_audit",
            "trg_template_versions_audit",
            "refuse_truncate",
            "trg_pattern_applications_no_truncate",
            "audit_log_append_only",
            "trg_audit_log_append_only",
        ),
        ("audit_log_append_only",),
        "All changes: every business table is audited (V0013), TRUNCATE (which fires no row trigger) is "
        "refused, and the log itself is append-only.",
    ),
    SeedRule(
        "audit-id",
        "id UUID PRIMARY KEY DEFAULT gen_random_uuid(),",
        at(AUDIT, 161),
        "unique",
        ("pk_audit_log",),
        ("pk_audit_log",),
    ),
    SeedRule(
        "audit-table-name",
        "table_name VARCHAR(100) NOT NULL,",
        at(AUDIT, 162),
        "check",
        ("ck_audit_log_table_name_length", *nn("audit_log", "table_name")),
        nn("audit_log", "table_name"),
        "The 100-character limit was lost in the design's TEXT column until V0024.",
    ),
    SeedRule(
        "audit-record-id",
        "record_id UUID NOT NULL,",
        at(AUDIT, 163),
        "not-null",
        nn("audit_log", "record_id"),
        nn("audit_log", "record_id"),
    ),
    SeedRule(
        "audit-operation",
        "operation VARCHAR(10) NOT NULL, -- INSERT, UPDATE, DELETE",
        at(AUDIT, 164),
        "check",
        ("ck_audit_log_operation", *nn("audit_log", "operation")),
        ("ck_audit_log_operation", *nn("audit_log", "operation")),
    ),
    SeedRule(
        "audit-changed-by",
        "changed_by UUID REFERENCES users(id),",
        at(AUDIT, 167),
        "fk",
        (
            "audit_trigger",
            NOT_ENFORCED + "deliberately no foreign key (finding F18): history must outlive the users it "
            "names and must neither block deleting a user nor lose who acted. audit_trigger records the "
            "acting user and refuses a change without one.",
        ),
        ("H73", "H74"),
    ),
    SeedRule(
        "audit-changed-at",
        "changed_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW()",
        at(AUDIT, 168),
        "not-null",
        nn("audit_log", "changed_at"),
        nn("audit_log", "changed_at"),
    ),
    SeedRule(
        "audit-values",
        "INSERT INTO audit_log (table_name, record_id, operation, old_values, changed_by)",
        at(f"{AUDIT}, audit_trigger", 176),
        "function",
        ("ck_audit_log_values", "audit_trigger"),
        ("ck_audit_log_values",),
        "The trigger's three branches: DELETE records the old row only, UPDATE both, INSERT the new row only.",
    ),
    SeedRule(
        "audit-actor",
        "VALUES (TG_TABLE_NAME, NEW.id, TG_OP, row_to_json(OLD), row_to_json(NEW), NEW.updated_by);",
        at(f"{AUDIT}, audit_trigger", 181),
        "trigger",
        ("audit_trigger",),
        (),
        "The seed reads the actor from an updated_by column no table has (F02); the design reads the "
        "transaction's workbook.actor_id and refuses a change without one (V0013).",
    ),
    # -- soft delete ----------------------------------------------------------------------------------
    SeedRule(
        "soft-delete-function",
        "CREATE OR REPLACE FUNCTION soft_delete(table_name TEXT, record_id UUID)",
        at(SOFT, 207),
        "function",
        ("soft_delete", "soft_deletable", "restore"),
        (),
        "Only tables with deleted_at, only a live row (F14, F24); a template's patterns go with it (F25).",
    ),
    SeedRule(
        "soft-delete-time",
        "EXECUTE format('UPDATE %I SET deleted_at = NOW() WHERE id = $1', table_name)",
        at(SOFT, 210),
        "check",
        (
            "soft_delete",
            "ck_templates_deleted_after_created",
            "ck_patterns_deleted_after_created",
            "ck_projects_deleted_after_created",
        ),
        (),
        "deleted_at is the time an existing row was deleted, so never before it was created (V0024).",
    ),
    # -- versioning -----------------------------------------------------------------------------------
    SeedRule(
        "versions-history",
        "-- Template versioning with history",
        at(VERSIONING, 218),
        "trigger",
        ("trg_template_versions_immutable", "refuse_history_change"),
        ("template_versions_immutable",),
    ),
    SeedRule(
        "versions-id",
        "id UUID PRIMARY KEY DEFAULT gen_random_uuid(),",
        at(VERSIONING, 220),
        "unique",
        ("pk_template_versions",),
        ("pk_template_versions",),
    ),
    SeedRule(
        "versions-template",
        "template_id UUID NOT NULL REFERENCES templates(id) ON DELETE CASCADE,",
        at(VERSIONING, 221),
        "fk",
        ("fk_template_versions_template_id_templates", *nn("template_versions", "template_id")),
        ("fk_template_versions_template_id_templates", *nn("template_versions", "template_id")),
    ),
    SeedRule(
        "versions-version",
        "version VARCHAR(50) NOT NULL,",
        at(VERSIONING, 222),
        "check",
        (
            "ck_template_versions_version_length",
            "ck_template_versions_version_semver",
            "ck_template_versions_version_semver_strict",
            *nn("template_versions", "version"),
        ),
        ("ck_template_versions_version_semver", *nn("template_versions", "version")),
        "A recorded version becomes the template's version (line 249), so it is a semantic version too.",
    ),
    SeedRule(
        "versions-content",
        "content JSONB NOT NULL,",
        at(VERSIONING, 223),
        "not-null",
        nn("template_versions", "content"),
        nn("template_versions", "content"),
    ),
    SeedRule(
        "versions-created-at",
        "created_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),",
        at(VERSIONING, 225),
        "not-null",
        nn("template_versions", "created_at"),
        nn("template_versions", "created_at"),
    ),
    SeedRule(
        "versions-created-by",
        "created_by UUID NOT NULL REFERENCES users(id),",
        at(VERSIONING, 226),
        "fk",
        ("fk_template_versions_created_by_users", *nn("template_versions", "created_by")),
        ("fk_template_versions_created_by_users", *nn("template_versions", "created_by")),
    ),
    SeedRule(
        "versions-unique",
        "UNIQUE(template_id, version)",
        at(VERSIONING, 228),
        "unique",
        ("uq_template_versions_template_id_version",),
        ("uq_template_versions_template_id_version",),
    ),
    SeedRule(
        "versions-function",
        "-- Update main template record",
        at(f"{VERSIONING}, create_template_version", 247),
        "function",
        (
            "create_template_version",
            "semver_cmp",
            NOT_ENFORCED
            + "a direct UPDATE of templates.version, which bypasses the history, is not refused: "
            "restore_data_migration and the bulk loader write stored versions back as they were, and the "
            "synthetic-data check 'versions increase in time and in semantic version' verifies that the last "
            "recorded version is the template's.",
        ),
        (),
        "The history row and the template's current version change together, in one call; the version "
        "must be well formed and newer than the current one (F16, V0015).",
    ),
    # -- §5 integrity -----------------------------------------------------------------------------------
    SeedRule(
        "projects-name-length",
        "ALTER TABLE projects ADD CONSTRAINT projects_name_length",
        at(INTEGRITY, 336),
        "check",
        ("ck_projects_name_length",),
        ("ck_projects_name_length",),
    ),
    SeedRule(
        "templates-description-required",
        "ALTER TABLE templates ADD CONSTRAINT templates_description_required",
        at(INTEGRITY, 339),
        "check",
        ("ck_templates_description_length", "ck_templates_description_not_blank"),
        ("ck_templates_description_length",),
        "Required: at least 10 characters (line 340), and not blank: ten spaces are no description (V0024, as "
        "ck_schema_migration_repairs_reason holds a required reason).",
    ),
    SeedRule(
        "patterns-config-valid",
        "ALTER TABLE patterns ADD CONSTRAINT patterns_config_valid",
        at(INTEGRITY, 342),
        "check",
        ("ck_patterns_configuration_object",),
        ("ck_patterns_configuration_object",),
    ),
    SeedRule(
        "projects-template-cascade",
        "ON DELETE SET NULL ON UPDATE CASCADE;",
        at(INTEGRITY, 350),
        "fk",
        ("fk_projects_template_id_templates",),
        ("fk_projects_template_id_templates",),
        "DuckDB keeps the key without the actions (dialect gap fk-referential-action).",
    ),
    SeedRule(
        "schema-required-fields",
        "IF NOT (schema ? 'variables' AND schema ? 'files') THEN",
        at(f"{INTEGRITY}, validate_template_schema", 357),
        "function",
        ("validate_template_schema", "ck_templates_schema_valid"),
        ("ck_templates_schema_valid",),
        "Required fields of an object: the seed's ? also matches array elements, so the design requires an "
        "object (F20). files may hold any value, null included (the matrix's boundary row).",
    ),
    SeedRule(
        "schema-variables-array",
        "IF jsonb_typeof(schema->'variables') != 'array' THEN",
        at(f"{INTEGRITY}, validate_template_schema", 362),
        "function",
        ("validate_template_schema", "ck_templates_schema_valid"),
        ("ck_templates_schema_valid",),
        "The seed returns NULL (a passing CHECK) when variables is absent; the design returns false (F20).",
    ),
    SeedRule(
        "templates-schema-check",
        "ALTER TABLE templates ADD CONSTRAINT templates_schema_valid",
        at(INTEGRITY, 370),
        "check",
        ("ck_templates_schema_valid",),
        ("ck_templates_schema_valid",),
    ),
    # -- §6 migrations ----------------------------------------------------------------------------------
    SeedRule(
        "ledger-version",
        "version VARCHAR(50) PRIMARY KEY,",
        at(MIGRATION, 380),
        "unique",
        ("pk_schema_migrations", "ck_schema_migrations_version_length"),
        ("pk_schema_migrations",),
        "The 50-character limit was lost in the design's TEXT column until V0024.",
    ),
    SeedRule(
        "ledger-description",
        "description TEXT NOT NULL,",
        at(MIGRATION, 381),
        "not-null",
        nn("schema_migrations", "description"),
        nn("schema_migrations", "description"),
    ),
    SeedRule(
        "ledger-applied-at",
        "applied_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),",
        at(MIGRATION, 382),
        "not-null",
        nn("schema_migrations", "applied_at"),
        nn("schema_migrations", "applied_at"),
    ),
    SeedRule(
        "ledger-checksum",
        "checksum VARCHAR(64) NOT NULL",
        at(MIGRATION, 383),
        "check",
        ("ck_schema_migrations_checksum", *nn("schema_migrations", "checksum")),
        ("ck_schema_migrations_checksum", *nn("schema_migrations", "checksum")),
        "64 lower-case hex digits: a sha256, which the seed's placeholder 'sha256_checksum_here' names.",
    ),
    SeedRule(
        "data-migration-backup",
        "-- Create backup",
        at(f"{MIGRATION}, migrate_data_safely", 416),
        "function",
        ("migrate_data_safely", "restore_data_migration", "ck_migration_log_backed_up"),
        ("ck_migration_log_backed_up",),
        "The seed names a backup table and never creates it (F35-F39); the design takes and verifies it.",
    ),
    SeedRule(
        "data-migration-start",
        "-- Log migration start",
        at(f"{MIGRATION}, migrate_data_safely", 419),
        "function",
        ("migrate_data_safely", "ck_migration_log_status", *nn("migration_log", "started_at")),
        ("ck_migration_log_status", *nn("migration_log", "started_at")),
    ),
    SeedRule(
        "data-migration-success",
        "SET status = 'COMPLETED', completed_at = NOW()",
        at(f"{MIGRATION}, migrate_data_safely", 429),
        "function",
        ("migrate_data_safely", "ck_migration_log_completed"),
        ("ck_migration_log_completed",),
    ),
    SeedRule(
        "data-migration-failure",
        "SET status = 'FAILED', error_message = SQLERRM, completed_at = NOW()",
        at(f"{MIGRATION}, migrate_data_safely", 435),
        "function",
        ("migrate_data_safely", "ck_migration_log_failed"),
        ("ck_migration_log_failed",),
    ),
    *_timestamps(),
]


def _with_held_out(rules: list[SeedRule]) -> tuple[SeedRule, ...]:
    """Each rule's matrix, completed with the held-out rows that break it."""
    return tuple(replace(r, matrix=r.matrix + tuple(h.id for h in HELD_OUT if h.rule == r.id)) for r in rules)


RULES: tuple[SeedRule, ...] = _with_held_out(_RULES)


@dataclass(frozen=True)
class NotARule:
    """Something a new user might take for a rule, reviewed against the seed: not stated."""

    what: str
    why: str


NOT_RULES: tuple[NotARule, ...] = (
    NotARule(
        "A name (user, project, template, pattern) or a category that is only white space, or has leading or "
        "trailing white space or control characters",
        "The seed states lengths only (VARCHAR(255) NOT NULL, projects_name_length's 2 to 100 characters); "
        "the design's rules count characters (V0012). Unlike the description, no name is called 'required' "
        "beyond NOT NULL. A design decision to take (with workbook.rules and its property tests), not a "
        "violation.",
    ),
    NotARule(
        "An e-mail with a leading, trailing or doubled dot in the local part ('.cy@example.com')",
        "The seed's users_email_check accepts it (line 101) and ck_users_email keeps that pattern; "
        "workbook.rules.email_ok and its property test state the same rule.",
    ),
    NotARule(
        "Applying a pattern of one template to a project made from another template",
        "The seed relates projects to patterns many-to-many through application history (line 80) and says "
        "nothing about the project's template; a project may have none at all (line 111).",
    ),
    NotARule(
        "A pattern application dated before its project was created, or after it was deleted",
        "No seed text or design comment states it; the synthetic data holds it by construction (its check "
        "'applications after their project and pattern'), and applied_at is the caller's to give.",
    ),
    NotARule(
        "created_at or updated_at in the future",
        "The seed only defaults them to NOW(); the rule stated is the order (updated_at >= created_at), which "
        "held-out rows H11, H20 and H47 test with a future created_at.",
    ),
    NotARule(
        "A project created from another user's unpublished template",
        "published means 'Public availability' (line 58): an access rule, not a row rule (see "
        "er-template-published).",
    ),
    NotARule(
        "A template version whose content is not a JSON object",
        "The seed declares content JSONB NOT NULL (line 223) and nothing of its shape; the design's column "
        "comment says only 'Template content at this version.'",
    ),
    NotARule(
        "A schema whose variables are not objects, or whose files is not an array",
        "validate_template_schema requires the two keys and variables to be an array (lines 357 and 362), "
        "nothing more; the matrix keeps {'variables': [], 'files': null} as a valid boundary row.",
    ),
)
