-- V0005: patterns (seed §2 "Patterns table with usage tracking" and §5 rules).
CREATE TABLE patterns (
    id            UUID NOT NULL DEFAULT gen_random_uuid(),
    name          TEXT NOT NULL,
    description   TEXT NOT NULL,
    template_id   UUID NOT NULL,
    configuration JSONB NOT NULL DEFAULT '{}',
    usage_count   INTEGER NOT NULL DEFAULT 0,
    created_at    TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    updated_at    TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    CONSTRAINT pk_patterns PRIMARY KEY (id),
    CONSTRAINT fk_patterns_template_id_templates FOREIGN KEY (template_id) REFERENCES templates (id) ON DELETE CASCADE,
    CONSTRAINT uq_patterns_template_id_name UNIQUE (template_id, name),
    CONSTRAINT ck_patterns_name_length CHECK (char_length(name) BETWEEN 1 AND 255),
    CONSTRAINT ck_patterns_usage_count CHECK (usage_count >= 0),
    CONSTRAINT ck_patterns_configuration_object CHECK (jsonb_typeof(configuration) = 'object'),
    CONSTRAINT ck_patterns_updated_after_created CHECK (updated_at >= created_at)
);

COMMENT ON TABLE patterns IS 'Reusable configuration patterns that belong to a template.';
COMMENT ON COLUMN patterns.id IS 'Surrogate key.';
COMMENT ON COLUMN patterns.name IS 'Pattern name, unique within its template.';
COMMENT ON COLUMN patterns.description IS 'What applying the pattern does.';
COMMENT ON COLUMN patterns.template_id IS 'Template the pattern belongs to; deleting the template deletes it.';
COMMENT ON COLUMN patterns.configuration IS 'Pattern configuration, a JSON object.';
COMMENT ON COLUMN patterns.usage_count IS 'Times applied; a cached count of pattern_applications rows.';
COMMENT ON COLUMN patterns.created_at IS 'Pattern creation time.';
COMMENT ON COLUMN patterns.updated_at IS 'Last modification time.';
