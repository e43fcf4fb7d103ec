"""The design's access patterns: the questions the system answers, read as one list.

Each pattern says who asks it and how often (so an index's read benefit can be weighed against its
write cost), its SQL on each engine (the seed's query as written, where the seed has one, and the
corrected query), parameter cases drawn from the generated data (the extremes included), an
independent computation of the answer from the Parquet files, and the claims every build checks.
`workbook.access` runs them; the Access Patterns section of the document is built from them.
"""

from __future__ import annotations

from .. import seed
from ..access import (
    SQL,
    Case,
    EqualsOracle,
    EstimateWithin,
    NoSeqScan,
    NoSort,
    Page,
    Param,
    Pattern,
    SameOnBothEngines,
    Triggers,
    UsesIndex,
)

PAGE = 20  # rows per page of every paginated pattern

# Parameter cases: DuckDB queries over the generated Parquet files (a view per table).
LIVE_OWNERS = "SELECT owner_id, count(*) AS n FROM projects WHERE deleted_at IS NULL GROUP BY owner_id"
HEAVIEST_OWNER = f"SELECT owner_id FROM ({LIVE_OWNERS}) ORDER BY n DESC, owner_id LIMIT 1"
MEDIAN_OWNER = (
    f"SELECT owner_id FROM ({LIVE_OWNERS}) ORDER BY n, owner_id "
    f"LIMIT 1 OFFSET (SELECT count(*) // 2 FROM ({LIVE_OWNERS}))"
)
CATEGORIES = (
    "SELECT category, count(*) AS n FROM templates WHERE published AND deleted_at IS NULL GROUP BY category"
)
WORDS = """SELECT word, count(*) AS n FROM (
               SELECT unnest(regexp_split_to_array(lower(name || ' ' || description), '[^a-z]+')) AS word
               FROM templates WHERE published AND deleted_at IS NULL)
           WHERE length(word) >= 3 AND word NOT IN ('and', 'with', 'the', 'for') GROUP BY word"""
MOST_VERSIONS = """SELECT template_id FROM template_versions GROUP BY template_id
                   ORDER BY count(*) DESC, template_id LIMIT 1"""
MOST_APPLIED_TEMPLATE = """SELECT q.template_id FROM patterns AS q WHERE q.deleted_at IS NULL
                           GROUP BY q.template_id ORDER BY sum(q.usage_count) DESC, q.template_id LIMIT 1"""
BUSIEST_AUTHOR = (
    "SELECT changed_by FROM audit_log GROUP BY changed_by ORDER BY count(*) DESC, changed_by LIMIT 1"
)
AUDITED_TEMPLATE = (
    "SELECT record_id FROM audit_log WHERE table_name = 'templates' ORDER BY changed_at, id LIMIT 1"
)

# The full-text document the design stores and indexes (ix_templates_search) and the query of user text.
DOCUMENT = "t.search_vector"  # to_tsvector('english', name || ' ' || description), stored (V0019)
QUERY = "websearch_to_tsquery('english', :q)"
PG_MATCH = f"""SELECT t.id, t.name, t.description, t.category, ts_rank({DOCUMENT}, {QUERY}) AS relevance
               FROM templates AS t
               WHERE {DOCUMENT} @@ {QUERY} AND t.published AND t.deleted_at IS NULL"""
DUCK_MATCH = """SELECT * FROM (
                    SELECT t.id, t.name, t.description, t.category,
                           fts_main_templates.match_bm25(t.id, :q, conjunctive := 1) AS relevance
                    FROM templates AS t WHERE t.published AND t.deleted_at IS NULL)
                WHERE relevance IS NOT NULL"""
AFTER_RELEVANCE = """WHERE m.relevance < CAST(:after_relevance AS {t})
                        OR (m.relevance = CAST(:after_relevance AS {t}) AND m.id > CAST(:after_id AS uuid))"""

# What each engine needs once the data is loaded: DuckDB's full-text index is built, not maintained.
PREPARE = {
    "postgres": [],
    "duckdb": [
        "PRAGMA create_fts_index('templates', 'id', 'name', 'description', stemmer = 'english', overwrite = 1)"
    ],
}


def _seed(number: int, params: dict[str, str] | None = None) -> str:
    """The seed's query `number` (1-based among its three) as the seed writes it, `$n` renamed to `:name`."""
    text = seed.queries()[number - 1].sql
    for old, new in (params or {}).items():
        text = text.replace(old, new)
    return text


USER_PROJECTS = """SELECT p.id, p.name, p.description, t.name AS template_name, t.category AS template_category,
       p.created_at, p.updated_at
FROM projects AS p
LEFT JOIN templates AS t ON t.id = p.template_id
WHERE p.owner_id = CAST(:owner AS uuid) AND p.deleted_at IS NULL{after}
ORDER BY p.updated_at DESC, p.id DESC
LIMIT {page}"""

POPULAR = """SELECT t.id, t.name, t.description, t.category, t.project_count,
       (SELECT avg(q.usage_count) FROM patterns AS q
        WHERE q.template_id = t.id AND q.deleted_at IS NULL) AS avg_pattern_usage
FROM templates AS t
WHERE t.category = :category AND t.published AND t.deleted_at IS NULL{after}
ORDER BY t.project_count DESC, t.id
LIMIT {page}"""
POPULAR_AFTER = """
  AND (t.project_count < CAST(:after_project_count AS INTEGER)
       OR (t.project_count = CAST(:after_project_count AS INTEGER) AND t.id > CAST(:after_id AS uuid)))"""

PATTERNS = [
    Pattern(
        "user_projects",
        "What are my projects, most recently changed first?",
        "every signed-in user, on the dashboard",
        "very high: every dashboard view (~100/s at 10k active users)",
        "The seed's query 1. The heaviest owner has thousands of live projects, so the corrected query pages "
        "with a keyset (updated_at, id) and an index in that order, which gives the first page without "
        "reading the rest.",
        SQL(USER_PROJECTS.format(after="", page=PAGE)),
        (Param("owner", "uuid"),),
        (Case("median owner", {"owner": MEDIAN_OWNER}), Case("heaviest owner", {"owner": HEAVIEST_OWNER})),
        seed=SQL(_seed(1, {"$1": "CAST(:owner AS uuid)"})),
        seed_defects="returns every live project of the owner at once (no page), orders by updated_at alone "
        "(equal times come back in any order, so pages could not be cut), and leaves out updated_at, the sort key "
        "a client would need to ask for the next page",
        page=Page(
            PAGE,
            ("updated_at", "id"),
            SQL(
                USER_PROJECTS.format(
                    after="\n  AND (p.updated_at, p.id) < (CAST(:after_updated_at AS timestamptz), CAST(:after_id AS uuid))",
                    page=PAGE,
                )
            ),
        ),
        oracle=f"""WITH mine AS (
                       SELECT *, row_number() OVER (ORDER BY updated_at DESC, id DESC) AS k FROM projects
                       WHERE owner_id = CAST(:owner AS uuid) AND deleted_at IS NULL)
                   SELECT m.id, m.name, m.description, t.name, t.category, m.created_at, m.updated_at
                   FROM mine AS m LEFT JOIN templates AS t ON t.id = m.template_id WHERE m.k <= {PAGE} ORDER BY m.k""",
        claims=(
            UsesIndex("ix_projects_owner_live_recent", cases=("heaviest owner",)),
            NoSort(100),
            NoSeqScan("projects"),
            EstimateWithin(10),
            SameOnBothEngines(),
            EqualsOracle(),
        ),
    ),
    Pattern(
        "popular_templates",
        "Which published templates of this category are used most?",
        "anyone browsing the template gallery",
        "high: every gallery page (~10/s)",
        "The seed's query 2. Counting projects on every request joins every project and every pattern of every "
        "template; the design keeps the count on the template (templates.project_count, V0017) and reads a "
        "category's first page from an index in (category, project_count, id) order.",
        SQL(POPULAR.format(after="", page=PAGE)),
        (Param("category", "text"),),
        (
            Case(
                "largest category",
                {"category": f"SELECT category FROM ({CATEGORIES}) ORDER BY n DESC, category LIMIT 1"},
            ),
            Case(
                "smallest category",
                {"category": f"SELECT category FROM ({CATEGORIES}) ORDER BY n, category LIMIT 1"},
            ),
        ),
        seed=SQL(_seed(2)),
        seed_defects="multiplies each template's project count by its number of patterns (it joins projects and "
        "patterns to the template in one GROUP BY), counts deleted projects and averages deleted patterns, has no "
        "category filter although it answers 'by category', returns every published template unpaged, and breaks "
        "ties by a number that can tie again",
        page=Page(PAGE, ("project_count", "id"), SQL(POPULAR.format(after=POPULAR_AFTER, page=PAGE))),
        oracle=f"""WITH live AS (SELECT template_id, count(*) AS n FROM projects
                                 WHERE deleted_at IS NULL AND template_id IS NOT NULL GROUP BY template_id),
                        applied AS (SELECT pattern_id, count(*) AS n FROM pattern_applications GROUP BY pattern_id),
                        usage AS (SELECT q.template_id, avg(coalesce(a.n, 0)) AS a FROM patterns AS q
                                  LEFT JOIN applied AS a ON a.pattern_id = q.id
                                  WHERE q.deleted_at IS NULL GROUP BY q.template_id)
                   SELECT t.id, t.name, t.description, t.category, coalesce(l.n, 0) AS n, u.a
                   FROM templates AS t LEFT JOIN live AS l ON l.template_id = t.id
                   LEFT JOIN usage AS u ON u.template_id = t.id
                   WHERE t.category = :category AND t.published AND t.deleted_at IS NULL
                   ORDER BY n DESC, t.id LIMIT {PAGE}""",
        claims=(
            UsesIndex("ix_templates_popular"),
            NoSeqScan("projects", above=0),
            NoSeqScan("patterns", above=10_000),
            SameOnBothEngines(),
            EqualsOracle(),
        ),
    ),
    Pattern(
        "search_templates",
        "Which published templates match the words I typed?",
        "anyone searching the template gallery",
        "medium: every search box submission (~5/s)",
        "The seed's query 3. User text goes through websearch_to_tsquery, which accepts anything a person types "
        "(quotes, -, or) and never raises; the match uses the indexed expression; results come a page at a time, "
        "ranked, with the id as the tie-break.",
        SQL(
            f"SELECT * FROM ({PG_MATCH}) AS m ORDER BY m.relevance DESC, m.id LIMIT {PAGE}",
            f"SELECT * FROM ({DUCK_MATCH}) AS m ORDER BY m.relevance DESC, m.id LIMIT {PAGE}",
        ),
        (Param("q", "search"),),
        (
            Case("rare word", {"q": f"SELECT word FROM ({WORDS}) ORDER BY n, word LIMIT 1"}),
            Case("common word", {"q": f"SELECT word FROM ({WORDS}) ORDER BY n DESC, word LIMIT 1"}),
        ),
        seed=SQL(_seed(3, {"$1": ":q"}), same=False),
        seed_defects="parses user text with to_tsquery, which raises on ordinary input such as 'feature flags' or "
        "'c++'; returns every match unpaged; breaks ties by name, which is not unique; and the seed's own GIN index "
        "covers name only, so it never serves this query (F08)",
        page=Page(
            PAGE,
            ("relevance", "id"),
            SQL(
                f"SELECT * FROM ({PG_MATCH}) AS m {AFTER_RELEVANCE.format(t='real')} "
                f"ORDER BY m.relevance DESC, m.id LIMIT {PAGE}",
                f"SELECT * FROM ({DUCK_MATCH}) AS m {AFTER_RELEVANCE.format(t='double')} "
                f"ORDER BY m.relevance DESC, m.id LIMIT {PAGE}",
            ),
        ),
        claims=(
            UsesIndex("ix_templates_search", cases=("rare word",)),
            SameOnBothEngines(
                ordered=False,
                columns=("id",),
                sql=SQL(f"SELECT id FROM ({PG_MATCH}) AS m", f"SELECT id FROM ({DUCK_MATCH}) AS m"),
            ),
        ),
    ),
    Pattern(
        "template_versions",
        "What versions does this template have, newest first?",
        "anyone opening a template's page",
        "medium: every template page (~5/s)",
        "The seed keeps template_versions but reads it nowhere; a template page shows its history.",
        SQL(
            """SELECT t.id, t.name, t.version AS current_version, v.version, v.changelog, v.created_at
FROM templates AS t
JOIN template_versions AS v ON v.template_id = t.id
WHERE t.id = CAST(:template AS uuid)
ORDER BY v.created_at DESC, v.version DESC"""
        ),
        (Param("template", "uuid"),),
        (Case("template with most versions", {"template": MOST_VERSIONS}),),
        oracle="""SELECT t.id, t.name, t.version, v.version, v.changelog, v.created_at
                  FROM template_versions AS v, templates AS t
                  WHERE v.template_id = CAST(:template AS uuid) AND t.id = v.template_id
                  ORDER BY v.created_at DESC, v.version DESC""",
        claims=(UsesIndex("uq_template_versions_template_id_version"), SameOnBothEngines(), EqualsOracle()),
    ),
    Pattern(
        "project_applications",
        "Which patterns were applied to this project, most recent first?",
        "a project's owner, on the project page",
        "high: every project page (~20/s)",
        "The seed's many-to-many between projects and patterns goes through pattern_applications; the project "
        "page lists it, a page at a time, by the index that leads with project_id.",
        SQL(
            f"""SELECT a.id, q.name AS pattern_name, a.applied_at
FROM pattern_applications AS a
JOIN patterns AS q ON q.id = a.pattern_id
WHERE a.project_id = CAST(:project AS uuid)
ORDER BY a.applied_at DESC, a.id DESC
LIMIT {PAGE}"""
        ),
        (Param("project", "uuid"),),
        (
            Case(
                "project with most applications",
                {
                    "project": """SELECT project_id FROM pattern_applications GROUP BY project_id
                                  ORDER BY count(*) DESC, project_id LIMIT 1"""
                },
            ),
        ),
        oracle=f"""SELECT a.id, q.name, a.applied_at FROM pattern_applications AS a, patterns AS q
                   WHERE q.id = a.pattern_id AND a.project_id = CAST(:project AS uuid)
                   ORDER BY a.applied_at DESC, a.id DESC LIMIT {PAGE}""",
        claims=(
            UsesIndex("ix_pattern_applications_project_id_applied_at"),
            NoSeqScan("pattern_applications"),
            SameOnBothEngines(),
            EqualsOracle(),
        ),
    ),
    Pattern(
        "record_history",
        "Who changed this record, when, and how?",
        "support staff and auditors",
        "low: on request (~1/min)",
        "The audit trail is written on every change; reading one record's history is what it is for.",
        SQL(
            """SELECT seq, operation, changed_by, changed_at, old_values, new_values
FROM audit_log
WHERE table_name = :table_name AND record_id = CAST(:record AS uuid)
ORDER BY seq"""
        ),
        (Param("table_name", "text"), Param("record", "uuid")),
        (Case("a template", {"table_name": "SELECT 'templates'", "record": AUDITED_TEMPLATE}),),
        oracle=None,
        claims=(
            UsesIndex("ix_audit_log_table_name_record_id"),
            SameOnBothEngines(columns=("seq", "operation", "changed_by")),
        ),
    ),
    Pattern(
        "template_top_patterns",
        "Which patterns of this template are applied most?",
        "anyone opening a template's page",
        "medium: every template page (~5/s)",
        "usage_count exists to rank a template's patterns; the seed indexes it across all patterns instead.",
        SQL(
            f"""SELECT q.id, q.name, q.usage_count
FROM patterns AS q
WHERE q.template_id = CAST(:template AS uuid) AND q.deleted_at IS NULL
ORDER BY q.usage_count DESC, q.id
LIMIT {PAGE}"""
        ),
        (Param("template", "uuid"),),
        (Case("most applied template", {"template": MOST_APPLIED_TEMPLATE}),),
        oracle=f"""SELECT q.id, q.name, count(a.id) AS n FROM patterns AS q
                   LEFT JOIN pattern_applications AS a ON a.pattern_id = q.id
                   WHERE q.template_id = CAST(:template AS uuid) AND q.deleted_at IS NULL
                   GROUP BY q.id, q.name ORDER BY n DESC, q.id LIMIT {PAGE}""",
        claims=(UsesIndex("uq_patterns_template_id_name"), SameOnBothEngines(), EqualsOracle()),
    ),
    Pattern(
        "user_recent_changes",
        "What did I change recently?",
        "every signed-in user, on the activity feed",
        "medium: every activity feed view (~10/s)",
        "An activity feed reads the audit trail by actor, newest first, a page at a time.",
        SQL(
            f"""SELECT seq, table_name, record_id, operation, changed_at
FROM audit_log
WHERE changed_by = CAST(:actor AS uuid)
ORDER BY seq DESC
LIMIT {PAGE}"""
        ),
        (Param("actor", "uuid"),),
        (Case("busiest author", {"actor": BUSIEST_AUTHOR}),),
        page=Page(
            PAGE,
            ("seq",),
            SQL(
                f"""SELECT seq, table_name, record_id, operation, changed_at
FROM audit_log
WHERE changed_by = CAST(:actor AS uuid) AND seq < CAST(:after_seq AS BIGINT)
ORDER BY seq DESC
LIMIT {PAGE}"""
            ),
        ),
        claims=(
            UsesIndex("ix_audit_log_changed_by"),
            SameOnBothEngines(columns=("table_name", "record_id", "operation")),
        ),
    ),
    Pattern(
        "create_project",
        "A user creates a project from a template.",
        "every signed-in user",
        "low: a few per user per month (~1/s in all)",
        "The write the read patterns make expensive: every index on projects, the audit row and the template's "
        "project count are paid here.",
        SQL(
            """INSERT INTO projects (name, owner_id, template_id)
VALUES (:name, CAST(:owner AS uuid), CAST(:template AS uuid))"""
        ),
        (Param("name", "text"), Param("owner", "uuid"), Param("template", "uuid")),
        (
            Case(
                "heaviest owner, most used template",
                {
                    "name": "SELECT 'design review probe'",
                    "owner": HEAVIEST_OWNER,
                    "template": "SELECT id FROM templates WHERE deleted_at IS NULL ORDER BY project_count DESC, id LIMIT 1",
                },
            ),
        ),
        claims=(Triggers(("trg_projects_audit", "trg_projects_template_count")),),
        write=True,
    ),
    Pattern(
        "apply_pattern",
        "A user applies a pattern to one of their projects.",
        "every signed-in user",
        "medium: several per project (~3/s in all)",
        "The write behind usage_count: the application row, its indexes, the pattern's count and two audit rows.",
        SQL(
            """INSERT INTO pattern_applications (project_id, pattern_id, applied_by)
VALUES (CAST(:project AS uuid), CAST(:pattern AS uuid), CAST(:actor AS uuid))"""
        ),
        (Param("project", "uuid"), Param("pattern", "uuid"), Param("actor", "uuid")),
        (
            Case(
                "most applied pattern",
                {
                    "project": """SELECT a.project_id FROM pattern_applications AS a
                                  JOIN projects AS p ON p.id = a.project_id AND p.deleted_at IS NULL
                                  JOIN patterns AS q ON q.id = a.pattern_id AND q.deleted_at IS NULL
                                  ORDER BY q.usage_count DESC, a.id LIMIT 1""",
                    "pattern": """SELECT a.pattern_id FROM pattern_applications AS a
                                  JOIN projects AS p ON p.id = a.project_id AND p.deleted_at IS NULL
                                  JOIN patterns AS q ON q.id = a.pattern_id AND q.deleted_at IS NULL
                                  ORDER BY q.usage_count DESC, a.id LIMIT 1""",
                    "actor": """SELECT p.owner_id FROM pattern_applications AS a
                                JOIN projects AS p ON p.id = a.project_id AND p.deleted_at IS NULL
                                JOIN patterns AS q ON q.id = a.pattern_id AND q.deleted_at IS NULL
                                ORDER BY q.usage_count DESC, a.id LIMIT 1""",
                },
            ),
        ),
        claims=(Triggers(("trg_pattern_applications_audit", "trg_pattern_applications_usage_count")),),
        write=True,
    ),
]

# Index changes weighed against the patterns ("what if"): each is applied in a transaction that is
# rolled back, and every read pattern is planned again. The first two are the indexes V0017 added,
# taken away; the others are candidates this design considered and did not adopt.
# Indexes the design keeps although no pattern above reads them, each with its reason.
KEPT_WITHOUT_A_PATTERN = {
    "ix_templates_tags": "the seed's array search on templates.tags (`tags @> ARRAY[...]`, V0023); the synthetic "
    "data does not generate tags yet, so no pattern here can measure it",
    "ix_patterns_template_id": "serves the foreign key, not a read: deleting a template cascades to its patterns "
    "and restore() brings them back by template_id (V0027; the schema lint's fk-without-index)",
}

WHAT_IF = [
    ("without ix_projects_owner_live_recent (V0017)", "DROP INDEX ix_projects_owner_live_recent"),
    ("without ix_templates_popular (V0017)", "DROP INDEX ix_templates_popular"),
    (
        "with the seed's ix_projects_updated_at again",
        "CREATE INDEX ix_projects_updated_at ON projects (updated_at DESC)",
    ),
    (
        "with audit_log (changed_by, seq) for the activity feed",
        "CREATE INDEX ix_audit_log_changed_by_seq ON audit_log (changed_by, seq)",
    ),
    (
        "with patterns (template_id, usage_count, id) over live rows",
        "CREATE INDEX ix_patterns_template_usage ON patterns (template_id, usage_count DESC, id) WHERE deleted_at IS NULL",
    ),
]
