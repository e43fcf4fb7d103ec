-- V0006: pattern_applications, the many-to-many "Projects -> Patterns (via application
-- history)" that the seed's relationship analysis names but never defines (finding F11).
-- One row per application, so the same pattern can be applied to a project again later.
CREATE TABLE pattern_applications (
    id            UUID NOT NULL DEFAULT gen_random_uuid(),
    project_id    UUID NOT NULL,
    pattern_id    UUID NOT NULL,
    applied_by    UUID,
    configuration JSONB NOT NULL DEFAULT '{}',
    applied_at    TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    CONSTRAINT pk_pattern_applications PRIMARY KEY (id),
    CONSTRAINT fk_pattern_applications_project_id_projects FOREIGN KEY (project_id) REFERENCES projects (id) ON DELETE CASCADE,
    CONSTRAINT fk_pattern_applications_pattern_id_patterns FOREIGN KEY (pattern_id) REFERENCES patterns (id) ON DELETE CASCADE,
    CONSTRAINT fk_pattern_applications_applied_by_users FOREIGN KEY (applied_by) REFERENCES users (id) ON DELETE SET NULL,
    CONSTRAINT ck_pattern_applications_configuration_object CHECK (jsonb_typeof(configuration) = 'object')
);

CREATE INDEX ix_pattern_applications_project_id_applied_at ON pattern_applications (project_id, applied_at);
CREATE INDEX ix_pattern_applications_pattern_id ON pattern_applications (pattern_id);

COMMENT ON TABLE pattern_applications IS 'Application history: each time a pattern was applied to a project.';
COMMENT ON COLUMN pattern_applications.id IS 'Surrogate key.';
COMMENT ON COLUMN pattern_applications.project_id IS 'Project the pattern was applied to.';
COMMENT ON COLUMN pattern_applications.pattern_id IS 'Pattern that was applied.';
COMMENT ON COLUMN pattern_applications.applied_by IS 'User who applied it; cleared if that user is deleted.';
COMMENT ON COLUMN pattern_applications.configuration IS 'Overrides used for this application, a JSON object.';
COMMENT ON COLUMN pattern_applications.applied_at IS 'When the pattern was applied.';
