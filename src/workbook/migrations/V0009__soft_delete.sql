-- V0009: soft delete (seed §3 "Soft Delete Pattern").
-- projects gets deleted_at too: the seed's first access pattern filters on
-- p.deleted_at, which the seed never adds (finding F03). soft_delete only accepts the
-- soft-deletable tables and fails when no live row matched (finding F14).
ALTER TABLE templates ADD COLUMN deleted_at TIMESTAMP WITH TIME ZONE;
ALTER TABLE patterns ADD COLUMN deleted_at TIMESTAMP WITH TIME ZONE;
ALTER TABLE projects ADD COLUMN deleted_at TIMESTAMP WITH TIME ZONE;

COMMENT ON COLUMN templates.deleted_at IS 'Soft-delete time; NULL while the template is live.';
COMMENT ON COLUMN patterns.deleted_at IS 'Soft-delete time; NULL while the pattern is live.';
COMMENT ON COLUMN projects.deleted_at IS 'Soft-delete time; NULL while the project is live.';

CREATE VIEW active_templates AS SELECT * FROM templates WHERE deleted_at IS NULL;
CREATE VIEW active_patterns AS SELECT * FROM patterns WHERE deleted_at IS NULL;
CREATE VIEW active_projects AS SELECT * FROM projects WHERE deleted_at IS NULL;

COMMENT ON VIEW active_templates IS 'Templates that are not soft-deleted.';
COMMENT ON VIEW active_patterns IS 'Patterns that are not soft-deleted.';
COMMENT ON VIEW active_projects IS 'Projects that are not soft-deleted.';

CREATE FUNCTION soft_delete(p_table_name TEXT, p_record_id UUID) RETURNS VOID
LANGUAGE plpgsql AS $$
DECLARE
    v_rows INTEGER;
BEGIN
    IF p_table_name NOT IN ('templates', 'patterns', 'projects') THEN
        RAISE EXCEPTION 'table % does not support soft delete', p_table_name
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    EXECUTE format('UPDATE %I SET deleted_at = NOW() WHERE id = $1 AND deleted_at IS NULL', p_table_name)
    USING p_record_id;
    GET DIAGNOSTICS v_rows = ROW_COUNT;
    IF v_rows = 0 THEN
        RAISE EXCEPTION 'no live row % in %', p_record_id, p_table_name
            USING ERRCODE = 'no_data_found';
    END IF;
END;
$$;
