"""The Quality Checklist: the seed's ten items, each tied to the named checks that prove it.

Every check is recorded by a notebook of the document (`nb.check(name, holds, detail)`), which fails
the build when it does not hold. The Quality Checklist section ticks an item only when every one of
its checks was recorded, and passed, in the build that made the document; an item whose checks did
not all run is shown unticked with what is missing.
"""

from __future__ import annotations

# name -> (section that records it, what it proves)
CHECKS: dict[str, tuple[str, str]] = {
    "entities-in-catalog": (
        "Conceptual Model",
        "every entity of the seed is a table of the live catalog",
    ),
    "relationships-in-catalog": (
        "Conceptual Model",
        "the seed's relationships (one-to-many, many-to-many, hierarchical, temporal) are foreign keys and columns of the catalog",
    ),
    "migrations-applied": (
        "Logical Model",
        "every migration file applied on both engines with its real sha256; re-running is a no-op",
    ),
    "names-and-comments": (
        "Logical Model",
        "every column has a comment; every constraint and index follows the naming convention",
    ),
    "dialect-gaps-from-run": (
        "Logical Model",
        "the dialect-gap table is the list of adaptations the DuckDB adapter made while it ran",
    ),
    "audit-replay": (
        "Data Patterns",
        "the audit log replays to the current state of every audited table, on both engines",
    ),
    "pattern-promises": (
        "Data Patterns",
        "every promise of the three data patterns holds natively on PostgreSQL",
    ),
    "access-claims": (
        "Access Patterns",
        "every plan claim of every access pattern holds (index used, no sort, estimates, oracle)",
    ),
    "quality-matrix": (
        "Data Quality",
        "every constraint rejects two violating rows and accepts a boundary row on both engines",
    ),
    "held-out-integrity": (
        "Data Quality",
        "a held-out set of invalid rows is rejected on PostgreSQL, and on DuckDB or by a stated gap",
    ),
    "seed-rules-enforced": (
        "Data Quality",
        "every rule the seed states is enforced by a named object of the catalog and exercised",
    ),
    "migration-faults": (
        "Migration Strategy",
        "a fault after every statement of every migration leaves the database as before",
    ),
    "migration-lint": ("Migration Strategy", "every squawk hit on every migration has a reviewed decision"),
    "synthetic-shape": (
        "Performance Considerations",
        "the synthetic data keeps its production shape (distributions, joint laws)",
    ),
    "indexes-serve-patterns": (
        "Performance Considerations",
        "every index serves an access pattern or is kept with a stated reason",
    ),
    "role-matrix": (
        "Security and Privacy",
        "every operation on every relation, run as every role, did what the grants declare",
    ),
    "rls-forced": (
        "Security and Privacy",
        "row-level security is enabled and forced where declared; policies, views, definer functions as declared",
    ),
    "rls-no-actor": (
        "Security and Privacy",
        "a session that names no acting user sees no row of any table with row-level security",
    ),
    "rls-cost": (
        "Security and Privacy",
        "with row-level security the user's-projects pattern reads the same index in order, without a sort",
    ),
    "pii-inventory": ("Security and Privacy", "every column of the catalog has a privacy class"),
    "erasure-no-trace": (
        "Security and Privacy",
        "after erasure no column of any table, the audit log included, holds the e-mail or name",
    ),
    "erasure-replay": (
        "Security and Privacy",
        "after erasure the audit log still replays to the current state",
    ),
    "injection": (
        "Security and Privacy",
        "hostile input to every dynamic SQL path is refused as intended and changes nothing",
    ),
    "schema-lint": (
        "Security and Privacy",
        "every schema-lint hit on the live catalog is fixed or explained",
    ),
    "findings-reproduce": (
        "Design Review Findings",
        "every finding's evidence was recomputed on every engine it applies to",
    ),
    "sections-complete": (
        "Quality Checklist",
        "every section of the document is a notebook that executed and recorded its checks",
    ),
}

# The seed's Quality Checklist, in its words and order, and the checks behind each item.
ITEMS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("All business entities identified", ("entities-in-catalog",)),
    ("Relationships clearly defined", ("relationships-in-catalog",)),
    (
        "Database schema documented",
        ("migrations-applied", "names-and-comments", "dialect-gaps-from-run", "schema-lint"),
    ),
    ("Data patterns implemented", ("audit-replay", "pattern-promises")),
    ("Access patterns optimized", ("access-claims", "indexes-serve-patterns", "rls-cost")),
    ("Integrity constraints defined", ("quality-matrix", "held-out-integrity", "seed-rules-enforced")),
    ("Migration strategy planned", ("migration-faults", "migration-lint")),
    ("Performance considerations addressed", ("synthetic-shape", "indexes-serve-patterns")),
    (
        "Security requirements met",
        (
            "role-matrix",
            "rls-forced",
            "rls-no-actor",
            "pii-inventory",
            "erasure-no-trace",
            "erasure-replay",
            "injection",
        ),
    ),
    ("Documentation complete", ("sections-complete", "findings-reproduce")),
)
