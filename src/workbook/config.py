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

# The document follows the seed's section order; a notebook's file number need not (04 holds the test
# data of Performance Considerations). Notebooks not listed here follow, in file-name order.
DOC_ORDER = [
    "00-overview",
    "01-conceptual-model",
    "02-logical-model",
    "06-data-quality",
    "04-synthetic-data",
    "90-design-review",
]


NOTEBOOK_GLOB = "[0-9][0-9]-*.ipynb"


def document_notebooks() -> list[Path]:
    """The notebooks of the design document, in document order."""
    found = sorted(NOTEBOOKS_DIR.glob(NOTEBOOK_GLOB))
    rank = {name: i for i, name in enumerate(DOC_ORDER)}
    return sorted(found, key=lambda p: (rank.get(p.stem, len(rank)), p.name))


def pg_dsn_from_env() -> str | None:
    """The external PostgreSQL DSN from WORKBOOK_PG_DSN or the standard PG* variables, if any."""
    dsn = os.environ.get("WORKBOOK_PG_DSN")
    if dsn:
        return dsn
    if os.environ.get("PGHOST") or os.environ.get("PGDATABASE") or os.environ.get("PGSERVICE"):
        return ""  # libpq reads the PG* variables itself
    return None
