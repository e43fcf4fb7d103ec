"""The seed's example migration (§6, "20240115_001_add_template_tags.sql"), in two forms, as data.

The change: templates get a `tags` array, a GIN index for array containment, and every existing
template is tagged with its category. The machinery that runs a form and watches its locks is
`workbook.locks`; `workbook.bench_migration` runs both forms on fresh loads and prints the figures.

BLOCKING is the seed's statements as written, in one transaction as its BEGIN ... COMMIT has them
(without its INSERT INTO schema_migrations: the workbook's runner writes the ledger row itself, and
the seed's placeholder checksum 'sha256_checksum_here' fails the ledger's ck_schema_migrations_checksum,
which would roll the whole migration back; and with the seed's index name, idx_templates_tags, where
the workbook names it ix_templates_tags). Its first statement takes ACCESS EXCLUSIVE on templates
and a transaction keeps every lock until it commits, so every read and write of templates waits
from the ALTER until the COMMIT: through the index build and the backfill of every row.

NONBLOCKING is the same change done without holding up the application:

* `SET lock_timeout = '2s'`: an ALTER waiting for its ACCESS EXCLUSIVE lock queues every later
  statement on the table behind it; with a timeout it gives up, lets the queue drain, and tries
  again (up to ADD_COLUMN_RETRIES times). The timeout bounds that stall; it does not remove it.
* `ADD COLUMN tags TEXT[] NOT NULL DEFAULT '{}'`: since PostgreSQL 11 a column added with a constant
  default is a catalog change only (the default is stored once as the "missing value" and no row is
  rewritten), and NOT NULL costs nothing more there, because every existing row has the non-null
  default: no scan. Declaring NOT NULL now is the cheap moment: added later it needs a full scan under
  ACCESS EXCLUSIVE (or a NOT VALID check and a VALIDATE). Without it, NULL and '{}' would be two
  spellings of "no tags", the seed's own backfill (`WHERE tags = '{}'`) skips a NULL, and
  `tags @> ARRAY[...]` is NULL, not false, on one. So this form declares NOT NULL, and says so: the
  one difference from BLOCKING's column, which the seed leaves nullable.
* the backfill in primary-key ranges of BATCH_ROWS rows, each in its own transaction: a batch holds
  the row locks of its rows only until it commits, so a write to one of them waits for one batch at
  most, and nothing else waits at all (ROW EXCLUSIVE conflicts with no other writer). Then a sweep
  of whatever still matches (template ids are random uuids, so a template inserted during the walk
  can land behind it). Done before the index exists, so no batch pays for GIN maintenance.
* `CREATE INDEX CONCURRENTLY`, in autocommit (it cannot run in a transaction): SHARE UPDATE EXCLUSIVE,
  which writes do not conflict with. It waits for the transactions writing the table instead, and
  if it fails (a cancel, a deadlock, the lock_timeout expiring in one of those waits) it leaves an
  INVALID index: maintained on every write, never read. The next step detects that from
  pg_index.indisvalid and drops and rebuilds it (CONCURRENTLY both).

Both forms keep the templates triggers on. The backfill is an UPDATE of every template, so the audit
trigger (V0008, V0013) writes one audit row per template, and the updated_at trigger (V0011) moves
every template's updated_at to the migration's time: every template then looks modified by the
migration, and "recently updated" orderings and caches keyed on updated_at all change. V0017 chose
the other way for its backfill (triggers off, "not a change anyone made"), but its
`ALTER TABLE ... DISABLE TRIGGER` takes SHARE ROW EXCLUSIVE, which blocks writes, and switches the
triggers off for every session, so concurrent application writes would go unaudited: neither fits a
form meant not to block. The bench reports both counts (EFFECTS) instead of hiding them.
"""

from __future__ import annotations

from .. import migrate
from ..locks import READ_MODE, WRITE_MODE, Form, Hold, Probe, Statement, backfill, ensure_valid_index

TABLE = "templates"
# The schema both forms start from: the migrations before the design adopted the change (V0022, V0023).
START_VERSION = "0021"

SFS = (0.1, 1)  # the scale factors the bench runs (templates: 1,000 and 10,000 rows)
SEED = 42
BATCH_ROWS = (
    migrate.BATCH_ROWS
)  # as the runner batches V0023: the longest a write to one of them waits is one batch
LOCK_TIMEOUT = "2s"
ADD_COLUMN_RETRIES = 5

SEED_INDEX = "idx_templates_tags"  # the seed's name for the index
INDEX = "ix_templates_tags"  # the workbook's convention for the same index

BLOCKING = Form(
    "blocking",
    (
        Statement("add_column", "ALTER TABLE templates ADD COLUMN tags TEXT[] DEFAULT '{}'"),
        Statement("create_index", "CREATE INDEX idx_templates_tags ON templates USING gin(tags)"),
        Statement("backfill", "UPDATE templates SET tags = ARRAY[category] WHERE tags = '{}'"),
    ),
    single_transaction=True,
    describe="the seed's statements as written, in one transaction (BEGIN ... COMMIT)",
)

CREATE_INDEX = f"CREATE INDEX CONCURRENTLY {INDEX} ON templates USING gin (tags)"

NONBLOCKING = Form(
    "nonblocking",
    (
        Statement("set_lock_timeout", f"SET lock_timeout = '{LOCK_TIMEOUT}'", autocommit=True),
        Statement(
            "add_column",
            "ALTER TABLE templates ADD COLUMN tags TEXT[] NOT NULL DEFAULT '{}'",
            retries=ADD_COLUMN_RETRIES,
        ),
        backfill("backfill", "templates", "id", "tags = ARRAY[category]", "tags = '{}'", rows=BATCH_ROWS),
        Statement(
            "create_index", CREATE_INDEX, autocommit=True, may_fail=True, holds="ShareUpdateExclusiveLock"
        ),
        ensure_valid_index("check_index", INDEX, CREATE_INDEX),
        Statement("reset_lock_timeout", "RESET lock_timeout", autocommit=True),
    ),
    describe=f"lock_timeout {LOCK_TIMEOUT}, a metadata-only ADD COLUMN, a backfill in batches of {BATCH_ROWS} "
    "rows, CREATE INDEX CONCURRENTLY, and a check that rebuilds an INVALID index",
)

FORMS = (BLOCKING, NONBLOCKING)
INDEX_OF = {BLOCKING.name: SEED_INDEX, NONBLOCKING.name: INDEX}

# What the application does meanwhile: touch one template (the updated_at trigger sets it to now; the
# audit trigger records it), and read one, each in its own transaction, keys in a shuffled order.
KEYS = "SELECT id FROM templates ORDER BY id"
PROBES = (
    Probe(
        "write", "UPDATE templates SET updated_at = updated_at WHERE id = CAST(? AS uuid)", KEYS, WRITE_MODE
    ),
    Probe("read", "SELECT name, category FROM templates WHERE id = CAST(? AS uuid)", KEYS, READ_MODE),
)

# What lock_timeout is for, run once beside the plain runs: a report that keeps a transaction open on
# templates (ACCESS SHARE) for LONG_READER.seconds as the change starts. The blocking form's ALTER
# queues behind it, and every read and write queues behind the ALTER; the non-blocking form's ALTER
# gives up after lock_timeout, lets the queue through, and tries again.
LONG_READER = Hold("SELECT count(*) FROM templates", 5.0)

# Read before a form runs, and again after: a changed filenode means the table was rewritten.
BEFORE = {
    "templates_filenode": "SELECT pg_relation_filenode('templates')",
    "audit_log_bytes": "SELECT pg_total_relation_size('audit_log')",
}
# What the change did, read after it: each a count (or a state) that the bench reports.
EFFECTS = {
    "templates": "SELECT count(*) FROM templates",
    "rows_not_tagged_with_category": "SELECT count(*) FROM templates WHERE tags IS DISTINCT FROM ARRAY[category]",
    # The backfill's audit rows: the only updates that changed tags (the probe's touches do not).
    "audit_rows_of_backfill": """SELECT count(*) FROM audit_log WHERE table_name = 'templates'
        AND operation = 'UPDATE' AND (old_values -> 'tags') IS DISTINCT FROM (new_values -> 'tags')""",
    "updated_at_moved_by_backfill": """SELECT count(*) FROM audit_log WHERE table_name = 'templates'
        AND operation = 'UPDATE' AND (old_values -> 'tags') IS DISTINCT FROM (new_values -> 'tags')
        AND (old_values ->> 'updated_at') IS DISTINCT FROM (new_values ->> 'updated_at')""",
    "tags_nullable": """SELECT NOT attnotnull FROM pg_attribute
        WHERE attrelid = 'templates'::regclass AND attname = 'tags'""",
}

# A few rows typed in, for the tests and the notebook's lock table (lock modes do not depend on size).
HAND_USERS = 20
HAND_ROWS = (
    f"""INSERT INTO users (email, name)
    SELECT 'migration' || g || '@example.com', 'User ' || g FROM generate_series(1, {HAND_USERS}) AS g""",
    f"""INSERT INTO templates (name, description, category, version, author_id)
    SELECT 'template-' || g, 'Template number ' || g || ' for the tags migration',
           (ARRAY['react', 'vue', 'django', 'rails', 'go'])[1 + g % 5], '1.0.0', u.id
    FROM generate_series(1, ?) AS g
    JOIN (SELECT id, row_number() OVER (ORDER BY email) - 1 AS k FROM users) AS u ON u.k = g % {HAND_USERS}""",
)
