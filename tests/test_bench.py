"""`make bench-data`'s decisions that are not measurements: what fits on the disk, checked before anything."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from workbook import bench

SMALL_DISK = """
set -e
mount -t tmpfs -o size=64m tmpfs "$1"
{python} -c "
from pathlib import Path
from workbook import bench
ok, message = bench.sf10_disk(Path('$1'))
print(ok)
print(message)
"
ls -A "$1"
"""


def test_sf10_is_skipped_up_front_on_a_small_disk(tmp_path):
    """A real 64 MiB file system (a tmpfs in a private namespace): SF 10 would not fit, so it is not tried."""
    if not shutil.which("unshare") or subprocess.run(["unshare", "-rm", "true"]).returncode != 0:
        pytest.skip("this machine cannot make a private mount namespace (unshare -rm)")
    done = subprocess.run(
        ["unshare", "-rm", "sh", "-c", SMALL_DISK.format(python=sys.executable), "sh", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    ok, message, *left = done.stdout.splitlines()
    assert ok == "False"
    assert message.startswith(f"only 0.1 GiB free in {tmp_path}") and message.endswith(
        "the SF 10 figure is skipped"
    )
    assert left == [], "the probe leaves nothing behind"


def test_sf10_runs_where_it_fits(tmp_path, monkeypatch):
    class Usage:
        free = 100 * 1024**3

    monkeypatch.setattr(bench.shutil, "disk_usage", lambda path: Usage)
    ok, message = bench.sf10_disk(tmp_path)
    assert ok and "SF 10 needs about" in message
    assert list(tmp_path.iterdir()) == []
