-- workbook: no-transaction
-- V0027: an index for the foreign key from patterns to templates (Security and Privacy, schema lint).
-- The lint's fk-without-index found that fk_patterns_template_id_templates had no usable index: the
-- only one on template_id (uq_patterns_template_id_name, V0014) is partial (live patterns only), so the
-- ON DELETE CASCADE of a template an author deletes (p_templates_delete, V0026), and restore() bringing
-- a template's deleted patterns back, scanned every pattern. Built CONCURRENTLY (writes go on); an
-- interrupted build is dropped and built again by the next migrate.
SET lock_timeout = '2s';

CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_patterns_template_id ON patterns (template_id);
