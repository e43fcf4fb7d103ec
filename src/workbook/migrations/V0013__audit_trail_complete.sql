-- V0013: the audit trail, complete (seed §3 "Audit Trail Pattern"; findings F21 to F23).
-- V0008 recorded four tables and let the actor be NULL. From here on:
--  * every business table is audited: pattern_applications and template_versions too;
--  * every audit row carries the transaction id and a sequence number. The rows of one
--    transaction share changed_at (NOW() is the transaction's start), so without seq the
--    changes of a row inside one transaction could not be put back in order (F23);
--  * a change without an actor is refused. The actor is the transaction-local setting
--    workbook.actor_id (set_config('workbook.actor_id', <uuid>, true)), which ends with the
--    transaction, so a pooled connection never hands one request's actor to the next. A NULL
--    actor would be recorded exactly when a code path forgot to say who acted, which is when
--    the trail is needed; refusing makes the omission a bug that fails at once;
--  * TRUNCATE of an audited table is refused: it deletes rows without firing row triggers;
--  * audit_log itself is append-only: UPDATE, DELETE and TRUNCATE are refused to everyone
--    but the workbook_retention role, which purge_audit_log() runs as.
CREATE SEQUENCE audit_log_seq;
ALTER TABLE audit_log ADD COLUMN seq BIGINT NOT NULL DEFAULT nextval('audit_log_seq');
ALTER TABLE audit_log ADD COLUMN txid BIGINT NOT NULL DEFAULT txid_current();
CREATE UNIQUE INDEX uq_audit_log_seq ON audit_log (seq);

COMMENT ON COLUMN audit_log.seq IS 'Order of the changes: increasing, so replay applies each row''s changes in the order they were made.';
COMMENT ON COLUMN audit_log.txid IS 'Transaction that made the change; the rows of one transaction share it.';

CREATE OR REPLACE FUNCTION audit_trigger() RETURNS TRIGGER
LANGUAGE plpgsql AS $$
DECLARE
    v_setting TEXT := current_setting('workbook.actor_id', true);
    v_actor UUID;
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
        VALUES (TG_TABLE_NAME, OLD.id, TG_OP, to_jsonb(OLD), v_actor);
        RETURN OLD;
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO audit_log (table_name, record_id, operation, old_values, new_values, changed_by)
        VALUES (TG_TABLE_NAME, NEW.id, TG_OP, to_jsonb(OLD), to_jsonb(NEW), v_actor);
        RETURN NEW;
    END IF;
    INSERT INTO audit_log (table_name, record_id, operation, new_values, changed_by)
    VALUES (TG_TABLE_NAME, NEW.id, TG_OP, to_jsonb(NEW), v_actor);
    RETURN NEW;
END;
$$;

CREATE TRIGGER trg_pattern_applications_audit AFTER INSERT OR UPDATE OR DELETE ON pattern_applications
    FOR EACH ROW EXECUTE FUNCTION audit_trigger();
CREATE TRIGGER trg_template_versions_audit AFTER INSERT OR UPDATE OR DELETE ON template_versions
    FOR EACH ROW EXECUTE FUNCTION audit_trigger();

CREATE FUNCTION refuse_truncate() RETURNS TRIGGER
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit: TRUNCATE of % is refused: it would remove rows without an audit row; delete them instead', TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege', CONSTRAINT = 'audit_no_truncate';
END;
$$;

CREATE TRIGGER trg_users_no_truncate BEFORE TRUNCATE ON users
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_truncate();
CREATE TRIGGER trg_templates_no_truncate BEFORE TRUNCATE ON templates
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_truncate();
CREATE TRIGGER trg_projects_no_truncate BEFORE TRUNCATE ON projects
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_truncate();
CREATE TRIGGER trg_patterns_no_truncate BEFORE TRUNCATE ON patterns
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_truncate();
CREATE TRIGGER trg_pattern_applications_no_truncate BEFORE TRUNCATE ON pattern_applications
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_truncate();
CREATE TRIGGER trg_template_versions_no_truncate BEFORE TRUNCATE ON template_versions
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_truncate();

-- The retention role: the only one that may delete audit rows, and only through
-- purge_audit_log(). Roles belong to the whole server, so it is created once.
DO $$
BEGIN
    CREATE ROLE workbook_retention NOLOGIN;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;
END;
$$;

CREATE FUNCTION audit_log_append_only() RETURNS TRIGGER
LANGUAGE plpgsql AS $$
BEGIN
    IF current_user = 'workbook_retention' AND TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'audit: audit_log is append-only: % refused (only purge_audit_log() deletes, as workbook_retention)', TG_OP
        USING ERRCODE = 'insufficient_privilege', CONSTRAINT = 'audit_log_append_only';
END;
$$;

CREATE TRIGGER trg_audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER trg_audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();

CREATE FUNCTION purge_audit_log(p_before TIMESTAMP WITH TIME ZONE) RETURNS BIGINT
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
DECLARE
    v_rows BIGINT;
BEGIN
    DELETE FROM audit_log WHERE changed_at < p_before;
    GET DIAGNOSTICS v_rows = ROW_COUNT;
    RETURN v_rows;
END;
$$;

DO $$
BEGIN
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO workbook_retention', current_schema());
END;
$$;
GRANT SELECT, DELETE ON audit_log TO workbook_retention;
ALTER FUNCTION purge_audit_log(TIMESTAMP WITH TIME ZONE) OWNER TO workbook_retention;
REVOKE EXECUTE ON FUNCTION purge_audit_log(TIMESTAMP WITH TIME ZONE) FROM PUBLIC;

COMMENT ON TABLE audit_log IS 'Append-only change history of every business table: one row per inserted, updated or deleted row.';
COMMENT ON COLUMN audit_log.changed_by IS 'The acting user from the transaction-local setting workbook.actor_id (a change without one is refused); kept after the user is deleted.';
