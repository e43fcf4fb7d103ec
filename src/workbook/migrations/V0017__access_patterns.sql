-- V0017: what the corrected access patterns need (Access Patterns section; findings F28 to F31).
--  * A user's projects, newest first, a page at a time. Keyset pagination orders by
--    (updated_at, id), so the index holds both in that order, over live projects only; read
--    backwards it yields the first page directly. The index it replaces,
--    ix_projects_owner_id_updated_at_active, lacks the tie-break: every live project of the
--    owner had to be read and sorted before the first row (21,000 rows for the heaviest owner).
--  * Popular templates by category. The seed counts projects by joining every project and
--    every pattern of each template (which multiplies the count by the number of patterns, F09)
--    on every request. templates.project_count is the number of live projects made from the
--    template, kept by a trigger as patterns.usage_count is (V0016): the project's template row
--    is locked while the count changes, so concurrent writers queue and none is lost; creating
--    a project costs one more row update (and its audit row). An index over published, live
--    templates in (category, project_count, id) order gives a category's first page directly.
--    The existing rows are counted once, below, with the templates' triggers off (a backfill is
--    not a change anyone made: no audit row, no new updated_at).
DROP INDEX ix_projects_owner_id_updated_at_active;
CREATE INDEX ix_projects_owner_live_recent ON projects (owner_id, updated_at, id) WHERE deleted_at IS NULL;

ALTER TABLE templates ADD COLUMN project_count INTEGER NOT NULL DEFAULT 0;
COMMENT ON COLUMN templates.project_count IS 'Live projects made from this template, kept by trg_projects_template_count.';

CREATE FUNCTION count_template_projects() RETURNS TRIGGER
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.template_id IS NOT NULL AND OLD.deleted_at IS NULL THEN
        UPDATE templates SET project_count = project_count - 1 WHERE id = OLD.template_id;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.template_id IS NOT NULL AND NEW.deleted_at IS NULL THEN
        UPDATE templates SET project_count = project_count + 1 WHERE id = NEW.template_id;
        RETURN NEW;
    END IF;
    RETURN COALESCE(NEW, OLD);
END;
$$;

CREATE TRIGGER trg_projects_template_count AFTER INSERT OR UPDATE OF template_id, deleted_at OR DELETE ON projects
    FOR EACH ROW EXECUTE FUNCTION count_template_projects();

DO $$
BEGIN
    ALTER TABLE templates DISABLE TRIGGER USER;
    UPDATE templates AS t SET project_count = c.n
    FROM (SELECT template_id, count(*) AS n FROM projects
          WHERE deleted_at IS NULL AND template_id IS NOT NULL GROUP BY template_id) AS c
    WHERE c.template_id = t.id;
    ALTER TABLE templates ENABLE TRIGGER USER;
END;
$$;

CREATE INDEX ix_templates_popular ON templates (category, project_count DESC, id)
    WHERE published AND deleted_at IS NULL;
