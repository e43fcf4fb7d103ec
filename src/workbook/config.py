"""One place that knows the project's paths and settings."""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
PROJ_ROOT = PACKAGE_DIR.parents[1]
DATA_DIR = PROJ_ROOT / "data"
NOTEBOOKS_DIR = PROJ_ROOT / "notebooks"
DOCS_DIR = PROJ_ROOT / "docs"
DESIGN_DOC = DOCS_DIR / "helix" / "02-design" / "data-design.md"
MIGRATIONS_DIR = PACKAGE_DIR / "migrations"
SEED_PROMPT = PACKAGE_DIR / "seed_prompt.md"
DEFAULT_DUCKDB_PATH = DATA_DIR / "workbook.duckdb"

# The document's sections in the seed's order, then this workbook's own. Notebook NN is section
# SECTIONS[NN] and its H1 title is that section's name; numbers of sections still to come stay free.
# Notebooks that do not match NOTEBOOK_GLOB (the start page) are not part of the document.
SECTIONS = (
    "Overview",
    "Conceptual Model",
    "Logical Model",
    "Data Patterns",
    "Access Patterns",
    "Data Quality",
    "Migration Strategy",
    "Performance Considerations",
    "Security and Privacy",
    "Design Review Findings",
    "Quality Checklist",
)
NOTEBOOK_GLOB = "[0-9][0-9]-*.ipynb"
START_PAGE = NOTEBOOKS_DIR / "start-here.ipynb"


def document_notebooks() -> list[Path]:
    """The notebooks of the design document, in document order (their file names)."""
    return sorted(NOTEBOOKS_DIR.glob(NOTEBOOK_GLOB))


def pg_dsn_from_env() -> str | None:
    """The external PostgreSQL DSN from WORKBOOK_PG_DSN or the standard PG* variables, if any."""
    dsn = os.environ.get("WORKBOOK_PG_DSN")
    if dsn:
        return dsn
    if os.environ.get("PGHOST") or os.environ.get("PGDATABASE") or os.environ.get("PGSERVICE"):
        return ""  # libpq reads the PG* variables itself
    return None
