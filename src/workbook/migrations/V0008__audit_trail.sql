-- V0008: audit trail (seed §3 "Audit Trail Pattern").
-- The seed's trigger reads OLD.updated_by / NEW.created_by, columns no audited table
-- has (finding F02). The actor comes instead from the session setting
-- workbook.actor_id, which the application sets per transaction
-- (SET LOCAL workbook.actor_id = '<uuid>'); it is NULL when unset. changed_by is
-- deliberately not a foreign key: history must outlive the users it names, and must
-- neither block deleting a user nor lose who acted (finding F18).
CREATE TABLE audit_log (
    id         UUID NOT NULL DEFAULT gen_random_uuid(),
    table_name TEXT NOT NULL,
    record_id  UUID NOT NULL,
    operation  TEXT NOT NULL,
    old_values JSONB,
    new_values JSONB,
    changed_by UUID,
    changed_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    CONSTRAINT pk_audit_log PRIMARY KEY (id),
    CONSTRAINT ck_audit_log_operation CHECK (operation IN ('INSERT', 'UPDATE', 'DELETE')),
    CONSTRAINT ck_audit_log_values CHECK (
        (operation = 'INSERT' AND old_values IS NULL AND new_values IS NOT NULL)
        OR (operation = 'UPDATE' AND old_values IS NOT NULL AND new_values IS NOT NULL)
        OR (operation = 'DELETE' AND old_values IS NOT NULL AND new_values IS NULL))
);

CREATE INDEX ix_audit_log_table_name_record_id ON audit_log (table_name, record_id, changed_at);
CREATE INDEX ix_audit_log_changed_by ON audit_log (changed_by);

CREATE FUNCTION audit_trigger() RETURNS TRIGGER
LANGUAGE plpgsql AS $$
DECLARE
    v_actor UUID := NULLIF(current_setting('workbook.actor_id', true), '')::uuid;
BEGIN
    IF TG_OP = 'DELETE' THEN
        INSERT INTO audit_log (table_name, record_id, operation, old_values, changed_by)
        VALUES (TG_TABLE_NAME, OLD.id, TG_OP, to_jsonb(OLD), v_actor);
        RETURN OLD;
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO audit_log (table_name, record_id, operation, old_values, new_values, changed_by)
        VALUES (TG_TABLE_NAME, NEW.id, TG_OP, to_jsonb(OLD), to_jsonb(NEW), v_actor);
        RETURN NEW;
    ELSE
        INSERT INTO audit_log (table_name, record_id, operation, new_values, changed_by)
        VALUES (TG_TABLE_NAME, NEW.id, TG_OP, to_jsonb(NEW), v_actor);
        RETURN NEW;
    END IF;
END;
$$;

CREATE TRIGGER trg_users_audit AFTER INSERT OR UPDATE OR DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION audit_trigger();
CREATE TRIGGER trg_templates_audit AFTER INSERT OR UPDATE OR DELETE ON templates
    FOR EACH ROW EXECUTE FUNCTION audit_trigger();
CREATE TRIGGER trg_projects_audit AFTER INSERT OR UPDATE OR DELETE ON projects
    FOR EACH ROW EXECUTE FUNCTION audit_trigger();
CREATE TRIGGER trg_patterns_audit AFTER INSERT OR UPDATE OR DELETE ON patterns
    FOR EACH ROW EXECUTE FUNCTION audit_trigger();

COMMENT ON TABLE audit_log IS 'Append-only change history of users, templates, projects and patterns.';
COMMENT ON COLUMN audit_log.id IS 'Surrogate key.';
COMMENT ON COLUMN audit_log.table_name IS 'Table the changed row belongs to.';
COMMENT ON COLUMN audit_log.record_id IS 'Primary key of the changed row.';
COMMENT ON COLUMN audit_log.operation IS 'INSERT, UPDATE or DELETE.';
COMMENT ON COLUMN audit_log.old_values IS 'Row before the change (UPDATE, DELETE).';
COMMENT ON COLUMN audit_log.new_values IS 'Row after the change (INSERT, UPDATE).';
COMMENT ON COLUMN audit_log.changed_by IS 'Id of the acting user from the workbook.actor_id setting (NULL when unset); kept after the user is deleted.';
COMMENT ON COLUMN audit_log.changed_at IS 'When the change was made.';
