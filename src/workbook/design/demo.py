"""The design's scripted sequence: one small story told through the write API on either engine.

A user signs up, authors a template with two patterns, starts a project from it, applies a pattern
twice, describes the project, soft-deletes it and restores it, and upserts their profile. (A
second template version is left out: DuckDB cannot change the version of a template that other rows
reference, disagreement E1; the Data Patterns section shows versioning on PostgreSQL.) The Data Patterns section runs it on both engines and compares
the audit rows they leave; tests do the same.
"""

from __future__ import annotations

from ..writes import Writer

SCHEMA = {"variables": [{"name": "app_name"}], "files": ["package.json", "src/App.jsx"]}


def scripted_sequence(w: Writer) -> dict[str, str]:
    """Run the story as `w`'s actor; returns the ids it created, by role."""
    ids: dict[str, str] = {}
    ids["user"] = w.insert("users", {"email": "ada@example.com", "name": "Ada", "role": "contributor"})
    ids["template"] = w.insert(
        "templates",
        {
            "name": "react-app",
            "description": "A React application starter",
            "category": "framework",
            "version": "1.0.0",
            "author_id": ids["user"],
            "schema": SCHEMA,
            "published": True,
        },
    )
    w.call("create_template_version", ids["template"], "1.0.0", SCHEMA, "First release", ids["user"])
    ids["eslint"] = w.insert(
        "patterns", {"name": "eslint", "description": "Adds ESLint", "template_id": ids["template"]}
    )
    ids["prettier"] = w.insert(
        "patterns", {"name": "prettier", "description": "Adds Prettier", "template_id": ids["template"]}
    )
    ids["project"] = w.insert(
        "projects", {"name": "storefront", "owner_id": ids["user"], "template_id": ids["template"]}
    )
    for _ in range(2):
        w.insert(
            "pattern_applications",
            {"project_id": ids["project"], "pattern_id": ids["eslint"], "applied_by": ids["user"]},
        )
    w.update("projects", ids["project"], {"description": "The shop's web front"})
    w.call("soft_delete", "projects", ids["project"])
    w.call("restore", "projects", ids["project"])
    w.upsert("users", {"id": ids["user"], "email": "ada@example.com", "name": "Ada Lovelace"})
    return ids
