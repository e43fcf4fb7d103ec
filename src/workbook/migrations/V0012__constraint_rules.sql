-- V0012: each CHECK constraint's rule in words, stored in the catalog beside the rule
-- (COMMENT ON CONSTRAINT), so the Data Quality catalogue reads it from the database
-- instead of a second, hand-kept list.
COMMENT ON CONSTRAINT ck_schema_migrations_checksum ON schema_migrations IS 'The checksum is a sha256: 64 lower-case hexadecimal digits.';
COMMENT ON CONSTRAINT ck_users_email ON users IS 'An e-mail is local-part@domain with a top-level domain of two or more letters, no spaces, at most 254 characters.';
COMMENT ON CONSTRAINT ck_users_name_length ON users IS 'A user''s name has 1 to 255 characters.';
COMMENT ON CONSTRAINT ck_users_role ON users IS 'The role is one of user, admin, contributor.';
COMMENT ON CONSTRAINT ck_users_updated_after_created ON users IS 'A user is not modified before it was created.';
COMMENT ON CONSTRAINT ck_templates_name_length ON templates IS 'A template name has 1 to 255 characters.';
COMMENT ON CONSTRAINT ck_templates_description_length ON templates IS 'A template description has at least 10 characters.';
COMMENT ON CONSTRAINT ck_templates_category_length ON templates IS 'A category has 1 to 100 characters.';
COMMENT ON CONSTRAINT ck_templates_version_semver ON templates IS 'The version is a semantic version: MAJOR.MINOR.PATCH without leading zeros, optional -pre-release and +build.';
COMMENT ON CONSTRAINT ck_templates_schema_valid ON templates IS 'The schema is a JSON object with a variables array and a files entry.';
COMMENT ON CONSTRAINT ck_templates_updated_after_created ON templates IS 'A template is not modified before it was created.';
COMMENT ON CONSTRAINT ck_projects_name_length ON projects IS 'A project name has 2 to 100 characters.';
COMMENT ON CONSTRAINT ck_projects_configuration_object ON projects IS 'A project configuration is a JSON object.';
COMMENT ON CONSTRAINT ck_projects_updated_after_created ON projects IS 'A project is not modified before it was created.';
COMMENT ON CONSTRAINT ck_patterns_name_length ON patterns IS 'A pattern name has 1 to 255 characters.';
COMMENT ON CONSTRAINT ck_patterns_usage_count ON patterns IS 'A usage count is zero or more.';
COMMENT ON CONSTRAINT ck_patterns_configuration_object ON patterns IS 'A pattern configuration is a JSON object.';
COMMENT ON CONSTRAINT ck_patterns_updated_after_created ON patterns IS 'A pattern is not modified before it was created.';
COMMENT ON CONSTRAINT ck_pattern_applications_configuration_object ON pattern_applications IS 'Application overrides are a JSON object.';
COMMENT ON CONSTRAINT ck_template_versions_version_semver ON template_versions IS 'The version is a semantic version, as for templates.';
COMMENT ON CONSTRAINT ck_audit_log_operation ON audit_log IS 'The operation is INSERT, UPDATE or DELETE.';
COMMENT ON CONSTRAINT ck_audit_log_values ON audit_log IS 'INSERT has only new values, DELETE only old values, UPDATE both.';
