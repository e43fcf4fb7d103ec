"""`make claims-stability`: rebuild the Access Patterns evidence many times and count claims that flip.

Each rebuild generates the data afresh, loads new PostgreSQL and DuckDB databases, gathers
statistics and evaluates every claim of every access pattern. Two kinds of rebuild: with the
document's seed (the document must come out the same: claims and plan outlines identical every
time) and with a different seed each time (new data of the same shape: a claim that holds only on
one draw of the data is a claim about the draw). Prints JSON; exits 1 if any claim flips.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from . import access_report, migrate, plans, synth
from .engines import connect


def one(sf: float, seed: int, patterns, prepare, actor: str) -> tuple[dict[str, bool], dict[str, str]]:  # noqa: ANN001
    """(claim -> held, plan key -> outline) for one fresh build."""
    with tempfile.TemporaryDirectory(prefix="workbook-stability-") as tmp:
        folder = Path(tmp) / "data"
        synth.generate(sf, seed, folder)
        engines = {"postgres": connect("postgres"), "duckdb": connect("duckdb")}
        try:
            for db in engines.values():
                migrate.migrate(db)
            synth.load_postgres(engines["postgres"], folder)
            synth.load_duckdb(engines["duckdb"], folder)
            engines["postgres"].set_session_actor(actor)
            work = access_report.workload(engines, folder, synth.TABLES, prepare)
            reports = access_report.evaluate(patterns, work)
            work.oracle.close()
        finally:
            for db in engines.values():
                db.close()
    held = {f"{r.pattern.name}: {c.claim.describe()}": c.held for r in reports for c in r.claims}
    outlines = {
        f"{r.pattern.name} / {cr.case.name} / {engine}": plans.outline(plan)
        for r in reports
        for cr in r.runs
        for engine, plan in cr.plans.items()
    }
    return held, outlines


def main(argv: list[str] | None = None) -> int:
    from .design import WORKBOOK_ACTOR
    from .design.access import PATTERNS, PREPARE

    ap = argparse.ArgumentParser(prog="python -m workbook.stability")
    ap.add_argument("--rebuilds", type=int, default=20)
    ap.add_argument("--sf", type=float, default=0.1)
    ap.add_argument("--seed", type=int, default=42)
    args = ap.parse_args(argv)
    report: dict = {"sf": args.sf, "rebuilds_per_kind": args.rebuilds}
    flips_total = 0
    for kind, seeds in (
        ("same seed", [args.seed] * args.rebuilds),
        ("new seed each time", range(1, args.rebuilds + 1)),
    ):
        first: dict[str, bool] | None = None
        first_outlines: dict[str, str] | None = None
        flips: dict[str, int] = {}
        outline_changes = 0
        held_everywhere = 0
        t0 = time.perf_counter()
        for i, seed in enumerate(seeds, 1):
            held, outlines = one(args.sf, seed, PATTERNS, PREPARE, WORKBOOK_ACTOR)
            print(
                f"{kind}: rebuild {i}/{args.rebuilds} (seed {seed}): {sum(held.values())}/{len(held)} claims hold",
                file=sys.stderr,
                flush=True,
            )
            if first is None:
                first, first_outlines = held, outlines
            for claim, ok in held.items():
                if ok != first.get(claim):
                    flips[claim] = flips.get(claim, 0) + 1
            held_everywhere = sum(held.values())
            if kind == "same seed" and outlines != first_outlines:
                outline_changes += 1
        flips_total += sum(flips.values())
        report[kind] = {
            "claims": len(first or {}),
            "claims_held_in_last": held_everywhere,
            "claims_failing_in_first": sorted(c for c, ok in (first or {}).items() if not ok),
            "flips": flips,
            "flip_count": sum(flips.values()),
            "seconds": round(time.perf_counter() - t0, 1),
        }
        if kind == "same seed":
            report[kind]["rebuilds_with_a_different_plan_outline"] = outline_changes
    print(json.dumps(report, indent=2))
    return 1 if flips_total else 0


if __name__ == "__main__":
    raise SystemExit(main())
