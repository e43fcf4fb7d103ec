-- V0007: template_versions, the versioning pattern (seed §3 "Versioning Pattern").
-- create_template_version is the seed's function with one rule added: a new version
-- must be semantically newer than the template's current one (finding F16).
CREATE TABLE template_versions (
    id          UUID NOT NULL DEFAULT gen_random_uuid(),
    template_id UUID NOT NULL,
    version     TEXT NOT NULL,
    content     JSONB NOT NULL,
    changelog   TEXT,
    created_at  TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    created_by  UUID NOT NULL,
    CONSTRAINT pk_template_versions PRIMARY KEY (id),
    CONSTRAINT fk_template_versions_template_id_templates FOREIGN KEY (template_id) REFERENCES templates (id) ON DELETE CASCADE,
    CONSTRAINT fk_template_versions_created_by_users FOREIGN KEY (created_by) REFERENCES users (id),
    CONSTRAINT uq_template_versions_template_id_version UNIQUE (template_id, version),
    CONSTRAINT ck_template_versions_version_semver CHECK (version ~ '^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$')
);

CREATE INDEX ix_template_versions_created_by ON template_versions (created_by);

CREATE FUNCTION create_template_version(
    p_template_id UUID,
    p_version TEXT,
    p_content JSONB,
    p_changelog TEXT,
    p_created_by UUID
) RETURNS UUID
LANGUAGE plpgsql AS $$
DECLARE
    v_current TEXT;
    v_version_id UUID;
BEGIN
    SELECT version INTO v_current FROM templates WHERE id = p_template_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'template % does not exist', p_template_id USING ERRCODE = 'foreign_key_violation';
    END IF;
    IF string_to_array(split_part(split_part(p_version, '+', 1), '-', 1), '.')::int[]
       <= string_to_array(split_part(split_part(v_current, '+', 1), '-', 1), '.')::int[]
       AND EXISTS (SELECT 1 FROM template_versions WHERE template_id = p_template_id) THEN
        RAISE EXCEPTION 'version % is not newer than current version %', p_version, v_current
            USING ERRCODE = 'check_violation';
    END IF;

    INSERT INTO template_versions (template_id, version, content, changelog, created_by)
    VALUES (p_template_id, p_version, p_content, p_changelog, p_created_by)
    RETURNING id INTO v_version_id;

    UPDATE templates SET version = p_version, updated_at = NOW() WHERE id = p_template_id;
    RETURN v_version_id;
END;
$$;

COMMENT ON TABLE template_versions IS 'Immutable history of template contents, one row per published version.';
COMMENT ON COLUMN template_versions.id IS 'Surrogate key.';
COMMENT ON COLUMN template_versions.template_id IS 'Template this is a version of.';
COMMENT ON COLUMN template_versions.version IS 'Semantic version, unique per template.';
COMMENT ON COLUMN template_versions.content IS 'Template content at this version.';
COMMENT ON COLUMN template_versions.changelog IS 'What changed since the previous version.';
COMMENT ON COLUMN template_versions.created_at IS 'When the version was recorded.';
COMMENT ON COLUMN template_versions.created_by IS 'User who recorded the version.';
