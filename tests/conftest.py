"""Shared fixtures: engines built from the real migrations."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from hypothesis import settings
from hypothesis.database import DirectoryBasedExampleDatabase

from workbook import config, migrate
from workbook.catalog import read_catalog
from workbook.engines import DuckDBEngine

os.environ.setdefault("PLOOMBER_STATS_ENABLED", "false")
os.environ.setdefault("PLOOMBER_VERSION_CHECK_DISABLED", "true")

# `make test` and CI: hypothesis draws the same examples every run (derived from each test's name),
# keeps no example database and never fails on a random draw. `make fuzz` explores many more
# examples at random, keeps what it finds in .hypothesis/fuzz and reports it; a case it finds
# becomes an @example on the test, so the fixed profile runs it from then on.
settings.register_profile(
    "ci", max_examples=60, derandomize=True, database=None, deadline=None, print_blob=True
)
settings.register_profile(
    "fuzz",
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "1000")),
    deadline=None,
    database=DirectoryBasedExampleDatabase(str(config.PROJ_ROOT / ".hypothesis" / "fuzz")),
    print_blob=True,
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture
def migrations_copy(tmp_path: Path) -> Path:
    """A private copy of the migrations folder that a test may edit."""
    dest = tmp_path / "migrations"
    shutil.copytree(config.MIGRATIONS_DIR, dest)
    return dest


@pytest.fixture(scope="session")
def duck_catalog():
    """The catalog of a DuckDB database with every migration applied."""
    with DuckDBEngine() as db:
        migrate.migrate(db)
        yield read_catalog(db)


@pytest.fixture
def duck():
    """A fresh, fully migrated in-memory DuckDB engine."""
    with DuckDBEngine() as db:
        migrate.migrate(db)
        yield db
