-- V0003: templates (seed §2 "Templates table with versioning" and §5 rules).
-- Created before projects, which references it (finding F01: the seed creates
-- projects first). The seed's validate_template_schema is a plain SQL expression,
-- so it is written LANGUAGE sql (inlinable, IMMUTABLE) and the schema default is a
-- document the check accepts (finding F04: the seed's default '{}' fails it). It also
-- requires an object and never returns NULL: the seed's version accepts the array
-- ["variables", "files"], because ? tests array elements and a NULL check passes (F20).
CREATE FUNCTION validate_template_schema(schema JSONB) RETURNS BOOLEAN
LANGUAGE sql IMMUTABLE AS $$
    SELECT COALESCE(jsonb_typeof(schema) = 'object'
       AND (schema ? 'variables') AND (schema ? 'files')
       AND jsonb_typeof((schema -> 'variables')) = 'array', false)
$$;

CREATE TABLE templates (
    id          UUID NOT NULL DEFAULT gen_random_uuid(),
    name        TEXT NOT NULL,
    description TEXT NOT NULL,
    category    TEXT NOT NULL,
    version     TEXT NOT NULL,
    author_id   UUID NOT NULL,
    schema      JSONB NOT NULL DEFAULT '{"variables": [], "files": []}',
    published   BOOLEAN NOT NULL DEFAULT false,
    created_at  TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    updated_at  TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    CONSTRAINT pk_templates PRIMARY KEY (id),
    CONSTRAINT fk_templates_author_id_users FOREIGN KEY (author_id) REFERENCES users (id) ON DELETE CASCADE,
    CONSTRAINT uq_templates_name_version UNIQUE (name, version),
    CONSTRAINT ck_templates_name_length CHECK (char_length(name) BETWEEN 1 AND 255),
    CONSTRAINT ck_templates_description_length CHECK (char_length(description) >= 10),
    CONSTRAINT ck_templates_category_length CHECK (char_length(category) BETWEEN 1 AND 100),
    CONSTRAINT ck_templates_version_semver CHECK (version ~ '^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$'),
    CONSTRAINT ck_templates_schema_valid CHECK (validate_template_schema(schema)),
    CONSTRAINT ck_templates_updated_after_created CHECK (updated_at >= created_at)
);

CREATE INDEX ix_templates_author_id ON templates (author_id);

COMMENT ON TABLE templates IS 'Reusable project templates, published or private, one row per name and current version.';
COMMENT ON COLUMN templates.id IS 'Surrogate key.';
COMMENT ON COLUMN templates.name IS 'Template name; with version, unique.';
COMMENT ON COLUMN templates.description IS 'What the template is for; at least 10 characters.';
COMMENT ON COLUMN templates.category IS 'Framework, language or other grouping.';
COMMENT ON COLUMN templates.version IS 'Current semantic version (MAJOR.MINOR.PATCH with optional pre-release and build).';
COMMENT ON COLUMN templates.author_id IS 'User who created the template.';
COMMENT ON COLUMN templates.schema IS 'Template schema: an object with a variables array and files.';
COMMENT ON COLUMN templates.published IS 'True when the template is publicly available.';
COMMENT ON COLUMN templates.created_at IS 'Template creation time.';
COMMENT ON COLUMN templates.updated_at IS 'Last modification time.';
