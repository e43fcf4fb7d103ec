-- workbook: no-transaction
-- V0023: backfill templates.tags and index it, without blocking writes to templates.
-- Outside a transaction (the directive above): the runner runs the UPDATE in batches of rows by
-- primary key, each batch its own short transaction, so a writer waits for one batch at most; its
-- WHERE excludes rows already done, so an interrupted backfill resumes where it stopped. The GIN
-- index is built CONCURRENTLY (ShareUpdateExclusiveLock: writes go on); an interrupted build leaves
-- an INVALID index that the runner drops and builds again on the next migrate, where IF NOT EXISTS
-- alone would keep it. Every backfilled template gets an audit row and a new updated_at (F41); the
-- audit trail refuses a change without an actor, and a migration acts as the workbook itself.
SET lock_timeout = '2s';
SET workbook.actor_id = '00000000-0000-4000-8000-000000000000';

UPDATE templates SET tags = ARRAY[category] WHERE tags = ARRAY[]::TEXT[];

CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_templates_tags ON templates USING gin (tags);
