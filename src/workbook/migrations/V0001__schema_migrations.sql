-- V0001: the migration ledger (seed §6 "Migration versioning").
-- The runner applies this file first and records every file here, itself included,
-- with the sha256 of the file's bytes so that an edited, applied file is detected.
CREATE TABLE schema_migrations (
    version     TEXT NOT NULL,
    description TEXT NOT NULL,
    applied_at  TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    checksum    TEXT NOT NULL,
    CONSTRAINT pk_schema_migrations PRIMARY KEY (version),
    CONSTRAINT ck_schema_migrations_checksum CHECK (checksum ~ '^[0-9a-f]{64}$')
);

COMMENT ON TABLE schema_migrations IS 'One row per applied migration file, written by the workbook migration runner.';
COMMENT ON COLUMN schema_migrations.version IS 'Version from the file name (V0001__... gives 0001).';
COMMENT ON COLUMN schema_migrations.description IS 'Description from the file name, underscores as spaces.';
COMMENT ON COLUMN schema_migrations.applied_at IS 'When the runner committed the file.';
COMMENT ON COLUMN schema_migrations.checksum IS 'sha256 of the file bytes as applied, 64 lower-case hex digits.';
