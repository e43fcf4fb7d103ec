-- V0025: erasure on request (the right to erasure), reconciled with the audit trail
-- (Security and Privacy). erase_user(id) removes a person's e-mail and name from the live tables
-- and from every audit row that holds them, in one transaction, and records that it did so:
--  * the user's row stays (its id is a pseudonymous key that other rows and the audit trail
--    reference; deleting it would cascade into projects and templates other people use) and
--    takes a pseudonymous e-mail (erased-<id>@erased.invalid) and the name 'Erased user';
--  * the e-mail is replaced wherever it appears as an address in any text or jsonb column of
--    any table of the schema; the name wherever it appears as a whole word in the rows the user
--    owns (found through the foreign keys that reference users). A name is not unique, so it is
--    not searched for in other people's rows;
--  * the audit rows of those same records are redacted the same way, the e-mail in every audit
--    row, so replaying the trail still rebuilds every table as it now is;
--  * erasure_log keeps who erased which id, when, and how many rows were redacted; no e-mail,
--    no name. A user is erased once; a second request, an unknown id or a caller who is neither
--    the user nor an admin is refused and nothing changes.
-- audit_log stays append-only for everyone else: only workbook_retention, which owns this
-- function and purge_audit_log() and has no members, may update (redact) or delete its rows, and
-- template_versions' immutability yields to it in the same way.
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

CREATE SEQUENCE erasure_log_id_seq;

CREATE TABLE erasure_log (
    id                  BIGINT NOT NULL DEFAULT nextval('erasure_log_id_seq'),
    user_id             UUID NOT NULL,
    erased_at           TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    erased_by           UUID NOT NULL,
    rows_redacted       BIGINT NOT NULL,
    audit_rows_redacted BIGINT NOT NULL,
    CONSTRAINT pk_erasure_log PRIMARY KEY (id),
    CONSTRAINT uq_erasure_log_user_id UNIQUE (user_id),
    CONSTRAINT ck_erasure_log_counts CHECK (rows_redacted >= 0 AND audit_rows_redacted >= 0)
);

COMMENT ON TABLE erasure_log IS 'One row per erased user: who asked, when, and how much was redacted; no personal data.';
COMMENT ON COLUMN erasure_log.id IS 'Surrogate key.';
COMMENT ON COLUMN erasure_log.user_id IS 'The erased user''s id (pseudonymous: the e-mail and name it stood for are gone).';
COMMENT ON COLUMN erasure_log.erased_at IS 'When the erasure committed.';
COMMENT ON COLUMN erasure_log.erased_by IS 'The acting user who requested it: the user or an admin.';
COMMENT ON COLUMN erasure_log.rows_redacted IS 'Rows of the live tables changed by the erasure.';
COMMENT ON COLUMN erasure_log.audit_rows_redacted IS 'Audit rows redacted by the erasure.';
COMMENT ON CONSTRAINT ck_erasure_log_counts ON erasure_log IS 'Redaction counts are zero or more.';

CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS TRIGGER
LANGUAGE plpgsql AS $$
BEGIN
    IF current_user = 'workbook_retention' AND TG_OP IN ('DELETE', 'UPDATE') THEN
        RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
    END IF;
    RAISE EXCEPTION 'audit: audit_log is append-only: % refused (only purge_audit_log() and erase_user() change it, as workbook_retention)', TG_OP
        USING ERRCODE = 'insufficient_privilege', CONSTRAINT = 'audit_log_append_only';
END;
$$;

CREATE OR REPLACE FUNCTION refuse_history_change() RETURNS TRIGGER
LANGUAGE plpgsql AS $$
BEGIN
    -- pg_trigger_depth() > 1: the delete comes from the cascade of the template's own deletion.
    IF TG_OP = 'DELETE' AND pg_trigger_depth() > 1 THEN
        RETURN OLD;
    END IF;
    -- erase_user() redacts a person's e-mail and name from history too.
    IF TG_OP = 'UPDATE' AND current_user = 'workbook_retention' THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'versioning: % is history: % refused; record a new version instead', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege', CONSTRAINT = 'template_versions_immutable';
END;
$$;

CREATE FUNCTION erase_user(p_user_id UUID) RETURNS BIGINT
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
DECLARE
    v_setting     TEXT := current_setting('workbook.actor_id', true);
    v_actor       UUID;
    v_email       TEXT;
    v_name        TEXT;
    v_done        BIGINT;
    v_new_email   TEXT := 'erased-' || replace(p_user_id::text, '-', '') || '@erased.invalid';
    v_new_name    CONSTANT TEXT := 'Erased user';
    -- A regular expression matching the text literally, and the same for its JSON string form.
    v_meta        CONSTANT TEXT := '([.^$*+?()[\]{}|\\-])';
    v_re_email    TEXT;
    v_re_name     TEXT;
    v_re_jname    TEXT;
    v_rows        BIGINT := 0;
    v_audit       BIGINT := 0;
    v_n           BIGINT;
    v_id          BIGINT;
    c             RECORD;
    fk            RECORD;
BEGIN
    IF p_user_id IS NULL THEN
        RAISE EXCEPTION 'erasure: no user id given' USING ERRCODE = 'null_value_not_allowed', CONSTRAINT = 'erasure_user';
    END IF;
    IF v_setting IS NULL OR v_setting = '' THEN
        RAISE EXCEPTION 'erasure: no acting user: set workbook.actor_id for the transaction'
            USING ERRCODE = 'insufficient_privilege', CONSTRAINT = 'erasure_actor';
    ELSIF v_setting !~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN
        RAISE EXCEPTION 'erasure: workbook.actor_id % is not a uuid', quote_literal(v_setting)
            USING ERRCODE = 'invalid_text_representation', CONSTRAINT = 'erasure_actor';
    END IF;
    v_actor := v_setting::uuid;
    IF v_actor <> p_user_id AND NOT EXISTS (SELECT 1 FROM users WHERE id = v_actor AND role = 'admin') THEN
        RAISE EXCEPTION 'erasure: only user % or an admin may erase it', p_user_id
            USING ERRCODE = 'insufficient_privilege', CONSTRAINT = 'erasure_actor';
    END IF;
    SELECT email, name INTO v_email, v_name FROM users WHERE id = p_user_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'erasure: no user %', p_user_id USING ERRCODE = 'no_data_found', CONSTRAINT = 'erasure_user';
    END IF;
    SELECT id INTO v_done FROM erasure_log WHERE user_id = p_user_id;
    IF FOUND THEN
        RAISE EXCEPTION 'erasure: user % was already erased (erasure_log %)', p_user_id, v_done
            USING ERRCODE = 'invalid_parameter_value', CONSTRAINT = 'erasure_once';
    END IF;

    -- The e-mail as an address (not inside a longer one), the name as whole words.
    v_re_email := '(?<![A-Za-z0-9._%+-])' || regexp_replace(v_email, v_meta, '\\\1', 'g') || '(?![A-Za-z0-9.-])';
    v_re_name := '(?<![[:alnum:]_])' || regexp_replace(v_name, v_meta, '\\\1', 'g') || '(?![[:alnum:]_])';
    v_re_jname := '(?<![[:alnum:]_])'
        || regexp_replace(substr(to_jsonb(v_name)::text, 2, length(to_jsonb(v_name)::text) - 2), v_meta, '\\\1', 'g')
        || '(?![[:alnum:]_])';

    UPDATE users SET email = v_new_email, name = v_new_name, active = false WHERE id = p_user_id;
    v_rows := 1;

    -- The e-mail, everywhere outside the audit trail.
    FOR c IN
        SELECT col.table_name, col.column_name, col.data_type
        FROM information_schema.columns AS col
        JOIN information_schema.tables AS tab USING (table_schema, table_name)
        WHERE col.table_schema = current_schema() AND tab.table_type = 'BASE TABLE'
          AND col.table_name <> 'audit_log' AND col.data_type IN ('text', 'jsonb', 'character varying')
          AND col.is_generated = 'NEVER'
        ORDER BY col.table_name, col.column_name
    LOOP
        IF c.data_type = 'jsonb' THEN
            EXECUTE format('UPDATE %I SET %I = regexp_replace(%I::text, $1, $2, ''gi'')::jsonb WHERE %I::text ~* $1',
                           c.table_name, c.column_name, c.column_name, c.column_name)
                USING v_re_email, v_new_email;
        ELSE
            EXECUTE format('UPDATE %I SET %I = regexp_replace(%I, $1, $2, ''gi'') WHERE %I ~* $1',
                           c.table_name, c.column_name, c.column_name, c.column_name)
                USING v_re_email, v_new_email;
        END IF;
        GET DIAGNOSTICS v_n = ROW_COUNT;
        v_rows := v_rows + v_n;
    END LOOP;

    -- The name, in the rows the user owns: every table with a foreign key to users.
    FOR fk IN
        SELECT rel.relname AS table_name, att.attname AS column_name
        FROM pg_constraint AS con
        JOIN pg_class AS rel ON rel.oid = con.conrelid
        JOIN pg_attribute AS att ON att.attrelid = con.conrelid AND att.attnum = con.conkey[1]
        WHERE con.contype = 'f' AND con.confrelid = 'users'::regclass AND cardinality(con.conkey) = 1
          AND rel.relnamespace = current_schema()::regnamespace
        ORDER BY 1, 2
    LOOP
        FOR c IN
            SELECT col.column_name, col.data_type FROM information_schema.columns AS col
            WHERE col.table_schema = current_schema() AND col.table_name = fk.table_name
              AND col.data_type IN ('text', 'jsonb', 'character varying') AND col.is_generated = 'NEVER'
            ORDER BY col.column_name
        LOOP
            IF c.data_type = 'jsonb' THEN
                EXECUTE format('UPDATE %I SET %I = regexp_replace(%I::text, $1, $2, ''gi'')::jsonb WHERE %I = $3 AND %I::text ~* $1',
                               fk.table_name, c.column_name, c.column_name, fk.column_name, c.column_name)
                    USING v_re_jname, v_new_name, p_user_id;
            ELSE
                EXECUTE format('UPDATE %I SET %I = regexp_replace(%I, $1, $2, ''gi'') WHERE %I = $3 AND %I ~* $1',
                               fk.table_name, c.column_name, c.column_name, fk.column_name, c.column_name)
                    USING v_re_name, v_new_name, p_user_id;
            END IF;
            GET DIAGNOSTICS v_n = ROW_COUNT;
            v_rows := v_rows + v_n;
        END LOOP;
        -- The same records' history: audit rows whose image says the user owned the row.
        UPDATE audit_log AS a
        SET old_values = regexp_replace(a.old_values::text, v_re_jname, v_new_name, 'gi')::jsonb,
            new_values = regexp_replace(a.new_values::text, v_re_jname, v_new_name, 'gi')::jsonb
        WHERE a.table_name = fk.table_name
          AND (a.old_values ->> fk.column_name = p_user_id::text OR a.new_values ->> fk.column_name = p_user_id::text)
          AND (a.old_values::text ~* v_re_jname OR a.new_values::text ~* v_re_jname);
        GET DIAGNOSTICS v_n = ROW_COUNT;
        v_audit := v_audit + v_n;
    END LOOP;

    -- The user's own row in history: every image of it takes the new e-mail and name.
    UPDATE audit_log AS a
    SET old_values = CASE WHEN a.old_values IS NULL THEN NULL
                          ELSE a.old_values || jsonb_build_object('email', v_new_email, 'name', v_new_name) END,
        new_values = CASE WHEN a.new_values IS NULL THEN NULL
                          ELSE a.new_values || jsonb_build_object('email', v_new_email, 'name', v_new_name) END
    WHERE a.table_name = 'users' AND a.record_id = p_user_id;
    GET DIAGNOSTICS v_n = ROW_COUNT;
    v_audit := v_audit + v_n;

    -- The e-mail anywhere else in the trail.
    UPDATE audit_log AS a
    SET old_values = regexp_replace(a.old_values::text, v_re_email, v_new_email, 'gi')::jsonb,
        new_values = regexp_replace(a.new_values::text, v_re_email, v_new_email, 'gi')::jsonb
    WHERE a.old_values::text ~* v_re_email OR a.new_values::text ~* v_re_email;
    GET DIAGNOSTICS v_n = ROW_COUNT;
    v_audit := v_audit + v_n;

    INSERT INTO erasure_log (user_id, erased_by, rows_redacted, audit_rows_redacted)
    VALUES (p_user_id, v_actor, v_rows, v_audit)
    RETURNING id INTO v_id;
    RETURN v_id;
END;
$$;
