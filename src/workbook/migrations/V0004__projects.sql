-- V0004: projects (seed §2 "Projects table with JSON configuration" and §5 rules).
-- The seed's ALTER that re-creates projects_template_id_fkey by an engine-generated
-- name is folded into the named constraint below.
CREATE TABLE projects (
    id            UUID NOT NULL DEFAULT gen_random_uuid(),
    name          TEXT NOT NULL,
    description   TEXT,
    owner_id      UUID NOT NULL,
    template_id   UUID,
    configuration JSONB NOT NULL DEFAULT '{}',
    created_at    TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    updated_at    TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    CONSTRAINT pk_projects PRIMARY KEY (id),
    CONSTRAINT fk_projects_owner_id_users FOREIGN KEY (owner_id) REFERENCES users (id) ON DELETE CASCADE,
    CONSTRAINT fk_projects_template_id_templates FOREIGN KEY (template_id) REFERENCES templates (id) ON DELETE SET NULL ON UPDATE CASCADE,
    CONSTRAINT uq_projects_owner_id_name UNIQUE (owner_id, name),
    CONSTRAINT ck_projects_name_length CHECK (char_length(name) >= 2 AND char_length(name) <= 100),
    CONSTRAINT ck_projects_configuration_object CHECK (jsonb_typeof(configuration) = 'object'),
    CONSTRAINT ck_projects_updated_after_created CHECK (updated_at >= created_at)
);

COMMENT ON TABLE projects IS 'A user''s project, optionally instantiated from a template.';
COMMENT ON COLUMN projects.id IS 'Surrogate key.';
COMMENT ON COLUMN projects.name IS 'Project name, 2 to 100 characters, unique per owner.';
COMMENT ON COLUMN projects.description IS 'Optional free-text description.';
COMMENT ON COLUMN projects.owner_id IS 'Owning user; deleting the user deletes the project.';
COMMENT ON COLUMN projects.template_id IS 'Template the project was created from; cleared when the template is deleted.';
COMMENT ON COLUMN projects.configuration IS 'DDX configuration, a JSON object.';
COMMENT ON COLUMN projects.created_at IS 'Project creation time.';
COMMENT ON COLUMN projects.updated_at IS 'Last modification time.';
