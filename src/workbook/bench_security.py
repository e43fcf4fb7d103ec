"""The cost of row-level security on the design's measured access pattern (make bench-rls; prints JSON).

Loads synthetic data at each scale factor into a throwaway PostgreSQL schema, then runs the pattern
for its heaviest owner as the connecting superuser (no policies apply) and as the application role
acting for that owner (policies apply), interleaved run by run, and reports medians and their ratio
from this one run. The plans of both are reported too: the same index, and the buffers each read.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

from . import migrate, security, synth
from .design import WORKBOOK_ACTOR
from .engines import connect

SEED = 42


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def run(sf: float, runs: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="workbook-bench-rls-") as tmp:
        folder = Path(tmp) / "data"
        say(f"SF {sf:g}: generating")
        synth.generate(sf, SEED, folder)
        with connect("postgres") as pg:
            migrate.migrate(pg)
            say(f"SF {sf:g}: loading PostgreSQL")
            synth.load_postgres(pg, folder)
            pg.set_session_actor(WORKBOOK_ACTOR)
            plans = security.rls_cost(pg)
            say(f"SF {sf:g}: {runs} runs each way, interleaved")
            security.rls_timings(pg, 20)  # warm both paths
            t = security.rls_timings(pg, runs)
    med = {k: statistics.median(v) * 1000 for k, v in t.items()}
    return {
        "sf": sf,
        "runs": runs,
        "median_ms": {k: round(v, 4) for k, v in med.items()},
        "ratio_with_over_without": round(med["with"] / med["without"], 3),
        "plans": {
            k: {"indexes": list(p.indexes), "buffers": p.buffers, "rows": p.rows, "nodes": list(p.nodes)}
            for k, p in plans.items()
        },
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m workbook.bench_security", description=__doc__.splitlines()[0]
    )
    ap.add_argument("--sf", type=float, action="append", help="scale factor (repeatable; default 0.1 and 1)")
    ap.add_argument("--runs", type=int, default=300)
    args = ap.parse_args(argv)
    print(json.dumps({"rls_cost": [run(sf, args.runs) for sf in args.sf or [0.1, 1.0]]}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
