-- Safe data migrations (seed §6 "Data Migration Procedures"; findings F35 to F39).
-- The seed's migrate_data_safely promises, in its comments, a logged start, a backup, a logged
-- success or failure, and (by its name) safety. Run as written it keeps none of them: it logs to
-- a table nobody creates, its WHERE is ambiguous, its start and its FAILED row are rolled back
-- with the failure, and the backup it names is never taken. This file keeps each promise:
--  * migration_log is a ledger of every data migration: who ran it, on which rows, what it
--    backed up (row count and checksum), how it ended, and whether it was restored.
--  * migrate_data_safely is a PROCEDURE, CALLed outside a transaction block, so it can commit
--    between its steps (a function cannot):
--      1. STARTED is committed first: a migration in progress, or killed, is visible.
--      2. Under a SHARE ROW EXCLUSIVE lock on the target, the rows of the predicate are copied
--         into migration_backup_<log id> and the copy is verified against the source (row count
--         and checksum), then BACKED_UP is committed with the backup: it exists before any change.
--      3. Under the lock again, the source rows are verified once more against the backup (a
--         writer may have slipped in between the two transactions), the change runs, and its
--         footprint is checked: the audit rows of the transaction (V0008, V0013) must all be
--         UPDATE or DELETE of backed-up rows of the target. A change that touches anything else
--         (another table through a trigger or a cascade, a row outside the predicate, an insert)
--         could not be restored from the backup, so it is refused. COMPLETED is committed with
--         the change, with the checksum of the changed rows.
--      4. Any error in 2 or 3 rolls back that step only; FAILED (with the step and SQLERRM) is
--         committed, and the original error is raised again with its SQLSTATE, the log id in
--         its DETAIL. Nothing of the failed step remains: the data is as it was (a backup that step 2
--         committed stays, named in the log).
--  * restore_data_migration puts the backed-up rows back in one transaction, byte for byte, and
--    refuses when it cannot: the backup changed since it was taken, or the rows changed since the
--    migration (restoring would silently overwrite that later change). It verifies the result
--    against the backup's checksum before recording RESTORED.
-- Concurrency: SHARE ROW EXCLUSIVE conflicts with every writer (ROW EXCLUSIVE) and with itself,
-- not with readers: reads go on and see the old rows until the change commits, writes to the
-- target queue behind the migration, and two migrations of one table run one after the other.
-- A large migration therefore blocks writers for its duration; run it in batches (one CALL per
-- key range). Set lock_timeout in the session to fail (FAILED, nothing changed) rather than wait.
-- The restore takes the same lock for its one transaction.
-- The audit trail: every change needs an actor (V0013). A CALL outside a transaction block can
-- only see a session-level workbook.actor_id (a transaction-local one ends before it), so the
-- procedure reads it once, refuses to start without it, records it as run_by, and sets it again,
-- transaction-locally, at the start of each of its transactions.
-- Restore sets updated_at back to its backed-up value too (the updated_at trigger of V0011 is
-- disabled for the restoring UPDATE only, inside its transaction): a restore undoes a change, it
-- is not a new edit, and audit_log keeps both the migration and the restore, with their actor.
-- ALTER TABLE ... DISABLE TRIGGER takes SHARE ROW EXCLUSIVE too (readers go on) and needs the
-- table's owner: a restore is run by whoever owns the schema, as migrations are.
-- Limits: the footprint is read from audit_log, so the target must be an audited table (keyed
-- by id, as the audit trail is); changes to tables without an audit trigger, and DDL, are not
-- seen, and migration_sql is trusted SQL (the migration author's, as a migration file is).

SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

-- A sequence rather than an identity column: the same numbering on DuckDB, which has no identity columns.
CREATE SEQUENCE migration_log_id_seq;

CREATE TABLE migration_log (
    id               BIGINT NOT NULL DEFAULT nextval('migration_log_id_seq'),
    migration_name   TEXT NOT NULL,
    target_schema    TEXT NOT NULL,
    target_table     TEXT NOT NULL,
    predicate        TEXT NOT NULL,
    migration_sql    TEXT NOT NULL,
    status           TEXT NOT NULL DEFAULT 'STARTED',
    run_by           UUID NOT NULL,
    started_at       TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
    backup_table     TEXT,
    backup_rows      BIGINT,
    backup_checksum  TEXT,
    backed_up_at     TIMESTAMP WITH TIME ZONE,
    rows_changed     BIGINT,
    changed_checksum TEXT,
    completed_at     TIMESTAMP WITH TIME ZONE,
    failed_step      TEXT,
    error_message    TEXT,
    restored_by      UUID,
    restored_at      TIMESTAMP WITH TIME ZONE,
    rows_restored    BIGINT,
    CONSTRAINT pk_migration_log PRIMARY KEY (id),
    CONSTRAINT ck_migration_log_status CHECK (status IN ('STARTED', 'BACKED_UP', 'COMPLETED', 'FAILED', 'RESTORED')),
    CONSTRAINT ck_migration_log_name_length CHECK (char_length(migration_name) BETWEEN 1 AND 200),
    CONSTRAINT ck_migration_log_backed_up CHECK (
        status IN ('STARTED', 'FAILED')
        OR (backup_table IS NOT NULL AND backup_rows IS NOT NULL AND backup_checksum IS NOT NULL AND backed_up_at IS NOT NULL)),
    CONSTRAINT ck_migration_log_completed CHECK (
        status NOT IN ('COMPLETED', 'RESTORED')
        OR (rows_changed IS NOT NULL AND changed_checksum IS NOT NULL AND completed_at IS NOT NULL)),
    CONSTRAINT ck_migration_log_failed CHECK (
        (status = 'FAILED') = (error_message IS NOT NULL AND failed_step IS NOT NULL AND completed_at IS NOT NULL)),
    CONSTRAINT ck_migration_log_restored CHECK (
        (status = 'RESTORED') = (restored_at IS NOT NULL AND restored_by IS NOT NULL AND rows_restored IS NOT NULL))
);

COMMENT ON TABLE migration_log IS 'One row per data migration run through migrate_data_safely: its backup, outcome and restore.';
COMMENT ON COLUMN migration_log.id IS 'Surrogate key; names the backup table migration_backup_<id>.';
COMMENT ON COLUMN migration_log.migration_name IS 'Name the migration author gave the run.';
COMMENT ON COLUMN migration_log.target_schema IS 'Schema of the table the migration changes (the backup lives there too).';
COMMENT ON COLUMN migration_log.target_table IS 'Table the migration changes.';
COMMENT ON COLUMN migration_log.predicate IS 'SQL condition selecting the rows the migration may change: the rows backed up.';
COMMENT ON COLUMN migration_log.migration_sql IS 'The change, as run.';
COMMENT ON COLUMN migration_log.status IS 'STARTED, BACKED_UP, COMPLETED, FAILED or RESTORED; each step commits its status.';
COMMENT ON COLUMN migration_log.run_by IS 'The acting user (workbook.actor_id) who ran the migration.';
COMMENT ON COLUMN migration_log.started_at IS 'When the run was logged, committed before any work.';
COMMENT ON COLUMN migration_log.backup_table IS 'Table holding the rows of the predicate as they were before the change.';
COMMENT ON COLUMN migration_log.backup_rows IS 'Rows in the backup, equal to the source''s when taken.';
COMMENT ON COLUMN migration_log.backup_checksum IS 'md5 over the md5 of each backed-up row''s text in id order, equal to the source''s when taken.';
COMMENT ON COLUMN migration_log.backed_up_at IS 'When the verified backup was committed.';
COMMENT ON COLUMN migration_log.rows_changed IS 'Rows of the target the change updated or deleted (from its audit rows).';
COMMENT ON COLUMN migration_log.changed_checksum IS 'Checksum of the backed-up rows right after the change; restore refuses when they no longer match it.';
COMMENT ON COLUMN migration_log.completed_at IS 'When the run ended, COMPLETED or FAILED.';
COMMENT ON COLUMN migration_log.failed_step IS 'Step that failed: backup, verify backup, verify before change, change or check footprint.';
COMMENT ON COLUMN migration_log.error_message IS 'The error (SQLERRM) of a FAILED run.';
COMMENT ON COLUMN migration_log.restored_by IS 'The acting user who restored the backup.';
COMMENT ON COLUMN migration_log.restored_at IS 'When the backup was put back.';
COMMENT ON COLUMN migration_log.rows_restored IS 'Rows the restore updated or re-inserted.';

-- The checksum of a set of rows: md5 over the md5 of each row's text, in id order. The text of a
-- timestamptz, a date or a float depends on session settings, so they are fixed here: the same rows
-- give the same checksum in every session (the restore usually runs in another one).
CREATE FUNCTION migration_digest(p_relation REGCLASS, p_columns TEXT[], p_where TEXT,
                                 OUT row_count BIGINT, OUT checksum TEXT)
LANGUAGE plpgsql STABLE
SET TimeZone TO 'UTC' SET DateStyle TO 'ISO, YMD' SET IntervalStyle TO 'postgres'
SET extra_float_digits TO 1 SET bytea_output TO 'hex'
AS $$
DECLARE
    v_row TEXT := (SELECT string_agg(format('%I', c.name), ', ' ORDER BY c.n)
                   FROM unnest(p_columns) WITH ORDINALITY AS c (name, n));
BEGIN
    EXECUTE format('SELECT count(*), md5(COALESCE(string_agg(md5(ROW(%s)::text), '''' ORDER BY id), '''')) '
                   'FROM %s WHERE %s', v_row, p_relation, p_where)
    INTO row_count, checksum;
END;
$$;

-- The target must be a table the audit trail covers: its audit rows are the change's footprint.
CREATE FUNCTION migration_target_columns(p_target REGCLASS) RETURNS TEXT[]
LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_class WHERE oid = p_target AND relkind IN ('r', 'p')) THEN
        RAISE EXCEPTION 'migration: % is not a table', p_target
            USING ERRCODE = 'wrong_object_type', CONSTRAINT = 'migration_target_table';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_trigger
                   WHERE tgrelid = p_target AND tgfoid = 'audit_trigger'::regproc AND tgenabled <> 'D') THEN
        RAISE EXCEPTION 'migration: % has no audit trigger, so what a change touched cannot be checked against its backup', p_target
            USING ERRCODE = 'feature_not_supported', CONSTRAINT = 'migration_target_audited';
    END IF;
    RETURN ARRAY(SELECT attname::text FROM pg_attribute
                 WHERE attrelid = p_target AND attnum > 0 AND NOT attisdropped ORDER BY attnum);
END;
$$;

CREATE FUNCTION migration_actor() RETURNS TEXT
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_actor TEXT := current_setting('workbook.actor_id', true);
BEGIN
    IF v_actor IS NULL OR v_actor !~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN
        RAISE EXCEPTION 'migration: no actor: set workbook.actor_id for the session before CALL'
            USING ERRCODE = 'not_null_violation', CONSTRAINT = 'audit_actor_required',
                  HINT = 'SELECT set_config(''workbook.actor_id'', <user uuid>, false)';
    END IF;
    RETURN v_actor;
END;
$$;

CREATE PROCEDURE migrate_data_safely(p_name TEXT, p_target REGCLASS, p_predicate TEXT, p_sql TEXT,
                                     INOUT p_log_id BIGINT DEFAULT NULL)
LANGUAGE plpgsql AS $$
DECLARE
    v_actor   TEXT := migration_actor();
    v_columns TEXT[] := migration_target_columns(p_target);
    v_schema  TEXT;
    v_table   TEXT;
    v_backup  TEXT;
    v_where   TEXT := format('(%s)', p_predicate);
    v_kept    TEXT;
    v_src     RECORD;
    v_copy    RECORD;
    v_after   RECORD;
    v_log     migration_log%ROWTYPE;
    v_changed BIGINT;
    v_stray   BIGINT;
    v_step    TEXT;
    v_state   TEXT;
    v_message TEXT;
    v_detail  TEXT;
    v_hint    TEXT;
BEGIN
    SELECT n.nspname, c.relname INTO v_schema, v_table
    FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace WHERE c.oid = p_target;

    -- 1. The start, committed before any work.
    INSERT INTO migration_log (migration_name, target_schema, target_table, predicate, migration_sql, run_by)
    VALUES (p_name, v_schema, v_table, p_predicate, p_sql, v_actor::uuid)
    RETURNING id INTO p_log_id;
    COMMIT;

    v_backup := 'migration_backup_' || p_log_id;
    v_kept := format('id IN (SELECT id FROM %I.%I)', v_schema, v_backup);

    -- 2. The backup, verified against its source, committed before the change.
    BEGIN
        PERFORM set_config('workbook.actor_id', v_actor, true);
        v_step := 'backup';
        EXECUTE format('LOCK TABLE %s IN SHARE ROW EXCLUSIVE MODE', p_target);
        EXECUTE format('CREATE TABLE %I.%I AS SELECT * FROM %s WHERE %s', v_schema, v_backup, p_target, v_where);
        EXECUTE format('ALTER TABLE %I.%I ADD CONSTRAINT %I PRIMARY KEY (id)', v_schema, v_backup, 'pk_' || v_backup);
        v_step := 'verify backup';
        SELECT * INTO v_copy FROM migration_digest(format('%I.%I', v_schema, v_backup)::regclass, v_columns, 'true');
        SELECT * INTO v_src FROM migration_digest(p_target, v_columns, v_where);
        IF (v_copy.row_count, v_copy.checksum) IS DISTINCT FROM (v_src.row_count, v_src.checksum) THEN
            RAISE EXCEPTION 'migration: the backup of % does not match its source: % rows copied, % rows in the source, checksums %',
                v_table, v_copy.row_count, v_src.row_count, CASE WHEN v_copy.checksum = v_src.checksum THEN 'equal' ELSE 'differ' END
                USING ERRCODE = 'integrity_constraint_violation', CONSTRAINT = 'migration_backup_verified',
                      HINT = 'a predicate must select the same rows each time it is evaluated (no volatile functions)';
        END IF;
        UPDATE migration_log
        SET status = 'BACKED_UP', backup_table = v_backup, backup_rows = v_copy.row_count,
            backup_checksum = v_copy.checksum, backed_up_at = clock_timestamp()
        WHERE id = p_log_id;
    EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_message = MESSAGE_TEXT,
                                v_detail = PG_EXCEPTION_DETAIL, v_hint = PG_EXCEPTION_HINT;
    END;

    IF v_state IS NULL THEN
        COMMIT;
        -- 3. The change, on rows verified again against the backup, its footprint checked.
        BEGIN
            PERFORM set_config('workbook.actor_id', v_actor, true);
            v_step := 'verify before change';
            EXECUTE format('LOCK TABLE %s IN SHARE ROW EXCLUSIVE MODE', p_target);
            SELECT * INTO v_log FROM migration_log WHERE id = p_log_id;
            SELECT * INTO v_copy FROM migration_digest(format('%I.%I', v_schema, v_backup)::regclass, v_columns, 'true');
            SELECT * INTO v_src FROM migration_digest(p_target, v_columns, v_where);
            IF (v_copy.row_count, v_copy.checksum) IS DISTINCT FROM (v_log.backup_rows, v_log.backup_checksum) THEN
                RAISE EXCEPTION 'migration: the backup table % changed after it was verified', v_backup
                    USING ERRCODE = 'integrity_constraint_violation', CONSTRAINT = 'migration_backup_verified';
            END IF;
            IF (v_src.row_count, v_src.checksum) IS DISTINCT FROM (v_log.backup_rows, v_log.backup_checksum) THEN
                RAISE EXCEPTION 'migration: rows of % changed after the backup (% rows now, % backed up); run the migration again',
                    v_table, v_src.row_count, v_log.backup_rows
                    USING ERRCODE = 'serialization_failure', CONSTRAINT = 'migration_backup_verified';
            END IF;
            v_step := 'change';
            EXECUTE p_sql;
            v_step := 'check footprint';
            EXECUTE format(
                'SELECT count(DISTINCT a.record_id) FILTER (WHERE a.table_name = %L AND a.operation <> ''INSERT'' AND b.id IS NOT NULL), '
                '       count(*) FILTER (WHERE a.table_name <> %L OR a.operation = ''INSERT'' OR b.id IS NULL) '
                'FROM audit_log AS a LEFT JOIN %I.%I AS b ON b.id = a.record_id AND a.table_name = %L '
                'WHERE a.txid = txid_current()', v_table, v_table, v_schema, v_backup, v_table)
            INTO v_changed, v_stray;
            IF v_stray > 0 THEN
                RAISE EXCEPTION 'migration: the change made % row changes the backup does not hold (another table, a row outside the predicate, or an insert); it could not be restored',
                    v_stray
                    USING ERRCODE = 'integrity_constraint_violation', CONSTRAINT = 'migration_within_backup';
            END IF;
            SELECT * INTO v_after FROM migration_digest(p_target, v_columns, v_kept);
            UPDATE migration_log
            SET status = 'COMPLETED', rows_changed = v_changed, changed_checksum = v_after.checksum,
                completed_at = clock_timestamp()
            WHERE id = p_log_id;
        EXCEPTION WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_message = MESSAGE_TEXT,
                                    v_detail = PG_EXCEPTION_DETAIL, v_hint = PG_EXCEPTION_HINT;
        END;
    END IF;

    -- 4. A failure: FAILED is committed (the failed step is already rolled back), then re-raised.
    IF v_state IS NOT NULL THEN
        UPDATE migration_log
        SET status = 'FAILED', failed_step = v_step, error_message = v_message, completed_at = clock_timestamp()
        WHERE id = p_log_id;
        COMMIT;
        v_detail := format('migration_log id %s: FAILED at step %s%s', p_log_id, v_step, ': ' || NULLIF(v_detail, ''));
        IF COALESCE(v_hint, '') = '' THEN
            RAISE EXCEPTION USING ERRCODE = v_state, MESSAGE = v_message, DETAIL = v_detail;
        END IF;
        RAISE EXCEPTION USING ERRCODE = v_state, MESSAGE = v_message, DETAIL = v_detail, HINT = v_hint;
    END IF;
    COMMIT;
END;
$$;

CREATE PROCEDURE restore_data_migration(p_log_id BIGINT)
LANGUAGE plpgsql AS $$
DECLARE
    v_actor    TEXT := migration_actor();
    v_log      migration_log%ROWTYPE;
    v_target   REGCLASS;
    v_backup   REGCLASS;
    v_columns  TEXT[];
    v_settable TEXT;
    v_from_backup TEXT;
    v_from_target TEXT;
    v_kept     TEXT;
    v_now      RECORD;
    v_updated  BIGINT;
    v_inserted BIGINT;
    v_stray    BIGINT;
    v_seq      BIGINT;
    v_trigger  TEXT;
    v_paused   TEXT[] := '{}';
BEGIN
    SELECT * INTO v_log FROM migration_log WHERE id = p_log_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'restore: no migration with log id %', p_log_id
            USING ERRCODE = 'no_data_found', CONSTRAINT = 'restore_migration_exists';
    END IF;
    IF v_log.status <> 'COMPLETED' THEN
        RAISE EXCEPTION 'restore: migration % (%) is %: only a COMPLETED migration can be restored',
            p_log_id, v_log.migration_name, v_log.status
            USING ERRCODE = 'object_not_in_prerequisite_state', CONSTRAINT = 'restore_migration_completed';
    END IF;
    v_target := format('%I.%I', v_log.target_schema, v_log.target_table)::regclass;
    v_backup := format('%I.%I', v_log.target_schema, v_log.backup_table)::regclass;
    v_kept := format('id IN (SELECT id FROM %s)', v_backup);
    EXECUTE format('LOCK TABLE %s IN SHARE ROW EXCLUSIVE MODE', v_target);
    v_columns := ARRAY(SELECT attname::text FROM pg_attribute
                       WHERE attrelid = v_backup AND attnum > 0 AND NOT attisdropped ORDER BY attnum);

    SELECT * INTO v_now FROM migration_digest(v_backup, v_columns, 'true');
    IF (v_now.row_count, v_now.checksum) IS DISTINCT FROM (v_log.backup_rows, v_log.backup_checksum) THEN
        RAISE EXCEPTION 'restore: the backup % no longer matches its checksum (% rows, % recorded): it was changed after it was taken',
            v_log.backup_table, v_now.row_count, v_log.backup_rows
            USING ERRCODE = 'integrity_constraint_violation', CONSTRAINT = 'restore_backup_verified';
    END IF;
    SELECT * INTO v_now FROM migration_digest(v_target, v_columns, v_kept);
    IF v_now.checksum IS DISTINCT FROM v_log.changed_checksum THEN
        RAISE EXCEPTION 'restore: rows of % changed after migration % completed; restoring would overwrite those changes',
            v_log.target_table, p_log_id
            USING ERRCODE = 'serialization_failure', CONSTRAINT = 'restore_rows_unchanged_since';
    END IF;

    SELECT COALESCE(max(seq), 0) INTO v_seq FROM audit_log WHERE txid = txid_current();
    SELECT string_agg(format('%I', a.attname), ', ' ORDER BY a.attnum),
           string_agg(format('b.%I', a.attname), ', ' ORDER BY a.attnum),
           string_agg(format('t.%I', a.attname), ', ' ORDER BY a.attnum)
    INTO v_settable, v_from_backup, v_from_target
    FROM pg_attribute AS a
    WHERE a.attrelid = v_target AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
      AND a.attname::text = ANY (v_columns);
    -- The row as it was, updated_at included: the updated_at trigger is off for this UPDATE only.
    FOR v_trigger IN SELECT tgname FROM pg_trigger
                     WHERE tgrelid = v_target AND tgfoid = 'set_updated_at'::regproc AND tgenabled = 'O' LOOP
        EXECUTE format('ALTER TABLE %s DISABLE TRIGGER %I', v_target, v_trigger);
        v_paused := v_paused || v_trigger;
    END LOOP;
    EXECUTE format('UPDATE %s AS t SET (%s) = ROW(%s) FROM %s AS b '
                   'WHERE t.id = b.id AND ROW(%s) IS DISTINCT FROM ROW(%s)',
                   v_target, v_settable, v_from_backup, v_backup, v_from_target, v_from_backup);
    GET DIAGNOSTICS v_updated = ROW_COUNT;
    EXECUTE format('INSERT INTO %s (%s) OVERRIDING SYSTEM VALUE SELECT %s FROM %s AS b '
                   'WHERE NOT EXISTS (SELECT 1 FROM %s AS t WHERE t.id = b.id)',
                   v_target, v_settable, v_from_backup, v_backup, v_target);
    GET DIAGNOSTICS v_inserted = ROW_COUNT;
    FOREACH v_trigger IN ARRAY v_paused LOOP
        EXECUTE format('ALTER TABLE %s ENABLE TRIGGER %I', v_target, v_trigger);
    END LOOP;

    EXECUTE format('SELECT count(*) FROM audit_log AS a WHERE a.txid = txid_current() AND a.seq > %s '
                   'AND (a.table_name <> %L OR a.operation = ''DELETE'' '
                   '     OR NOT EXISTS (SELECT 1 FROM %s AS b WHERE b.id = a.record_id))',
                   v_seq, v_log.target_table, v_backup)
    INTO v_stray;
    IF v_stray > 0 THEN
        RAISE EXCEPTION 'restore: putting the rows back made % row changes the backup does not hold; nothing was restored', v_stray
            USING ERRCODE = 'integrity_constraint_violation', CONSTRAINT = 'restore_within_backup';
    END IF;
    SELECT * INTO v_now FROM migration_digest(v_target, v_columns, v_kept);
    IF (v_now.row_count, v_now.checksum) IS DISTINCT FROM (v_log.backup_rows, v_log.backup_checksum) THEN
        RAISE EXCEPTION 'restore: the restored rows of % do not match the backup (% rows, % backed up); nothing was restored',
            v_log.target_table, v_now.row_count, v_log.backup_rows
            USING ERRCODE = 'integrity_constraint_violation', CONSTRAINT = 'restore_matches_backup';
    END IF;
    UPDATE migration_log
    SET status = 'RESTORED', restored_by = v_actor::uuid, restored_at = clock_timestamp(),
        rows_restored = v_updated + v_inserted
    WHERE id = p_log_id;
END;
$$;
