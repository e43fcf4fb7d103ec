"""The design's caching: what each read pattern's cached pages cover, and the writes that prove it.

A cached page is keyed by its pattern and parameters; `SCOPES` says which rows a page covers, so a
write invalidates only the pages whose rows it touched (the audit trail names each changed row with
its old and new image). A table a pattern reads without a scope here invalidates all of its pages.
`workbook.cache` derives the rest (the columns each pattern reads, the columns each write changes)
and checks, on every build, that no page the rules keep has gone stale.
"""

from __future__ import annotations

from ..cache import Scope

SCOPES: dict[str, tuple[Scope, ...]] = {
    "user_projects": (Scope("projects", "owner_id", "owner"),),
    "popular_templates": (Scope("templates", "category", "category"),),
    "template_versions": (
        Scope("templates", "id", "template"),
        Scope("template_versions", "template_id", "template"),
    ),
    "project_applications": (Scope("pattern_applications", "project_id", "project"),),
    "record_history": (Scope("audit_log", "record_id", "record"),),
    "template_top_patterns": (Scope("patterns", "template_id", "template"),),
    "user_recent_changes": (Scope("audit_log", "changed_by", "actor"),),
}

# How each read pattern is cached, and why (the invalidation matrix in the document is the evidence).
POLICY = {
    "user_projects": "cache per owner; invalidate on a change to that owner's projects (the audit row names the owner)",
    "popular_templates": "cache per category for a minute (TTL): every applied pattern changes avg_pattern_usage, "
    "so invalidating on writes would empty it several times a second",
    "search_templates": "cache per query text for a minute (TTL): any template's text or status change can alter "
    "any result",
    "template_versions": "cache per template; invalidate on a new version (rare)",
    "project_applications": "cache per project; invalidate on an application to that project",
    "record_history": "do not cache: read rarely, by support staff, who need it current",
    "template_top_patterns": "cache per template; invalidate on an application of one of its patterns",
    "user_recent_changes": "cache per user; invalidate on that user's next change",
}

# Writes run for real against a cache of every read pattern's first pages (SQL, DuckDB queries for
# the values over the generated files). Each is a change the application makes.
WRITES = [
    (
        "a user creates a project from the most used template",
        "INSERT INTO projects (name, owner_id, template_id) VALUES ('cache probe', CAST(? AS uuid), CAST(? AS uuid))",
        [
            "SELECT owner_id FROM projects WHERE deleted_at IS NULL GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1",
            "SELECT id FROM templates WHERE deleted_at IS NULL ORDER BY project_count DESC, id LIMIT 1",
        ],
    ),
    (
        "a user applies the most used pattern to one of their projects",
        "INSERT INTO pattern_applications (project_id, pattern_id, applied_by) "
        "VALUES (CAST(? AS uuid), CAST(? AS uuid), CAST(? AS uuid))",
        [
            "SELECT a.project_id FROM pattern_applications a JOIN projects p ON p.id = a.project_id AND p.deleted_at IS NULL "
            "JOIN patterns q ON q.id = a.pattern_id AND q.deleted_at IS NULL ORDER BY q.usage_count DESC, a.id LIMIT 1",
            "SELECT a.pattern_id FROM pattern_applications a JOIN projects p ON p.id = a.project_id AND p.deleted_at IS NULL "
            "JOIN patterns q ON q.id = a.pattern_id AND q.deleted_at IS NULL ORDER BY q.usage_count DESC, a.id LIMIT 1",
            "SELECT p.owner_id FROM pattern_applications a JOIN projects p ON p.id = a.project_id AND p.deleted_at IS NULL "
            "JOIN patterns q ON q.id = a.pattern_id AND q.deleted_at IS NULL ORDER BY q.usage_count DESC, a.id LIMIT 1",
        ],
    ),
    (
        "an author renames the most used template",
        "UPDATE templates SET name = name || ' (renamed)' WHERE id = CAST(? AS uuid)",
        ["SELECT id FROM templates WHERE deleted_at IS NULL ORDER BY project_count DESC, id LIMIT 1"],
    ),
    (
        "a user deletes one of their projects",
        "SELECT soft_delete('projects', CAST(? AS uuid))",
        [
            "SELECT id FROM projects WHERE deleted_at IS NULL AND owner_id = (SELECT owner_id FROM projects "
            "WHERE deleted_at IS NULL GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1) ORDER BY updated_at DESC, id DESC LIMIT 1"
        ],
    ),
]
