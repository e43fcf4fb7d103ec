"""The design's answer to tables outgrowing one node: partition the largest on one node, then distribute.

Two declarations live here, each run by machinery that names no table:

* `PARTITIONING`, run by `workbook.partitioning`: how `pattern_applications` (3 M rows at SF 1, 30 M at
  SF 10) is split into PostgreSQL partitions, the alternatives it was weighed against, and the access
  patterns whose plans show partition pruning.
* `DISTRIBUTION`, run by `workbook.distribution_check`: which tables a Citus cluster would hash-distribute
  (by which column, co-located with which), which it would replicate as reference tables, and the access
  patterns whose routing (one shard, all shards, every node) follows from that.

The access patterns (section Access Patterns): a user's projects (owner_id, newest first, keyset); popular
templates by category; template full-text search; a template with its version history; one record's audit
history (audit_log by table_name, record_id); the most-used patterns of a template; a user's recently
changed records; and the writes: create project, apply pattern (which bumps patterns.usage_count by
trigger). Every business table is audited by trigger.

**The partition key of pattern_applications: RANGE on applied_at, one partition per quarter.** The
table is read three ways: a project's applications (by project_id), recent activity (a time range), and
retention (old applications go by time). Three schemes were built from the loaded rows and measured with
the same probes (the evidence below):

* RANGE (applied_at) by quarter (chosen). A time-range read and a retention delete prune to the
  partitions of their quarters, at plan time for literal values and when the executor starts for a
  prepared statement's parameters; inserts go to the newest partition, whose indexes stay in memory.
  The project page (project_applications, ~20/s) reads every partition: one probe of each partition's
  (project_id, applied_at) index, 25 at SF 1, a few hundred rows read in all. Bounded by the project's
  creation time, which the page has from the project row it shows, it reads only the quarters since:
  applications come after their project (the write path stamps applied_at with NOW(); the Test Data
  checks hold it for the generated rows; no constraint enforces it, so a row imported with an earlier
  applied_at would be missed by the bounded read).
* RANGE (applied_at) by year. The same pruning at a coarser grain, and 7 partitions instead of 25 for
  an unbounded read by project. But the data grows: applications follow sign-ups, which grow over the
  window, so each year holds several times the one before and the current year holds most of the table
  (87 % at SF 1). Pruning to a year then saves little: recent activity reads twice the rows it reads by
  quarter.
* HASH (project_id) into 8. The project page reads one partition, which replaces one index descent by
  another (the (project_id, applied_at) index finds a project's rows in one probe either way). Recent
  activity reads every partition, the whole table, and retention is a DELETE across all of them.

Time wins because the patterns it prunes (time ranges, retention) are the ones no index makes cheap,
while the one it does not prune costs an index probe per partition, and only a few with the
creation-time bound. Locality by project is what the distributed design gives across nodes (sharding by
owner, below); HASH on project inside a node would duplicate it. The quarter is the grain at which the
newest partition stops holding most of the table while the partition count stays in the tens (4 a
year); months would give 72 partitions at SF 1 for every unbounded read by project. One partition is
created ahead of the data's last quarter, so inserts never wait for maintenance; there is no DEFAULT
partition (attaching a new partition would have to scan it), so creating the next quarter's partition is
a scheduled job.

Consequences. PostgreSQL enforces a primary key on a partitioned table only when it includes the
partition key, so PRIMARY KEY (id) is refused (the evidence shows PostgreSQL's message) and the key
becomes (id, applied_at). Nothing references pattern_applications by foreign key, so nothing else
changes; uniqueness of id alone rests on gen_random_uuid() (122 random bits), which the design accepts
rather than paying for a global id table on every insert. Dropping a partition removes rows without
firing row triggers: no DELETE rows in audit_log (so `replay.compare` would find the applications still
alive in the trail) and patterns.usage_count still counting them. Retention therefore stays a DELETE,
which prunes to the partitions of the quarters it removes (shown below), fires the audit and usage-count
triggers row by row, and is followed by dropping the emptied partitions: the dead rows go with their
files, and no VACUUM of a large table follows.

**The distribution: tenant = user.** projects and pattern_applications are hash-distributed by the owning
user and audit_log by the acting user (changed_by), all three co-located, so a user's projects, their
applications and the audit rows of the user's own changes share a shard; the small, shared catalog that
is read across users and unique across all of them (users, templates, template_versions, patterns) is
replicated to every node as reference tables. audit_log by changed_by rather than record_id follows the
frequencies of the Access Patterns section: a user's activity feed (~10/s) becomes one shard, one record's
history (~1/min, support staff) reads all shards. The rule check lists what today's schema must change
(keys that gain owner_id or changed_by, an owner_id column in pattern_applications, changed_by NOT NULL,
and the triggers), and the routing table shows which patterns stay on one shard and which writes become
multi-node: every write that moves a count kept on a reference table (templates.project_count,
patterns.usage_count) updates every node's replica.
"""

from __future__ import annotations

from ..distribution_check import Access, Distribution, Placement
from ..partitioning import Partitioning, Probe, Scheme

BY_YEAR = Scheme(
    name="RANGE (applied_at) by year",
    table="pattern_applications",
    copy="pattern_applications_by_year",
    method="range",
    column="applied_at",
    every="year",
    ahead=1,
)
BY_QUARTER = Scheme(
    name="RANGE (applied_at) by quarter",
    table="pattern_applications",
    copy="pattern_applications_partitioned",
    method="range",
    column="applied_at",
    every="quarter",
    ahead=1,
)
BY_PROJECT = Scheme(
    name="HASH (project_id) into 8",
    table="pattern_applications",
    copy="pattern_applications_by_project",
    method="hash",
    column="project_id",
    modulus=8,
)

# Parameter values come from the data (the same seed and SF give the same values): the project of the
# latest application (with its creation time), a moment 90 days before the latest application, the
# first pattern, and the end of the first year of applications.
_PROJECT = "SELECT project_id FROM pattern_applications ORDER BY applied_at DESC, id LIMIT 1"
_PROJECT_SINCE = (
    "SELECT a.project_id, p.created_at FROM pattern_applications AS a JOIN projects AS p ON p.id = a.project_id "
    "ORDER BY a.applied_at DESC, a.id LIMIT 1"
)
_RECENT = "SELECT max(applied_at) - interval '90 days' FROM pattern_applications"
# The Access Patterns section's project_applications page (~20/s), on the partitioned copy.
_PAGE = "SELECT id, pattern_id, applied_at FROM {table} WHERE project_id = ?%s ORDER BY applied_at DESC, id DESC LIMIT 20"

PARTITIONING = Partitioning(
    chosen=BY_QUARTER,
    alternatives=(BY_YEAR, BY_PROJECT),
    probes=(
        Probe("project_applications: a project's page, newest first", _PAGE % "", _PROJECT),
        Probe(
            "the same page, bounded by the project's creation time",
            _PAGE % " AND applied_at >= ?",
            _PROJECT_SINCE,
        ),
        Probe(
            "recent activity: applications in the last 90 days",
            "SELECT count(*) FROM {table} WHERE applied_at >= ?",
            _RECENT,
        ),
        Probe(
            "a pattern's applications (what the cascade from patterns reads)",
            "SELECT count(*) FROM {table} WHERE pattern_id = ?",
            "SELECT id FROM patterns ORDER BY id LIMIT 1",
        ),
        Probe(
            "retention: delete the first year's applications",
            "DELETE FROM {table} WHERE applied_at < ?",
            "SELECT date_trunc('year', min(applied_at)) + interval '1 year' FROM pattern_applications",
            analyze=False,
        ),
        Probe(
            "recent activity, prepared (generic plan)",
            "SELECT count(*) FROM {table} WHERE applied_at >= ?",
            _RECENT,
            generic=True,
        ),
        Probe("project_applications, prepared (generic plan)", _PAGE % "", _PROJECT, generic=True),
    ),
)

_TENANT = "tenant"

DISTRIBUTION = Distribution(
    placements=(
        Placement(
            "projects",
            "distributed",
            "owner_id",
            _TENANT,
            "A user's projects, newest first (owner_id, keyset; the most frequent read, ~100/s), is one "
            "shard; so is everything that hangs off one user's projects.",
        ),
        Placement(
            "pattern_applications",
            "distributed",
            "owner_id",
            _TENANT,
            "The largest table; read by project and written with its project, so it lives on its "
            "project's shard, which needs the owner on every row.",
        ),
        Placement(
            "users",
            "reference",
            why="Referenced by every table and unique on lower(email) across all users, which only a "
            "reference table can enforce; templates (reference) reference it, which a distributed users "
            "would refuse.",
        ),
        Placement(
            "templates",
            "reference",
            why="Popular templates by category and full-text search read across all owners: small (10 k "
            "per SF) and replicated, both run on one node with their GIN and partial indexes.",
        ),
        Placement(
            "template_versions",
            "reference",
            why="A template with its version history is read with its template; as a reference table "
            "the join is local on any node.",
        ),
        Placement(
            "patterns",
            "reference",
            why="The most-used patterns of a template are read across owners and referenced by every "
            "application; replicated, the lookup and the foreign key stay local.",
        ),
        Placement(
            "audit_log",
            "distributed",
            "changed_by",
            _TENANT,
            "The feed of a user's own changes (by changed_by, ~10/s) is one shard, and co-located with the "
            "tenant the audit row of a user's change to their own project lands on that project's shard; "
            "one record's history (~1/min) reads all shards.",
        ),
        Placement(
            "schema_migrations",
            "local",
            why="The migration ledger: written by the runner on the coordinator, read by nobody else.",
        ),
        Placement(
            "schema_migration_repairs",
            "local",
            why="The ledger's record of accepted edits: written by `workbook repair` on the coordinator.",
        ),
        Placement(
            "migration_log",
            "local",
            why="The data-migration log: written by migrate_data_safely on the coordinator, one row per run.",
        ),
        Placement(
            "erasure_log",
            "local",
            why="One row per erased user, written by erase_user() and read by the auditor: tiny, kept where the "
            "request runs.",
        ),
    ),
    enable_unsafe_triggers=False,
    access=(
        Access("user_projects: a user's projects, newest first", reads=(("projects", ("owner_id",)),)),
        Access(
            "project_applications: a project's page (with its owner)",
            reads=(("projects", ("owner_id", "id")), ("pattern_applications", ("owner_id", "project_id"))),
        ),
        Access("popular_templates: by category", reads=(("templates", ("category",)),)),
        Access("search_templates: full-text search", reads=(("templates", ()),)),
        Access(
            "template_versions: a template with its history",
            reads=(("templates", ("id",)), ("template_versions", ("template_id",))),
        ),
        Access(
            "record_history: one record's audit history", reads=(("audit_log", ("table_name", "record_id")),)
        ),
        Access(
            "template_top_patterns: the most-used patterns of a template",
            reads=(("patterns", ("template_id",)), ("templates", ("id",))),
        ),
        Access("user_recent_changes: what did I change recently", reads=(("audit_log", ("changed_by",)),)),
        Access("create_project", writes=(("projects", ("owner_id",)),)),
        Access("apply_pattern", writes=(("pattern_applications", ("owner_id",)),)),
    ),
)
