-- V0019: template search ranks a stored document (Access Patterns: search_templates; finding F34).
-- The match used ix_templates_search, an index on the expression to_tsvector(name || ' ' ||
-- description); ranking then computed that expression again for every matching template, so a
-- common word (one that every template contains) cost a to_tsvector per template before the first
-- page. The document is now a generated column, computed once per write and stored, and the GIN
-- index is on it; the query matches and ranks the stored vector. A generated column is derived,
-- not a change anyone made, so the audit trail leaves generated columns out of its row images.
ALTER TABLE templates
    ADD COLUMN search_vector tsvector GENERATED ALWAYS AS (to_tsvector('english', name || ' ' || description)) STORED;
COMMENT ON COLUMN templates.search_vector IS 'The full-text document of name and description, kept by PostgreSQL (generated).';

DROP INDEX ix_templates_search;
CREATE INDEX ix_templates_search ON templates USING gin (search_vector);

CREATE OR REPLACE FUNCTION audit_trigger() RETURNS TRIGGER
LANGUAGE plpgsql AS $$
DECLARE
    v_setting TEXT := current_setting('workbook.actor_id', true);
    v_actor UUID;
    v_derived TEXT[] := ARRAY(SELECT attname FROM pg_attribute
                              WHERE attrelid = TG_RELID AND attgenerated <> '' AND NOT attisdropped);
BEGIN
    IF v_setting IS NULL OR v_setting = '' THEN
        RAISE EXCEPTION 'audit: % on % has no actor: set workbook.actor_id for the transaction', TG_OP, TG_TABLE_NAME
            USING ERRCODE = 'not_null_violation', CONSTRAINT = 'audit_actor_required',
                  HINT = 'SELECT set_config(''workbook.actor_id'', <user uuid>, true)';
    END IF;
    IF v_setting !~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN
        RAISE EXCEPTION 'audit: actor % is not a uuid', quote_literal(v_setting)
            USING ERRCODE = 'invalid_text_representation', CONSTRAINT = 'audit_actor_uuid';
    END IF;
    v_actor := v_setting::uuid;
    IF TG_OP = 'DELETE' THEN
        INSERT INTO audit_log (table_name, record_id, operation, old_values, changed_by)
        VALUES (TG_TABLE_NAME, OLD.id, TG_OP, to_jsonb(OLD) - v_derived, v_actor);
        RETURN OLD;
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO audit_log (table_name, record_id, operation, old_values, new_values, changed_by)
        VALUES (TG_TABLE_NAME, NEW.id, TG_OP, to_jsonb(OLD) - v_derived, to_jsonb(NEW) - v_derived, v_actor);
        RETURN NEW;
    END IF;
    INSERT INTO audit_log (table_name, record_id, operation, new_values, changed_by)
    VALUES (TG_TABLE_NAME, NEW.id, TG_OP, to_jsonb(NEW) - v_derived, v_actor);
    RETURN NEW;
END;
$$;
