"""DuckDB extensions load offline from their pinned packages, into every connection the workbook opens."""

from __future__ import annotations

import os
import subprocess
import sys

import duckdb
import pytest

from workbook import duckext
from workbook.errors import WorkbookError

SEARCH = """
from workbook.engines import connect
db = connect("duckdb")
db.execute("LOAD fts")  # what a reviewer types: a no-op once the workbook has loaded it
db.execute("CREATE TABLE t AS SELECT * FROM (VALUES (1, 'react app with docker'), (2, 'python cli')) v(id, body)")
db.execute("PRAGMA create_fts_index('t', 'id', 'body')")
print(db.fetchall("SELECT id FROM t WHERE fts_main_t.match_bm25(id, 'docker') IS NOT NULL"))
"""


def test_fts_works_with_no_extension_directory_and_no_network(tmp_path):
    """HOME is an empty folder: nothing under ~/.duckdb, and DuckDB may not install anything."""
    env = {**os.environ, "HOME": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-c", SEARCH], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[(1,)]"
    assert not (tmp_path / ".duckdb").exists(), "nothing was installed into the user's home"


def test_plain_duckdb_cannot_load_fts_offline(tmp_path):
    """The defect being fixed: `LOAD fts` on its own looks in ~/.duckdb and fails."""
    env = {**os.environ, "HOME": str(tmp_path)}
    code = "import duckdb; duckdb.connect(config={'autoinstall_known_extensions': False}).execute('LOAD fts')"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode != 0 and "fts" in done.stderr


def test_tpch_loads_on_request():
    con = duckdb.connect()
    duckext.load(con, "tpch")
    con.execute("CALL dbgen(sf = 0.001)")
    assert con.execute("SELECT count(*) FROM nation").fetchone()[0] == 25


def test_an_unknown_extension_is_one_line():
    with pytest.raises(WorkbookError, match="DuckDB extension spatial: its package"):
        duckext.path("spatial")
