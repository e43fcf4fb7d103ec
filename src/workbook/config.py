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


def pg_dsn_from_env() -> str | None:
    """The external PostgreSQL DSN from WORKBOOK_PG_DSN or the standard PG* variables, if any."""
    dsn = os.environ.get("WORKBOOK_PG_DSN")
    if dsn:
        return dsn
    if os.environ.get("PGHOST") or os.environ.get("PGDATABASE") or os.environ.get("PGSERVICE"):
        return ""  # libpq reads the PG* variables itself
    return None
