"""Shared fixtures: engines built from the real migrations."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from workbook import config, migrate
from workbook.catalog import read_catalog
from workbook.engines import DuckDBEngine

os.environ.setdefault("PLOOMBER_STATS_ENABLED", "false")
os.environ.setdefault("PLOOMBER_VERSION_CHECK_DISABLED", "true")


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
