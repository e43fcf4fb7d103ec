-- V0010: indexes for the access patterns (seed §4 "Performance Optimizations").
-- Renamed to the ix_<table>_<columns> convention. Two seed indexes are left out because
-- a unique constraint already provides an index with the same leading column
-- (finding F10): idx_projects_owner_id (uq_projects_owner_id_name) and
-- idx_patterns_template_id (uq_patterns_template_id_name). The seed's GIN index covers
-- name only while the search query reads name || ' ' || description (finding F08); the
-- index below matches the query's expression.
CREATE INDEX ix_projects_template_id ON projects (template_id);
CREATE INDEX ix_projects_updated_at ON projects (updated_at DESC);
CREATE INDEX ix_projects_owner_id_updated_at_active ON projects (owner_id, updated_at) WHERE deleted_at IS NULL;

CREATE INDEX ix_templates_category ON templates (category);
CREATE INDEX ix_templates_published ON templates (published) WHERE published = true;
CREATE INDEX ix_templates_search ON templates USING gin (to_tsvector('english', name || ' ' || description));
CREATE INDEX ix_templates_active ON templates (id) WHERE deleted_at IS NULL;
CREATE INDEX ix_templates_category_name_published ON templates (category, name) WHERE published = true AND deleted_at IS NULL;

CREATE INDEX ix_patterns_usage_count ON patterns (usage_count DESC);
CREATE INDEX ix_patterns_active ON patterns (id) WHERE deleted_at IS NULL;
