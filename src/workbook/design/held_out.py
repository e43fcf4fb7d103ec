"""The held-out invalid rows: written as a new user would write them, never copied from the matrix.

The bad-input matrix (`workbook.quality`) was written beside the constraints it tests, so it
tends to try what the constraints already refuse. These rows were written afterwards, from the
seed's words and the design's stated rules only (the seed prompt, the COMMENT ON CONSTRAINT texts
of V0012, the column comments): spaces, Unicode, double encoding, semantic-version corner cases,
timestamps out of order, calls of the design's functions with what they must refuse, writes
without an actor. Each row breaks one rule, quotes the words that make it invalid, and names the
constraint (or the rule name a trigger or function raises) that must reject it on PostgreSQL.

`found` marks the rows that both engines accepted before V0024: the rules the seed states that no
constraint held. `duckdb_gap` names the dialect-gap row (rule, object) that explains why DuckDB
cannot reject a row (a constraint added by ALTER TABLE, a trigger, a PL/pgSQL function); a row
without one must be rejected by DuckDB under the same name.

`BOUNDARIES` are valid rows beside each rule V0024 added, which both engines must accept: the new
constraints refuse what they should and nothing more.

`workbook.held_out` runs the rows on both engines against the matrix's fixture (`quality.FIXTURE`),
each in a transaction that is rolled back.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..quality import DELETED_PROJECT, NOWHERE, P1, PT1, T1, T2, TV1, U1, U2
from . import WORKBOOK_ACTOR


@dataclass(frozen=True)
class HeldOut:
    """One held-out invalid row."""

    id: str
    rule: str  # the id of the seed rule it breaks (workbook.design.seed_rules)
    table: str
    sql: str
    expect: str  # the constraint, or the rule name a trigger or function raises, that rejects it
    quote: str  # the words that make it invalid: the seed's, a constraint comment's or a column comment's
    label: str
    found: bool = False  # accepted by both engines before V0024
    duckdb_gap: tuple[str, str] | None = None  # (dialect-gap rule, object) when DuckDB cannot reject it
    actor: str = WORKBOOK_ACTOR  # the session actor on PostgreSQL while the row runs ('' : none)
    values: tuple[tuple[str, str], ...] = ()  # column and SQL value the row sets, where a key needs naming


ACCEPTED_ROW = "accepted"  # the expectation of a boundary row (BOUNDARIES)


def _add(name: str) -> tuple[str, str]:
    return ("add-constraint", name)


def _trigger(name: str) -> tuple[str, str]:
    return ("trigger", name)


def _plpgsql(name: str) -> tuple[str, str]:
    return ("plpgsql-function", name)


def user(email: str = "'cy@example.com'", name: str = "'Cy'", role: str = "'user'", **extra: str) -> str:
    cols = {"email": email, "name": name, "role": role, **extra}
    return f"INSERT INTO users ({', '.join(cols)}) VALUES ({', '.join(cols.values())})"


def template(**values: str) -> str:
    cols = {
        "name": "'astro-site'",
        "description": "'An Astro static site starter'",
        "category": "'framework'",
        "version": "'1.0.0'",
        "author_id": U2,
        **values,
    }
    cols = {k: v for k, v in cols.items() if v is not None}
    return f"INSERT INTO templates ({', '.join(cols)}) VALUES ({', '.join(cols.values())})"


def project(**values: str) -> str:
    cols = {"name": "'docs'", "owner_id": U2, **values}
    cols = {k: v for k, v in cols.items() if v is not None}
    return f"INSERT INTO projects ({', '.join(cols)}) VALUES ({', '.join(cols.values())})"


def pattern(**values: str) -> str:
    cols = {"name": "'vitest'", "description": "'Adds Vitest'", "template_id": T1, **values}
    cols = {k: v for k, v in cols.items() if v is not None}
    return f"INSERT INTO patterns ({', '.join(cols)}) VALUES ({', '.join(cols.values())})"


def version(**values: str) -> str:
    cols = {"template_id": T2, "version": "'2.1.0'", "content": "'{}'", "created_by": U2, **values}
    cols = {k: v for k, v in cols.items() if v is not None}
    return f"INSERT INTO template_versions ({', '.join(cols)}) VALUES ({', '.join(cols.values())})"


def application(**values: str) -> str:
    cols = {"project_id": P1, "pattern_id": PT1, "applied_by": U1, **values}
    return f"INSERT INTO pattern_applications ({', '.join(cols)}) VALUES ({', '.join(cols.values())})"


def audit(**values: str) -> str:
    cols = {
        "table_name": "'projects'",
        "record_id": P1,
        "operation": "'INSERT'",
        "new_values": "'{}'",
        **values,
    }
    cols = {k: v for k, v in cols.items() if v is not None}
    return f"INSERT INTO audit_log ({', '.join(cols)}) VALUES ({', '.join(cols.values())})"


def ledger(**values: str) -> str:
    cols = {"version": "'9000'", "description": "'by hand'", "checksum": "'" + "0" * 64 + "'", **values}
    return f"INSERT INTO schema_migrations ({', '.join(cols)}) VALUES ({', '.join(cols.values())})"


def q(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


# The words each row quotes, as they stand in the seed prompt or in the migrations.
EMAIL_RULE = "An e-mail is local-part@domain with a top-level domain of two or more letters, no spaces, at most 254 characters."
EMAIL_UNIQUE = "Login and contact address; unique ignoring case."
ROLE_RULE = "The role is one of user, admin, contributor."
USER_NAME = "A user's name has 1 to 255 characters."
PROJECT_NAME = "A project name has 2 to 100 characters."
PROJECT_UNIQUE = "UNIQUE(owner_id, name)"
CONFIG = "A project configuration is a JSON object."
PATTERN_CONFIG = "CHECK (jsonb_typeof(configuration) = 'object');"
APPLICATION_CONFIG = "Application overrides are a JSON object."
SEMVER = "The version is a semantic version: MAJOR.MINOR.PATCH without leading zeros, optional -pre-release and +build."
SEMVER_STRICT = "refuses a malformed version (strict semver 2.0 grammar)"
VERSION_50 = "version VARCHAR(50) NOT NULL,"
DESCRIPTION = "ALTER TABLE templates ADD CONSTRAINT templates_description_required"
DESCRIPTION_10 = "A template description has at least 10 characters."
CATEGORY = "A category has 1 to 100 characters."
SCHEMA_RULE = "The schema is a JSON object with a variables array and a files entry."
SCHEMA_FIELDS = "IF NOT (schema ? 'variables' AND schema ? 'files') THEN"
SCHEMA_VARIABLES = "IF jsonb_typeof(schema->'variables') != 'array' THEN"
SOFT_DELETE = "EXECUTE format('UPDATE %I SET deleted_at = NOW() WHERE id = $1', table_name)"
MODIFIED = "is not modified before it was created."
USAGE = "A usage count is zero or more."
PATTERN_NAME = "A pattern name has 1 to 255 characters."
PATTERN_UNIQUE = "UNIQUE(template_id, name),"


ROWS: tuple[HeldOut, ...] = (
    # -- users: e-mail, uniqueness, role, name ------------------------------------------------------
    HeldOut(
        "H01",
        "users-email-check",
        "users",
        user(email="' cy@example.com'"),
        "ck_users_email",
        EMAIL_RULE,
        "e-mail with a leading space (pasted)",
    ),
    HeldOut(
        "H02",
        "users-email-check",
        "users",
        user(email="'cy@example.com '"),
        "ck_users_email",
        EMAIL_RULE,
        "e-mail with a trailing space",
    ),
    HeldOut(
        "H03",
        "users-email-check",
        "users",
        user(email="'cy@exämple.com'"),
        "ck_users_email",
        EMAIL_RULE,
        "e-mail with a non-ASCII letter in the domain",
    ),
    HeldOut(
        "H04",
        "users-email-check",
        "users",
        user(email="'cy@example.com\n'"),
        "ck_users_email",
        EMAIL_RULE,
        "e-mail with a trailing newline",
    ),
    HeldOut(
        "H05",
        "users-email-check",
        "users",
        user(email="'cy@@example.com'"),
        "ck_users_email",
        EMAIL_RULE,
        "e-mail with a double @",
    ),
    HeldOut(
        "H06",
        "users-email-check",
        "users",
        user(email="'cy@example.com.'"),
        "ck_users_email",
        EMAIL_RULE,
        "e-mail ending in a dot",
    ),
    HeldOut(
        "H07",
        "users-email",
        "users",
        user(email="'BO@EXAMPLE.COM'"),
        "uq_users_email_lower",
        EMAIL_UNIQUE,
        "an existing e-mail in capitals",
    ),
    HeldOut(
        "H08",
        "users-role-check",
        "users",
        user(role="'user '"),
        "ck_users_role",
        ROLE_RULE,
        "role with a trailing space",
    ),
    HeldOut("H09", "users-role-check", "users", user(role="''"), "ck_users_role", ROLE_RULE, "empty role"),
    HeldOut(
        "H10",
        "users-name",
        "users",
        user(name=q("é" * 256)),
        "ck_users_name_length",
        USER_NAME,
        "name of 256 two-byte characters",
    ),
    HeldOut(
        "H11",
        "rel-temporal",
        "users",
        user(created_at="NOW() + INTERVAL '1 day'"),
        "ck_users_updated_after_created",
        "A user " + MODIFIED,
        "created tomorrow, updated_at left to its default (now)",
    ),
    # -- projects -------------------------------------------------------------------------------------
    HeldOut(
        "H12",
        "projects-name-length",
        "projects",
        project(name="'é'"),
        "ck_projects_name_length",
        PROJECT_NAME,
        "name of one two-byte character",
    ),
    HeldOut(
        "H13",
        "projects-name-length",
        "projects",
        project(name=q("😀" * 101)),
        "ck_projects_name_length",
        PROJECT_NAME,
        "name of 101 emoji",
    ),
    HeldOut(
        "H14",
        "projects-unique",
        "projects",
        project(name="'blog'", owner_id=U1),
        "uq_projects_owner_id_name",
        PROJECT_UNIQUE,
        "a second live project called blog for the same owner",
    ),
    HeldOut(
        "H15",
        "projects-owner",
        "projects",
        project(owner_id=None),
        "projects.owner_id NOT NULL",
        "owner_id UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,",
        "owner left out",
    ),
    HeldOut(
        "H16",
        "er-project-template",
        "projects",
        project(template_id=U1),
        "fk_projects_template_id_templates",
        'string template_id FK "Base template used"',
        "a user's id given as the template",
        values=(("template_id", U1),),
    ),
    HeldOut(
        "H17",
        "projects-configuration",
        "projects",
        project(configuration="""'"{}"'"""),
        "ck_projects_configuration_object",
        CONFIG,
        "configuration double-encoded as a JSON string",
    ),
    HeldOut(
        "H18",
        "projects-configuration",
        "projects",
        project(configuration="'true'"),
        "ck_projects_configuration_object",
        CONFIG,
        "configuration that is JSON true",
    ),
    HeldOut(
        "H19",
        "projects-configuration",
        "projects",
        f"UPDATE projects SET configuration = '[]' WHERE id = {P1}",
        "ck_projects_configuration_object",
        CONFIG,
        "configuration changed to an empty array",
    ),
    HeldOut(
        "H20",
        "rel-temporal",
        "projects",
        project(created_at="'2999-01-01 00:00:00+00'"),
        "ck_projects_updated_after_created",
        "A project " + MODIFIED,
        "created in 2999, updated now",
    ),
    HeldOut(
        "H21",
        "soft-delete-time",
        "projects",
        project(
            created_at="'2024-06-01 00:00:00+00'",
            updated_at="'2024-06-01 00:00:00+00'",
            deleted_at="'2024-05-31 00:00:00+00'",
        ),
        "ck_projects_deleted_after_created",
        SOFT_DELETE,
        "deleted the day before it was created",
        found=True,
        duckdb_gap=_add("ck_projects_deleted_after_created"),
    ),
    # -- templates: version ---------------------------------------------------------------------------
    HeldOut(
        "H22",
        "er-template-version",
        "templates",
        template(version="'1.0.0-01'"),
        "ck_templates_version_semver_strict",
        SEMVER_STRICT,
        "pre-release 01: a numeric identifier with a leading zero",
        found=True,
        duckdb_gap=_add("ck_templates_version_semver_strict"),
    ),
    HeldOut(
        "H23",
        "er-template-version",
        "templates",
        template(version="'1.0.0-alpha..1'"),
        "ck_templates_version_semver_strict",
        SEMVER_STRICT,
        "pre-release with an empty identifier",
        found=True,
        duckdb_gap=_add("ck_templates_version_semver_strict"),
    ),
    HeldOut(
        "H24",
        "er-template-version",
        "templates",
        template(version="'1.0.0-rc.'"),
        "ck_templates_version_semver_strict",
        SEMVER_STRICT,
        "pre-release ending in a dot",
        found=True,
        duckdb_gap=_add("ck_templates_version_semver_strict"),
    ),
    HeldOut(
        "H25",
        "er-template-version",
        "templates",
        template(version="'1.0.0+build..7'"),
        "ck_templates_version_semver_strict",
        SEMVER_STRICT,
        "build metadata with an empty identifier",
        found=True,
        duckdb_gap=_add("ck_templates_version_semver_strict"),
    ),
    HeldOut(
        "H26",
        "templates-version-check",
        "templates",
        template(version="'1.0.0-'"),
        "ck_templates_version_semver",
        SEMVER,
        "a hyphen and no pre-release",
    ),
    HeldOut(
        "H27",
        "templates-version-check",
        "templates",
        template(version="'1.0.0+'"),
        "ck_templates_version_semver",
        SEMVER,
        "a plus and no build metadata",
    ),
    HeldOut(
        "H28",
        "templates-version-check",
        "templates",
        template(version="' 1.0.0'"),
        "ck_templates_version_semver",
        SEMVER,
        "version with a leading space",
    ),
    HeldOut(
        "H29",
        "templates-version-check",
        "templates",
        template(version="'1.0.0\n'"),
        "ck_templates_version_semver",
        SEMVER,
        "version with a trailing newline",
    ),
    HeldOut(
        "H30",
        "templates-version-check",
        "templates",
        template(version="'１.０.０'"),
        "ck_templates_version_semver",
        SEMVER,
        "full-width digits",
    ),
    HeldOut(
        "H31",
        "templates-version",
        "templates",
        template(version=q("1" * 48 + ".0.0")),
        "ck_templates_version_length",
        VERSION_50,
        "a 48-digit major version: 52 characters",
        found=True,
        duckdb_gap=_add("ck_templates_version_length"),
    ),
    HeldOut(
        "H32",
        "templates-version",
        "templates",
        template(version=q("1.0.0-" + "a" * 45)),
        "ck_templates_version_length",
        VERSION_50,
        "a 45-letter pre-release: 51 characters",
        found=True,
        duckdb_gap=_add("ck_templates_version_length"),
    ),
    # -- templates: description, category, schema, times ---------------------------------------------
    HeldOut(
        "H33",
        "templates-description-required",
        "templates",
        template(description=q(" " * 10)),
        "ck_templates_description_not_blank",
        DESCRIPTION,
        "description of 10 spaces",
        found=True,
        duckdb_gap=_add("ck_templates_description_not_blank"),
    ),
    HeldOut(
        "H34",
        "templates-description-required",
        "templates",
        template(description=q("\u00a0" * 12)),
        "ck_templates_description_not_blank",
        DESCRIPTION,
        "description of 12 no-break spaces",
        found=True,
        duckdb_gap=_add("ck_templates_description_not_blank"),
    ),
    HeldOut(
        "H35",
        "templates-description-required",
        "templates",
        template(description=q("\t\n \u3000\u200b" * 3)),
        "ck_templates_description_not_blank",
        DESCRIPTION,
        "description of tabs, newlines, ideographic and zero-width spaces",
        found=True,
        duckdb_gap=_add("ck_templates_description_not_blank"),
    ),
    HeldOut(
        "H36",
        "templates-description-required",
        "templates",
        template(description=q("é" * 9)),
        "ck_templates_description_length",
        DESCRIPTION_10,
        "description of 9 two-byte characters (18 bytes)",
    ),
    HeldOut(
        "H37",
        "templates-category",
        "templates",
        template(category=q("ü" * 101)),
        "ck_templates_category_length",
        CATEGORY,
        "category of 101 two-byte characters",
    ),
    HeldOut(
        "H38",
        "templates-schema-check",
        "templates",
        template(schema="""'"{\\"variables\\": [], \\"files\\": []}"'"""),
        "ck_templates_schema_valid",
        SCHEMA_RULE,
        "schema double-encoded as a JSON string",
    ),
    HeldOut(
        "H39",
        "schema-variables-array",
        "templates",
        template(schema="""'{"variables": "[]", "files": []}'"""),
        "ck_templates_schema_valid",
        SCHEMA_VARIABLES,
        'variables given as the string "[]"',
    ),
    HeldOut(
        "H40",
        "schema-required-fields",
        "templates",
        template(schema="""'{"variables": []}'"""),
        "ck_templates_schema_valid",
        SCHEMA_FIELDS,
        "schema without files",
    ),
    HeldOut(
        "H41",
        "schema-required-fields",
        "templates",
        template(schema="""'{"Variables": [], "Files": []}'"""),
        "ck_templates_schema_valid",
        SCHEMA_FIELDS,
        "keys in the wrong case",
    ),
    HeldOut(
        "H42",
        "templates-schema-check",
        "templates",
        template(schema="""'[{"variables": [], "files": []}]'"""),
        "ck_templates_schema_valid",
        SCHEMA_RULE,
        "the right object wrapped in an array",
    ),
    HeldOut(
        "H43",
        "schema-required-fields",
        "templates",
        template(schema="""'{"template": {"variables": [], "files": []}}'"""),
        "ck_templates_schema_valid",
        SCHEMA_FIELDS,
        "the right object nested one level down",
    ),
    HeldOut(
        "H44",
        "templates-schema-check",
        "templates",
        template(schema="'null'"),
        "ck_templates_schema_valid",
        SCHEMA_RULE,
        "schema that is JSON null",
    ),
    HeldOut(
        "H45",
        "schema-variables-array",
        "templates",
        f"""UPDATE templates SET schema = '{{"variables": null, "files": []}}' WHERE id = {T2}""",
        "ck_templates_schema_valid",
        SCHEMA_VARIABLES,
        "variables changed to null",
    ),
    HeldOut(
        "H46",
        "templates-author",
        "templates",
        template(author_id=None),
        "templates.author_id NOT NULL",
        "author_id UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,",
        "author left out",
    ),
    HeldOut(
        "H47",
        "rel-temporal",
        "templates",
        template(created_at="NOW() + INTERVAL '1 hour'"),
        "ck_templates_updated_after_created",
        "A template " + MODIFIED,
        "created an hour from now",
    ),
    HeldOut(
        "H48",
        "soft-delete-time",
        "templates",
        template(
            created_at="'2024-06-01 00:00:00+00'",
            updated_at="'2024-06-02 00:00:00+00'",
            deleted_at="'2024-05-01 00:00:00+00'",
        ),
        "ck_templates_deleted_after_created",
        SOFT_DELETE,
        "deleted a month before it was created",
        found=True,
        duckdb_gap=_add("ck_templates_deleted_after_created"),
    ),
    # -- patterns -------------------------------------------------------------------------------------
    HeldOut(
        "H49",
        "patterns-name",
        "patterns",
        pattern(name=q("ü" * 256)),
        "ck_patterns_name_length",
        PATTERN_NAME,
        "name of 256 two-byte characters",
    ),
    HeldOut(
        "H50",
        "patterns-unique",
        "patterns",
        pattern(name="'prettier'"),
        "uq_patterns_template_id_name",
        PATTERN_UNIQUE,
        "a second live prettier pattern in the same template",
    ),
    HeldOut(
        "H51",
        "patterns-usage-check",
        "patterns",
        f"UPDATE patterns SET usage_count = usage_count - 2 WHERE id = {PT1}",
        "ck_patterns_usage_count",
        USAGE,
        "usage count decremented below zero",
    ),
    HeldOut(
        "H52",
        "patterns-config-valid",
        "patterns",
        pattern(configuration="""'"{}"'"""),
        "ck_patterns_configuration_object",
        PATTERN_CONFIG,
        "configuration double-encoded as a JSON string",
    ),
    HeldOut(
        "H53",
        "patterns-config-valid",
        "patterns",
        pattern(configuration="""'[{"rule": "x"}]'"""),
        "ck_patterns_configuration_object",
        PATTERN_CONFIG,
        "configuration that is an array of objects",
    ),
    HeldOut(
        "H54",
        "er-pattern-template",
        "patterns",
        pattern(template_id=P1),
        "fk_patterns_template_id_templates",
        'string template_id FK "Associated template"',
        "a project's id given as the template",
    ),
    HeldOut(
        "H55",
        "patterns-description",
        "patterns",
        pattern(description=None),
        "patterns.description NOT NULL",
        "description TEXT NOT NULL,",
        "description left out",
    ),
    HeldOut(
        "H56",
        "soft-delete-time",
        "patterns",
        pattern(
            created_at="'2024-06-01 00:00:00+00'",
            updated_at="'2024-06-01 00:00:00+00'",
            deleted_at="'2024-05-31 23:59:59+00'",
        ),
        "ck_patterns_deleted_after_created",
        SOFT_DELETE,
        "deleted a second before it was created",
        found=True,
        duckdb_gap=_add("ck_patterns_deleted_after_created"),
    ),
    # -- pattern applications --------------------------------------------------------------------------
    HeldOut(
        "H57",
        "rel-many-to-many",
        "pattern_applications",
        application(pattern_id=T1),
        "fk_pattern_applications_pattern_id_patterns",
        "**Many-to-Many**: Projects → Patterns (via application history)",
        "the template's id given as the pattern",
        values=(("pattern_id", T1),),
    ),
    HeldOut(
        "H58",
        "rel-many-to-many",
        "pattern_applications",
        application(configuration="'false'"),
        "ck_pattern_applications_configuration_object",
        APPLICATION_CONFIG,
        "overrides that are JSON false",
    ),
    # -- template versions -----------------------------------------------------------------------------
    HeldOut(
        "H59",
        "versions-version",
        "template_versions",
        version(version="'2.1.0-01'"),
        "ck_template_versions_version_semver_strict",
        SEMVER_STRICT,
        "pre-release 01 recorded directly",
        found=True,
        duckdb_gap=_add("ck_template_versions_version_semver_strict"),
    ),
    HeldOut(
        "H60",
        "versions-version",
        "template_versions",
        version(version="'2.1.0-beta..2'"),
        "ck_template_versions_version_semver_strict",
        SEMVER_STRICT,
        "empty pre-release identifier recorded directly",
        found=True,
        duckdb_gap=_add("ck_template_versions_version_semver_strict"),
    ),
    HeldOut(
        "H61",
        "versions-version",
        "template_versions",
        version(version=q("2." + "9" * 47 + ".0")),
        "ck_template_versions_version_length",
        VERSION_50,
        "a 47-digit minor version: 51 characters",
        found=True,
        duckdb_gap=_add("ck_template_versions_version_length"),
    ),
    HeldOut(
        "H62",
        "versions-version",
        "template_versions",
        version(version="'2.1'"),
        "ck_template_versions_version_semver",
        "The version is a semantic version, as for templates.",
        "version without a patch number",
    ),
    HeldOut(
        "H63",
        "versions-content",
        "template_versions",
        version(content=None),
        "template_versions.content NOT NULL",
        "content JSONB NOT NULL,",
        "content left out",
    ),
    HeldOut(
        "H64",
        "versions-created-by",
        "template_versions",
        version(created_by=NOWHERE),
        "fk_template_versions_created_by_users",
        "created_by UUID NOT NULL REFERENCES users(id),",
        "recorded by a user who does not exist",
        values=(("created_by", NOWHERE),),
    ),
    HeldOut(
        "H65",
        "versions-history",
        "template_versions",
        f"""UPDATE template_versions SET content = '{{"files": []}}' WHERE id = {TV1}""",
        "template_versions_immutable",
        "-- Template versioning with history",
        "a recorded version's content rewritten",
        duckdb_gap=_trigger("trg_template_versions_immutable"),
    ),
    HeldOut(
        "H66",
        "versions-function",
        "templates",
        f"SELECT create_template_version({T1}, '0.9.0', '{{}}', 'roll back', {U1})",
        "template_versions_newer",
        "-- Update main template record",
        "a version older than the current one, through the function",
        duckdb_gap=_plpgsql("create_template_version"),
    ),
    HeldOut(
        "H67",
        "versions-function",
        "templates",
        f"SELECT create_template_version({T1}, '1.0.0', '{{}}', 'again', {U1})",
        "template_versions_newer",
        "-- Update main template record",
        "the current version recorded a second time",
        duckdb_gap=_plpgsql("create_template_version"),
    ),
    HeldOut(
        "H68",
        "versions-function",
        "templates",
        f"SELECT create_template_version({T1}, '1.1.0-01', '{{}}', 'rc', {U1})",
        "template_versions_semver",
        SEMVER_STRICT,
        "a malformed pre-release, through the function",
        duckdb_gap=_plpgsql("create_template_version"),
    ),
    HeldOut(
        "H69",
        "versions-function",
        "templates",
        f"SELECT create_template_version({NOWHERE}, '1.0.0', '{{}}', 'new', {U1})",
        "template_versions_live_template",
        "-- Update main template record",
        "a version of no template",
        duckdb_gap=_plpgsql("create_template_version"),
    ),
    # -- soft delete -----------------------------------------------------------------------------------
    HeldOut(
        "H70",
        "soft-delete-function",
        "users",
        f"SELECT soft_delete('users', {U2})",
        "soft_delete_table",
        "CREATE OR REPLACE FUNCTION soft_delete(table_name TEXT, record_id UUID)",
        "soft delete of a table without deleted_at",
        duckdb_gap=_plpgsql("soft_delete"),
    ),
    HeldOut(
        "H71",
        "soft-delete-function",
        "projects",
        f"SELECT soft_delete('projects', {DELETED_PROJECT})",
        "soft_delete_live_row",
        "CREATE OR REPLACE FUNCTION soft_delete(table_name TEXT, record_id UUID)",
        "a project deleted a second time",
        duckdb_gap=_plpgsql("soft_delete"),
    ),
    HeldOut(
        "H72",
        "soft-delete-function",
        "projects",
        f"SELECT soft_delete('projects', {NOWHERE})",
        "soft_delete_live_row",
        "CREATE OR REPLACE FUNCTION soft_delete(table_name TEXT, record_id UUID)",
        "a project that does not exist",
        duckdb_gap=_plpgsql("soft_delete"),
    ),
    # -- the audit trail -------------------------------------------------------------------------------
    HeldOut(
        "H73",
        "audit-actor",
        "users",
        f"UPDATE users SET name = 'Bo B' WHERE id = {U2}",
        "audit_actor_required",
        "VALUES (TG_TABLE_NAME, NEW.id, TG_OP, row_to_json(OLD), row_to_json(NEW), NEW.updated_by);",
        "a change with no actor set",
        duckdb_gap=_trigger("trg_users_audit"),
        actor="",
    ),
    HeldOut(
        "H74",
        "audit-actor",
        "projects",
        project(),
        "audit_actor_uuid",
        "VALUES (TG_TABLE_NAME, NEW.id, TG_OP, row_to_json(NEW), NEW.created_by);",
        "the actor set to a name, not a user id",
        duckdb_gap=_trigger("trg_projects_audit"),
        actor="bob",
    ),
    HeldOut(
        "H75",
        "audit-all-changes",
        "pattern_applications",
        "TRUNCATE pattern_applications",
        "audit_no_truncate",
        "-- Audit log for all data changes",
        "TRUNCATE: rows gone without an audit row",
        duckdb_gap=_trigger("trg_pattern_applications_no_truncate"),
    ),
    HeldOut(
        "H76",
        "audit-all-changes",
        "audit_log",
        f"UPDATE audit_log SET changed_by = {U1}",
        "audit_log_append_only",
        "-- Audit log for all data changes",
        "the audit trail rewritten",
        duckdb_gap=_trigger("trg_audit_log_append_only"),
    ),
    HeldOut(
        "H77",
        "audit-table-name",
        "audit_log",
        audit(table_name=q("project_" * 13)),
        "ck_audit_log_table_name_length",
        "table_name VARCHAR(100) NOT NULL,",
        "a table name of 104 characters",
        found=True,
        duckdb_gap=_add("ck_audit_log_table_name_length"),
    ),
    HeldOut(
        "H78",
        "audit-operation",
        "audit_log",
        audit(operation="'TRUNCATE'"),
        "ck_audit_log_operation",
        "operation VARCHAR(10) NOT NULL, -- INSERT, UPDATE, DELETE",
        "operation TRUNCATE",
    ),
    HeldOut(
        "H79",
        "audit-values",
        "audit_log",
        audit(operation="'DELETE'", old_values="'{}'"),
        "ck_audit_log_values",
        "INSERT INTO audit_log (table_name, record_id, operation, old_values, changed_by)",
        "a DELETE row that carries new values",
    ),
    # -- the migration ledger --------------------------------------------------------------------------
    HeldOut(
        "H80",
        "ledger-version",
        "schema_migrations",
        ledger(version=q("2024" * 13)),
        "ck_schema_migrations_version_length",
        "version VARCHAR(50) PRIMARY KEY,",
        "a version of 52 characters",
        found=True,
        duckdb_gap=_add("ck_schema_migrations_version_length"),
    ),
    HeldOut(
        "H81",
        "ledger-checksum",
        "schema_migrations",
        ledger(checksum=q("sha256:" + "0" * 64)),
        "ck_schema_migrations_checksum",
        "checksum VARCHAR(64) NOT NULL",
        "checksum with a sha256: prefix",
    ),
    HeldOut(
        "H82",
        "ledger-checksum",
        "schema_migrations",
        ledger(checksum=q("0" * 64 + "\n")),
        "ck_schema_migrations_checksum",
        "checksum VARCHAR(64) NOT NULL",
        "checksum with a trailing newline",
    ),
    HeldOut(
        "H83",
        "data-migration-failure",
        "migration_log",
        "INSERT INTO migration_log (migration_name, target_schema, target_table, predicate, migration_sql, run_by, "
        f"status, error_message, completed_at) VALUES ('retag', 'public', 'templates', 'true', 'x', {U1}, "
        "'FAILED', 'boom', '2024-01-02 00:00:00+00')",
        "ck_migration_log_failed",
        "SET status = 'FAILED', error_message = SQLERRM, completed_at = NOW()",
        "FAILED without the step that failed",
    ),
)

# Valid rows next to each rule V0024 added: the new constraints must not refuse them (semantic
# versions whose identifiers the strict grammar allows, a 50-character version, a description with
# one visible character, a deletion at the creation instant).
BOUNDARIES: tuple[HeldOut, ...] = (
    HeldOut(
        "B01",
        "er-template-version",
        "templates",
        template(version="'1.0.0-0'"),
        ACCEPTED_ROW,
        SEMVER_STRICT,
        "pre-release 0: a numeric identifier that is zero",
    ),
    HeldOut(
        "B02",
        "er-template-version",
        "templates",
        template(version="'1.0.0-01a.0-b'"),
        ACCEPTED_ROW,
        SEMVER_STRICT,
        "alphanumeric pre-release identifiers may start with 0",
    ),
    HeldOut(
        "B03",
        "er-template-version",
        "templates",
        template(version="'1.0.0+001.exp-sha'"),
        ACCEPTED_ROW,
        SEMVER_STRICT,
        "build identifiers may have leading zeros",
    ),
    HeldOut(
        "B04",
        "templates-version",
        "templates",
        template(version=q("1.0.0-" + "a" * 44)),
        ACCEPTED_ROW,
        VERSION_50,
        "a version of exactly 50 characters",
    ),
    HeldOut(
        "B05",
        "versions-version",
        "template_versions",
        version(version="'2.1.0-rc.1+build.5'"),
        ACCEPTED_ROW,
        SEMVER_STRICT,
        "pre-release and build recorded directly",
    ),
    HeldOut(
        "B06",
        "versions-version",
        "template_versions",
        version(version=q("2.1.0-" + "9" * 44)),
        ACCEPTED_ROW,
        VERSION_50,
        "a numeric pre-release of 44 digits: 50 characters",
    ),
    HeldOut(
        "B07",
        "templates-description-required",
        "templates",
        template(description=q(" " * 9 + "x")),
        ACCEPTED_ROW,
        DESCRIPTION,
        "nine spaces and one letter: 10 characters, not blank",
    ),
    HeldOut(
        "B08",
        "templates-description-required",
        "templates",
        template(description="'Ünïcödé 模板 starter'"),
        ACCEPTED_ROW,
        DESCRIPTION,
        "a description in non-ASCII letters",
    ),
    HeldOut(
        "B09",
        "soft-delete-time",
        "projects",
        project(
            created_at="'2024-06-01 00:00:00+00'",
            updated_at="'2024-06-01 00:00:00+00'",
            deleted_at="'2024-06-01 00:00:00+00'",
        ),
        ACCEPTED_ROW,
        SOFT_DELETE,
        "deleted at the instant it was created (one transaction)",
    ),
    HeldOut(
        "B10",
        "soft-delete-time",
        "templates",
        template(
            created_at="'2024-06-01 00:00:00+00'",
            updated_at="'2024-06-03 00:00:00+00'",
            deleted_at="'2024-06-02 00:00:00+00'",
        ),
        ACCEPTED_ROW,
        SOFT_DELETE,
        "deleted a day after it was created",
    ),
    HeldOut(
        "B11",
        "soft-delete-time",
        "patterns",
        pattern(
            created_at="'2024-06-01 00:00:00+00'",
            updated_at="'2024-06-01 00:00:01+00'",
            deleted_at="'2024-06-01 00:00:01+00'",
        ),
        ACCEPTED_ROW,
        SOFT_DELETE,
        "deleted a second after it was created",
    ),
    HeldOut(
        "B12",
        "audit-table-name",
        "audit_log",
        audit(table_name=q("t" * 100)),
        ACCEPTED_ROW,
        "table_name VARCHAR(100) NOT NULL,",
        "a table name of exactly 100 characters",
    ),
    HeldOut(
        "B13",
        "ledger-version",
        "schema_migrations",
        ledger(version=q("9" * 50)),
        ACCEPTED_ROW,
        "version VARCHAR(50) PRIMARY KEY,",
        "a version of exactly 50 characters",
    ),
)
