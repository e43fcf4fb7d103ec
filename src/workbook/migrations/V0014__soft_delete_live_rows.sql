-- V0014: soft delete, complete (seed §3 "Soft Delete Pattern"; findings F14, F17, F24, F25).
--  * Names are unique among live rows only: a soft-deleted project, pattern or template
--    no longer keeps its name reserved for ever (F17, reversed from V0003-V0005). Each
--    UNIQUE constraint becomes a unique index WHERE deleted_at IS NULL, under the same name.
--  * soft_delete() accepts exactly the tables that have a deleted_at column (read from the
--    catalog, not a list), reaches them only through format('%I'), refuses an unknown or
--    already deleted row (the seed's version succeeds and moves the deletion time, F24),
--    and soft-deletes a template's live patterns with it, at the same instant (F25).
--  * restore() brings a row back, with the patterns deleted together with its template,
--    and refuses when a live row took the name meanwhile.
ALTER TABLE templates DROP CONSTRAINT uq_templates_name_version;
CREATE UNIQUE INDEX uq_templates_name_version ON templates (name, version) WHERE deleted_at IS NULL;
ALTER TABLE patterns DROP CONSTRAINT uq_patterns_template_id_name;
CREATE UNIQUE INDEX uq_patterns_template_id_name ON patterns (template_id, name) WHERE deleted_at IS NULL;
ALTER TABLE projects DROP CONSTRAINT uq_projects_owner_id_name;
CREATE UNIQUE INDEX uq_projects_owner_id_name ON projects (owner_id, name) WHERE deleted_at IS NULL;

CREATE FUNCTION soft_deletable(p_table_name TEXT) RETURNS BOOLEAN
LANGUAGE sql STABLE AS $$
    SELECT EXISTS (
        SELECT 1 FROM information_schema.columns
        WHERE table_schema = current_schema() AND table_name = p_table_name AND column_name = 'deleted_at')
$$;

CREATE OR REPLACE FUNCTION soft_delete(p_table_name TEXT, p_record_id UUID) RETURNS VOID
LANGUAGE plpgsql AS $$
DECLARE
    v_now TIMESTAMP WITH TIME ZONE := NOW();
    v_deleted TIMESTAMP WITH TIME ZONE;
    v_rows INTEGER;
BEGIN
    IF p_table_name IS NULL OR NOT soft_deletable(p_table_name) THEN
        RAISE EXCEPTION 'soft delete: % is not a table with a deleted_at column', quote_nullable(p_table_name)
            USING ERRCODE = 'invalid_parameter_value', CONSTRAINT = 'soft_delete_table';
    END IF;
    EXECUTE format('SELECT deleted_at FROM %I WHERE id = $1 FOR UPDATE', p_table_name)
        INTO v_deleted USING p_record_id;
    GET DIAGNOSTICS v_rows = ROW_COUNT;  -- EXECUTE does not set FOUND
    IF v_rows = 0 THEN
        RAISE EXCEPTION 'soft delete: no row % in %', p_record_id, p_table_name
            USING ERRCODE = 'no_data_found', CONSTRAINT = 'soft_delete_live_row';
    ELSIF v_deleted IS NOT NULL THEN
        RAISE EXCEPTION 'soft delete: % % is already deleted', p_table_name, p_record_id
            USING ERRCODE = 'invalid_parameter_value', CONSTRAINT = 'soft_delete_live_row';
    END IF;
    EXECUTE format('UPDATE %I SET deleted_at = $2 WHERE id = $1', p_table_name) USING p_record_id, v_now;
    IF p_table_name = 'templates' THEN
        UPDATE patterns SET deleted_at = v_now WHERE template_id = p_record_id AND deleted_at IS NULL;
    END IF;
END;
$$;

CREATE FUNCTION restore(p_table_name TEXT, p_record_id UUID) RETURNS VOID
LANGUAGE plpgsql AS $$
DECLARE
    v_deleted TIMESTAMP WITH TIME ZONE;
    v_rows INTEGER;
BEGIN
    IF p_table_name IS NULL OR NOT soft_deletable(p_table_name) THEN
        RAISE EXCEPTION 'restore: % is not a table with a deleted_at column', quote_nullable(p_table_name)
            USING ERRCODE = 'invalid_parameter_value', CONSTRAINT = 'soft_delete_table';
    END IF;
    EXECUTE format('SELECT deleted_at FROM %I WHERE id = $1 FOR UPDATE', p_table_name)
        INTO v_deleted USING p_record_id;
    GET DIAGNOSTICS v_rows = ROW_COUNT;  -- EXECUTE does not set FOUND
    IF v_rows = 0 THEN
        RAISE EXCEPTION 'restore: no row % in %', p_record_id, p_table_name
            USING ERRCODE = 'no_data_found', CONSTRAINT = 'restore_deleted_row';
    ELSIF v_deleted IS NULL THEN
        RAISE EXCEPTION 'restore: % % is not deleted', p_table_name, p_record_id
            USING ERRCODE = 'invalid_parameter_value', CONSTRAINT = 'restore_deleted_row';
    END IF;
    BEGIN
        EXECUTE format('UPDATE %I SET deleted_at = NULL WHERE id = $1', p_table_name) USING p_record_id;
        IF p_table_name = 'templates' THEN
            UPDATE patterns SET deleted_at = NULL WHERE template_id = p_record_id AND deleted_at = v_deleted;
        END IF;
    EXCEPTION WHEN unique_violation THEN
        RAISE EXCEPTION 'restore: % % cannot come back: a live row took its name meanwhile', p_table_name, p_record_id
            USING ERRCODE = 'unique_violation', CONSTRAINT = 'restore_name_free', DETAIL = SQLERRM;
    END;
END;
$$;
