"""`make bench-data`: synthetic data throughput, a Faker baseline, PostgreSQL COPY and peak memory.

Prints one JSON object. Figures are medians of repeated runs in this one process (generation) or
single runs (the expensive ones); they are measurements, not assertions.
"""

from __future__ import annotations

import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from . import migrate, synth
from .engines import connect


def faker_baseline(sf: float, seed: int, out: Path) -> dict:
    """A straightforward row-by-row generator (Faker) for users and projects, written to Parquet."""
    import uuid

    import pyarrow as pa
    import pyarrow.parquet as pq
    from faker import Faker

    fake = Faker()
    Faker.seed(seed)
    sizes = synth.Sizes.at(sf)
    t0 = time.perf_counter()
    users = []
    for i in range(sizes.users):
        created = fake.date_time_between("-7y", "-1y")
        users.append(
            {
                "id": str(uuid.UUID(int=fake.random.getrandbits(128))),
                "email": f"{i}.{fake.email()}",
                "name": fake.name(),
                "role": fake.random_element(["user", "admin", "contributor"]),
                "active": fake.boolean(92),
                "created_at": created,
                "updated_at": fake.date_time_between(created, "now"),
            }
        )
    projects = []
    for i in range(sizes.projects):
        owner = fake.random_element(users)
        created = fake.date_time_between(owner["created_at"], "now")
        projects.append(
            {
                "id": str(uuid.UUID(int=fake.random.getrandbits(128))),
                "name": f"project-{i}",
                "description": fake.sentence(),
                "owner_id": owner["id"],
                "template_id": None,
                "configuration": "{}",
                "created_at": created,
                "updated_at": fake.date_time_between(created, "now"),
            }
        )
    pq.write_table(pa.Table.from_pylist(users), out / "faker_users.parquet")
    pq.write_table(pa.Table.from_pylist(projects), out / "faker_projects.parquet")
    seconds = time.perf_counter() - t0
    rows = len(users) + len(projects)
    return {"sf": sf, "rows": rows, "seconds": round(seconds, 3), "rows_per_s": round(rows / seconds)}


def generation(sf: float, seed: int, out: Path, repeats: int) -> dict:
    runs = []
    manifest = None
    for _ in range(repeats):
        t0 = time.perf_counter()
        manifest, timings = synth.generate(sf, seed, out)
        runs.append(time.perf_counter() - t0)
    rows = sum(manifest.rows.values())
    med = statistics.median(runs)
    up = manifest.rows["users"] + manifest.rows["projects"]
    return {
        "sf": sf,
        "rows": rows,
        "runs_s": [round(r, 3) for r in runs],
        "median_s": round(med, 3),
        "rows_per_s": round(rows / med),
        "users_projects_rows": up,
        "sha256_stable": True,
    }


def peak_rss(sf: float, seed: int, out: Path) -> dict:
    """Generate in a child process and report its peak resident memory."""
    code = (
        "import resource, sys\nfrom pathlib import Path\nfrom workbook import synth\n"
        f"synth.generate({sf}, {seed}, Path({str(out)!r}))\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
    )
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    kib = int(done.stdout.strip().splitlines()[-1])
    return {"sf": sf, "peak_rss_mib": round(kib / 1024, 1), "seconds": round(time.perf_counter() - t0, 1)}


def postgres_load(folder: Path) -> dict:
    with connect("postgres") as db:
        migrate.migrate(db)
        phases: dict[str, float] = {}
        t0 = time.perf_counter()
        counts = synth.load_postgres(db, folder, timings=phases)
        seconds = time.perf_counter() - t0
    rows = sum(counts.values())
    return {
        "rows": rows,
        "copy_seconds": round(phases["copy"], 2),
        "copy_rows_per_s": round(rows / phases["copy"]),
        "load_seconds": round(seconds, 2),
        "load_rows_per_s": round(rows / seconds),
        "phases_s": {k: round(v, 2) for k, v in phases.items()},
        "load_includes": "COPY (binary, FREEZE), key, index and foreign-key rebuild with validation, ANALYZE",
    }


def main() -> int:
    seed = 42
    report: dict = {"machine": {"cpus": __import__("os").cpu_count()}}
    with tempfile.TemporaryDirectory(prefix="workbook-bench-") as tmp:
        tmp = Path(tmp)
        print("generating SF 1 (3 runs)...", file=sys.stderr)
        report["generate_sf1"] = generation(1, seed, tmp / "sf1", 3)
        first = synth.read_manifest(tmp / "sf1").sha256
        synth.generate(1, seed, tmp / "sf1-again")
        report["generate_sf1"]["sha256_stable"] = first == synth.read_manifest(tmp / "sf1-again").sha256
        print("Faker baseline at SF 0.01...", file=sys.stderr)
        report["faker_sf0.01"] = faker_baseline(0.01, seed, tmp)
        report["speedup_vs_faker"] = round(
            report["generate_sf1"]["rows_per_s"] / report["faker_sf0.01"]["rows_per_s"], 1
        )
        print("COPY SF 1 into PostgreSQL...", file=sys.stderr)
        report["postgres_load_sf1"] = postgres_load(tmp / "sf1")
        print("peak memory at SF 1 and SF 10...", file=sys.stderr)
        report["peak_rss_sf1"] = peak_rss(1, seed, tmp / "rss1")
        report["peak_rss_sf10"] = peak_rss(10, seed, tmp / "rss10")
    report["targets"] = {
        "generate_rows_per_s": 3_000_000,
        "speedup_vs_faker": 100,
        "postgres_copy_rows_per_s": 300_000,
        "peak_rss_sf10_mib": 4096,
    }
    report["self_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
