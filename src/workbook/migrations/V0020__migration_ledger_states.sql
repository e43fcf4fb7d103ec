-- V0020: the ledger records failed attempts and accepted edits (Migration Strategy).
-- A failed attempt is rolled back and then recorded here in a transaction of its own, so
-- `workbook info` can say which file failed and why; the next migrate retries it. An edit to an
-- applied file is refused until `workbook repair --reason` accepts it, which keeps both checksums,
-- the reason, who and when in schema_migration_repairs.
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

ALTER TABLE schema_migrations ADD COLUMN state TEXT NOT NULL DEFAULT 'applied';
ALTER TABLE schema_migrations ADD CONSTRAINT ck_schema_migrations_state
    CHECK (state IN ('applied', 'failed'));
ALTER TABLE schema_migrations ADD COLUMN installed_by TEXT;
ALTER TABLE schema_migrations ADD COLUMN execution_ms BIGINT;
ALTER TABLE schema_migrations ADD COLUMN error TEXT;

COMMENT ON COLUMN schema_migrations.state IS 'applied, or failed: the last attempt was rolled back (error says why) and is retried by the next migrate.';
COMMENT ON COLUMN schema_migrations.installed_by IS 'The operating-system user who ran the migrate.';
COMMENT ON COLUMN schema_migrations.execution_ms IS 'How long the file took, in milliseconds.';
COMMENT ON COLUMN schema_migrations.error IS 'For a failed row: the one-line error, naming the file and line.';

CREATE TABLE schema_migration_repairs (
    version      TEXT NOT NULL,
    old_checksum TEXT NOT NULL,
    new_checksum TEXT,
    reason       TEXT NOT NULL,
    repaired_by  TEXT NOT NULL,
    repaired_at  TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    CONSTRAINT pk_schema_migration_repairs PRIMARY KEY (version, repaired_at),
    CONSTRAINT ck_schema_migration_repairs_reason CHECK (reason ~ '\S')
);

COMMENT ON TABLE schema_migration_repairs IS 'One row per accepted edit or cleared failure, written by workbook repair.';
COMMENT ON COLUMN schema_migration_repairs.version IS 'The repaired migration''s version.';
COMMENT ON COLUMN schema_migration_repairs.old_checksum IS 'The ledger''s checksum before the repair.';
COMMENT ON COLUMN schema_migration_repairs.new_checksum IS 'The file''s checksum accepted by the repair (NULL: a failed row was cleared).';
COMMENT ON COLUMN schema_migration_repairs.reason IS 'What was reviewed and why the edit is accepted; required.';
COMMENT ON COLUMN schema_migration_repairs.repaired_by IS 'Who reviewed the edit (workbook repair --by, default the operating-system user).';
COMMENT ON COLUMN schema_migration_repairs.repaired_at IS 'When the repair was recorded.';
