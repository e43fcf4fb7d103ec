"""`make bench-data`: how fast synthetic data is generated and loaded, against peers, in one run.

Prints one JSON object: generation rows/s at SF 1 (median of 3, each run into a fresh folder) and
whether the bytes are the same every run; Faker and Mimesis generating the same tables at the same
SF, and DuckDB's own TPC-H dbgen, as references; the PostgreSQL load against `psql \\copy` of the
same rows, interleaved (A B A B) with the ratio per pair; the DuckDB load with every constraint on,
beside the same rows inserted into unconstrained tables (where its time goes); peak memory of
generation at SF 1 and SF 10. Figures are measurements on a shared machine, never assertions.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from . import migrate, synth
from .engines import connect

SEED = 42
TARGETS = {
    "generate_rows_per_s": 3_000_000,
    "postgres_vs_psql_copy": 1.1,
    "duckdb_load_seconds_sf1": 10,
}


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def folder_bytes(folder: Path) -> int:
    return sum(f.stat().st_size for f in Path(folder).iterdir() if f.is_file())


def generation(sf: float, root: Path, repeats: int = 3) -> dict:
    """Median of `repeats` runs, each into a new folder (removing the last run is not timed)."""
    runs, digests, manifest = [], [], None
    for k in range(repeats):
        out = root / f"gen-{k}"
        t0 = time.perf_counter()
        manifest, _ = synth.generate(sf, SEED, out)
        runs.append(time.perf_counter() - t0)
        digests.append(manifest.sha256)
        if k < repeats - 1:
            shutil.rmtree(out)
    rows = sum(manifest.rows.values())
    med = statistics.median(runs)
    return {
        "sf": sf,
        "rows": rows,
        "bytes": folder_bytes(root / f"gen-{repeats - 1}"),
        "runs_s": [round(r, 3) for r in runs],
        "median_s": round(med, 3),
        "rows_per_s": round(rows / med),
        "byte_identical_every_run": all(d == digests[0] for d in digests),
        "folder": str(root / f"gen-{repeats - 1}"),
    }


def peak_rss(sf: float, out: Path) -> dict:
    """Generate in a child process and report its peak resident memory and time.

    The peak is the child's VmHWM: ru_maxrss of a child forked from a large parent can report the
    parent's size, VmHWM belongs to the child's own address space.
    """
    code = (
        "import re, sys, time\nfrom pathlib import Path\nfrom workbook import synth\n"
        f"t = time.perf_counter(); synth.generate({sf}, {SEED}, Path({str(out)!r}))\n"
        "print(time.perf_counter() - t)\n"
        "print(re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    seconds, kib = done.stdout.strip().splitlines()[-2:]
    rows = sum(synth.read_manifest(out).rows.values())
    return {
        "sf": sf,
        "rows": rows,
        "peak_rss_mib": round(int(kib) / 1024, 1),
        "seconds": round(float(seconds), 2),
        "rows_per_s": round(rows / float(seconds)),
        "bytes": folder_bytes(out),
    }


def duckdb_load(folder: Path, root: Path) -> dict:
    """The DuckDB load with every constraint on, and the same rows into tables with none (the floor)."""
    path = root / "load.duckdb"
    with connect("duckdb", path) as db:
        migrate.migrate(db)
        phases: dict[str, float] = {}
        t0 = time.perf_counter()
        counts = synth.load_duckdb(db, folder, timings=phases)
        seconds = time.perf_counter() - t0
        constraints = db.fetchall(
            "SELECT table_name, count(*) FILTER (WHERE constraint_type IN ('PRIMARY KEY', 'UNIQUE', 'FOREIGN KEY')) "
            "FROM duckdb_constraints() GROUP BY 1"
        )
        indexes = dict(db.fetchall("SELECT table_name, count(*) FROM duckdb_indexes() GROUP BY 1"))
    rows = sum(counts.values())
    for f in root.glob("load.duckdb*"):
        f.unlink()
    # The floor: the same INSERT ... SELECT from the same files into tables of the same columns and no
    # constraint or index, in one transaction, then a CHECKPOINT.
    bare = root / "bare.duckdb"
    import duckdb

    con = duckdb.connect(str(bare))
    t0 = time.perf_counter()
    con.execute("BEGIN")
    for t in synth.LOAD_ORDER:
        con.execute(f"CREATE TABLE {t} AS SELECT * FROM read_parquet('{folder / f'{t}.parquet'}')")
    con.execute("COMMIT")
    con.execute("CHECKPOINT")
    floor = time.perf_counter() - t0
    con.close()
    for f in root.glob("bare.duckdb*"):
        f.unlink()
    arts = {t: n + indexes.get(t, 0) for t, n in constraints}
    return {
        "rows": rows,
        "load_seconds": round(seconds, 2),
        "load_rows_per_s": round(rows / seconds),
        "phases_s": {k: round(v, 2) for k, v in phases.items()},
        "unconstrained_same_rows_seconds": round(floor, 2),
        "constraint_share_of_time": round(1 - floor / seconds, 3),
        "art_indexes_per_table": arts,
        "load_includes": "sha256 of every file, INSERT of every table in one transaction with every key, "
        "foreign key, CHECK and index on, COMMIT, CHECKPOINT",
    }


def sf10_disk(root: Path) -> tuple[bool, str]:
    """Whether SF 10 fits on the disk under `root`, estimated from an SF 0.01 run (never by trying)."""
    synth.generate(0.01, SEED, root / "probe")
    need = int(folder_bytes(root / "probe") * 1000 * 1.25) + (256 << 20)  # 1000 x SF 0.01, and headroom
    shutil.rmtree(root / "probe")
    free = shutil.disk_usage(root).free
    if free >= need:
        return True, f"SF 10 needs about {need / 1024**3:.1f} GiB; {free / 1024**3:.1f} GiB free"
    return False, (
        f"only {free / 1024**3:.1f} GiB free in {root}, SF 10 needs about {need / 1024**3:.1f} GiB: "
        "the SF 10 figure is skipped"
    )


def main() -> int:
    report: dict = {"machine": {"cpus": os.cpu_count()}, "targets": TARGETS}
    with tempfile.TemporaryDirectory(prefix="workbook-bench-") as tmp:
        root = Path(tmp)
        sf10, disk = sf10_disk(root)
        say(disk)
        say("generating SF 1 (3 runs, each into a fresh folder)...")
        gen = generation(1, root / "sf1")
        report["generate_sf1"] = gen
        sf1 = Path(gen.pop("folder"))

        from . import bench_peers

        say("peers: ours, Faker and Mimesis on the same tables at the same SF...")
        report["peers_same_tables"] = bench_peers.compare(bench_peers.COMPARE_SF, SEED, root / "peers")
        say("DuckDB's TPC-H dbgen (set-based reference)...")
        report["duckdb_tpch_dbgen"] = bench_peers.tpch_dbgen(1)

        from . import bench_pgload

        say("PostgreSQL load vs psql \\copy, interleaved...")
        report["postgres_load_sf1"] = bench_pgload.versus_psql(sf1, pairs=4)

        say("DuckDB load of SF 1 with every constraint on, and into unconstrained tables...")
        report["duckdb_load_sf1"] = duckdb_load(sf1, root)
        shutil.rmtree(sf1.parent)

        say("peak memory of generation at SF 1 and SF 10 (child processes)...")
        report["peak_rss_sf1"] = peak_rss(1, root / "rss1")
        shutil.rmtree(root / "rss1")
        if sf10:
            report["peak_rss_sf10"] = peak_rss(10, root / "rss10")
            shutil.rmtree(root / "rss10")
        else:
            report["peak_rss_sf10"] = {"skipped": disk}
    report["met"] = {
        "generate_rows_per_s": report["generate_sf1"]["rows_per_s"] >= TARGETS["generate_rows_per_s"],
        "postgres_vs_psql_copy": report["postgres_load_sf1"].get("median_ratio", 0)
        >= TARGETS["postgres_vs_psql_copy"],
        "duckdb_load_seconds_sf1": report["duckdb_load_sf1"]["load_seconds"]
        <= TARGETS["duckdb_load_seconds_sf1"],
    }
    report["self_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
