-- V0022: templates get tags (seed §6 "Example migration script structure", run for real).
-- The seed adds the column, builds its GIN index and backfills, all in one transaction of its own:
-- the index build holds ShareLock and the backfill row locks on every template until COMMIT, so
-- every write to templates waits for the whole migration (measured in Migration Strategy). The
-- design splits it: this file only adds the column, which PostgreSQL 11+ does without rewriting or
-- scanning the table (a constant default is stored in the catalog), under a lock_timeout so that a
-- long reader makes the migration fail and retry instead of queueing every writer behind it.
-- V0023 backfills in batches and builds the index concurrently, outside a transaction.
SET LOCAL lock_timeout = '2s';
SET LOCAL statement_timeout = '60s';

ALTER TABLE templates ADD COLUMN tags TEXT[] NOT NULL DEFAULT ARRAY[]::TEXT[];

COMMENT ON COLUMN templates.tags IS 'Free-form labels for finding a template; starts as its category (V0023), empty for none.';
