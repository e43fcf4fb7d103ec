-- V0024: rules the seed states that no constraint held (Data Quality: the held-out rows).
-- A held-out set of invalid rows, written as a new user would write them and tried on both engines
-- (workbook.design.held_out), found rows that PostgreSQL and DuckDB both accepted although the seed
-- or the design's own words call them invalid. Each is refused from here on:
--  * a version is a semantic version (seed: version "Semantic version"; V0012: "The version is a
--    semantic version"), but ck_templates_version_semver and ck_template_versions_version_semver
--    only test the shape, so 1.0.0-01 (a numeric pre-release identifier with a leading zero),
--    1.0.0-alpha..1 and 1.0.0-rc. (empty identifiers) and 1.0.0+build..7 were stored. The checks
--    below call semver_valid() (V0015), the strict Semantic Versioning 2.0 grammar that
--    create_template_version already applies: one rule for the function and for direct writes;
--  * a version has at most 50 characters (seed: version VARCHAR(50), in templates, in
--    template_versions and in schema_migrations); the design's TEXT columns had lost the limit;
--  * an audit row names a table of at most 100 characters (seed: table_name VARCHAR(100));
--  * a template description is required (seed: templates_description_required): ten spaces, or
--    ten no-break spaces pasted from a word processor, are no description. Blank means white space
--    and the invisible format characters, listed here because [:space:] under the C collation the
--    workbook's server uses knows only ASCII white space;
--  * a soft delete happens to a row that exists (seed: soft_delete sets deleted_at = NOW() on an
--    existing row), so deleted_at is never before created_at.
-- DuckDB cannot add a constraint to an existing table: each ADD CONSTRAINT below is a dialect-gap
-- row (add-constraint) and the rule holds on PostgreSQL only.
-- Each CHECK scans its table once to validate (plain ADD CONSTRAINT, under the ACCESS EXCLUSIVE lock
-- the file holds to commit); lock_timeout bounds the wait for the locks, statement_timeout the scans.
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

ALTER TABLE templates
    ADD CONSTRAINT ck_templates_version_semver_strict CHECK (semver_valid(version)),
    ADD CONSTRAINT ck_templates_version_length CHECK (char_length(version) <= 50),
    ADD CONSTRAINT ck_templates_description_not_blank
        CHECK (description ~ '[^[:space:]\u0085\u00a0\u1680\u180e\u2000-\u200d\u2028\u2029\u202f\u205f\u2060\u3000\ufeff]'),
    ADD CONSTRAINT ck_templates_deleted_after_created CHECK (deleted_at >= created_at);

ALTER TABLE template_versions
    ADD CONSTRAINT ck_template_versions_version_semver_strict CHECK (semver_valid(version)),
    ADD CONSTRAINT ck_template_versions_version_length CHECK (char_length(version) <= 50);

ALTER TABLE patterns
    ADD CONSTRAINT ck_patterns_deleted_after_created CHECK (deleted_at >= created_at);

ALTER TABLE projects
    ADD CONSTRAINT ck_projects_deleted_after_created CHECK (deleted_at >= created_at);

ALTER TABLE audit_log
    ADD CONSTRAINT ck_audit_log_table_name_length CHECK (char_length(table_name) <= 100);

ALTER TABLE schema_migrations
    ADD CONSTRAINT ck_schema_migrations_version_length CHECK (char_length(version) <= 50);

COMMENT ON CONSTRAINT ck_templates_version_semver_strict ON templates IS 'The version is a semantic version by the strict grammar of Semantic Versioning 2.0: pre-release and build identifiers are never empty, and a numeric pre-release identifier has no leading zero.';
COMMENT ON CONSTRAINT ck_templates_version_length ON templates IS 'A version has at most 50 characters.';
COMMENT ON CONSTRAINT ck_templates_description_not_blank ON templates IS 'A template description is not blank: it holds a character other than white space.';
COMMENT ON CONSTRAINT ck_templates_deleted_after_created ON templates IS 'A template is not deleted before it was created.';
COMMENT ON CONSTRAINT ck_template_versions_version_semver_strict ON template_versions IS 'The version is a semantic version by the strict grammar, as for templates.';
COMMENT ON CONSTRAINT ck_template_versions_version_length ON template_versions IS 'A version has at most 50 characters.';
COMMENT ON CONSTRAINT ck_patterns_deleted_after_created ON patterns IS 'A pattern is not deleted before it was created.';
COMMENT ON CONSTRAINT ck_projects_deleted_after_created ON projects IS 'A project is not deleted before it was created.';
COMMENT ON CONSTRAINT ck_audit_log_table_name_length ON audit_log IS 'An audited table name has at most 100 characters.';
COMMENT ON CONSTRAINT ck_schema_migrations_version_length ON schema_migrations IS 'A migration version has at most 50 characters.';
