"""`make bench-migration`: the seed's tags migration, blocking and non-blocking, side by side on PostgreSQL.

Prints one JSON object. For each scale factor (SF 0.1 and SF 1 by default; `--sf` to choose) and
each form of `workbook.design.tags_migration` (the seed's one transaction, and the same change done
without blocking writes), each run on a freshly migrated and loaded schema, rounds interleaved
(blocking, non-blocking, blocking, ...): the total duration; per step its duration, the lock modes
it held on which relation and for how long they were seen (pg_locks sampled every ~2 ms), and the
longest a probe write (and read) of templates waited during it; over the run the writes' p50, p99
and max latency; rows backfilled; what the backfill did to the audit trail and to updated_at; and per
scale factor the ratio of the longest write stall, blocking / non-blocking. Then, at the first scale
factor, both forms once more with a report holding a transaction open on templates as the change
starts (what lock_timeout is for; `--no-long-reader` skips it). Durations are
measurements on a shared machine, never assertions; the lock modes are the stable part
(`lock_table()` gives them to the notebook).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import locks, migrate, synth
from .engines import Engine, connect
from .errors import WorkbookError

METHOD = {
    "runs": "each form on a schema of its own, freshly migrated and loaded from the same generated folder "
    "(seed 42), statistics gathered; rounds interleave the forms",
    "locks": "a second connection polls pg_locks joined to pg_class and pg_stat_activity for the "
    "migrating backend every ~2 ms; seen_s is the last sighting minus the first within the step "
    "(a lower bound, to the sampler's interval); 'exact' locks were also read by the migrating session "
    "itself just before its commit",
    "probes": "one connection per probe runs its statement on one template at a time (autocommit, "
    "5 ms apart, keys shuffled): write = UPDATE templates SET updated_at = updated_at (audited, as "
    "any application write), read = SELECT by id; latency is wall-clock per statement; a step's "
    "longest_in_step_s is the most time one statement spent inside that step",
    "stall_ratio": "median over rounds of the longest write latency of the blocking form, divided by "
    "the non-blocking form's",
}


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


_staged: dict[str, Path] = {}


def _before(version: str) -> Path:
    """The migrations folder as it was up to `version`: the schema the change starts from."""
    if version not in _staged:
        import tempfile

        folder = Path(tempfile.mkdtemp(prefix="workbook-before-")) / "migrations"
        folder.mkdir()
        for m in migrate.discover():
            if int(m.version) <= int(version):
                (folder / m.name).write_bytes(m.raw)
        _staged[version] = folder
    return _staged[version]


def fresh(folder: Path | None, hand_rows: int = 0) -> Engine:
    """A migrated PostgreSQL schema holding the generated folder (or `hand_rows` typed-in templates)."""
    from .design import WORKBOOK_ACTOR
    from .design.tags_migration import HAND_ROWS, START_VERSION

    pg = connect("postgres")
    try:
        upto = _before(START_VERSION)
        migrate.migrate(pg, upto)
        if folder is not None:
            synth.load_postgres(pg, folder, migrations=upto)
        pg.set_session_actor(WORKBOOK_ACTOR)
        if folder is None:
            users, templates = HAND_ROWS
            pg.execute(users)
            pg.execute(templates, [hand_rows])
            pg.execute("ANALYZE")
    except BaseException:
        pg.close()
        raise
    return pg


def run_form(
    pg: Engine, form: locks.Form, probes: Sequence[locks.Probe] | None = None, hold: locks.Hold | None = None
) -> dict[str, Any]:
    """Run one form on a loaded schema, with the design's probes; the lock result and the effects."""
    from .design import WORKBOOK_ACTOR
    from .design import tags_migration as tm

    before = {k: pg.scalar(sql) for k, sql in tm.BEFORE.items()}
    result = locks.run(
        form,
        pg,
        target=tm.TABLE,
        probes=tm.PROBES if probes is None else probes,
        actor=WORKBOOK_ACTOR,
        hold=hold,
    )
    effects = {k: pg.scalar(sql) for k, sql in tm.EFFECTS.items()} if result.error is None else {}
    if result.error is None:
        effects["templates_rewritten"] = (
            pg.scalar(tm.BEFORE["templates_filenode"]) != before["templates_filenode"]
        )
        effects["audit_log_bytes_added"] = pg.scalar(tm.BEFORE["audit_log_bytes"]) - before["audit_log_bytes"]
        effects["index"] = locks.index_state(pg.con, tm.INDEX_OF[form.name])
    return {"result": result, "effects": effects}


def summary(run: dict[str, Any]) -> dict[str, Any]:
    """The figures of one run, for the report."""
    r: locks.RunResult = run["result"]
    steps = []
    backfilled = 0
    for s in r.steps:
        backfilled += int(s.info.get("rows", 0)) + int(s.info.get("sweep_rows", 0))
        held = {}
        for x in s.locks:
            if x.role == "migration" and x.granted:
                held.setdefault(x.relation, {})[x.mode] = {
                    "seen_s": round(x.seen_s, 4),
                    "samples": x.samples,
                    "exact": x.exact,
                }
        waited = sorted({f"{x.role}: {x.relation} {x.mode}" for x in s.locks if not x.granted})
        steps.append(
            {
                "step": s.name,
                "kind": s.kind,
                "what": " ".join(s.what.split()),
                "duration_s": round(s.duration_s, 4),
                "attempts": s.attempts,
                "error": s.error,
                "info": locks.rounded(s.info, 4),
                "locks": held,
                "waits_of_migration": s.waits,
                "waiting": waited,
                "probes": {k: locks.rounded(vars(v), 4) for k, v in s.probes.items()},
            }
        )
    return {
        "form": r.form,
        "error": r.error,
        "hold": r.hold,
        "duration_s": round(r.duration_s, 4),
        "rows_backfilled": backfilled,
        "target_locks_over_run": locks.rounded(r.holds, 4),
        "probes": {k: locks.rounded(vars(v), 4) for k, v in r.probes.items()},
        "probe_errors": r.probe_errors,
        "effects": run["effects"],
        "samples": r.samples,
        "sample_interval_s": r.sample_interval_s and round(r.sample_interval_s, 4),
        "steps": steps,
    }


def _folder(sf: float, root: Path) -> Path:
    from .design.tags_migration import SEED

    folder = root / f"sf{sf:g}"
    if not (folder / "manifest.json").is_file():
        say(f"bench-migration: generating SF {sf:g}")
        synth.generate(sf, SEED, folder)
    return folder


def run_sf(sf: float, rounds: int, root: Path) -> dict[str, Any]:
    """Both forms at one scale factor, `rounds` times each, interleaved, every run on a fresh load."""
    from .design.tags_migration import FORMS

    folder = _folder(sf, root)
    runs: dict[str, list[dict]] = {f.name: [] for f in FORMS}
    for k in range(rounds):
        for form in FORMS:
            say(f"bench-migration: SF {sf:g}, round {k + 1}/{rounds}: loading, then {form.name}")
            pg = fresh(folder)
            try:
                runs[form.name].append(summary(run_form(pg, form)))
            finally:
                pg.close()
    out: dict[str, Any] = {"rounds": rounds, "forms": {}}
    stalls = {}
    for name, rs in runs.items():
        writes = [
            r["probes"]["write"]["max_s"] for r in rs if r["probes"].get("write", {}).get("max_s") is not None
        ]
        stalls[name] = statistics.median(writes) if writes else None
        out["forms"][name] = {
            "duration_s_median": round(statistics.median(r["duration_s"] for r in rs), 4),
            "write_max_s_median": stalls[name] and round(stalls[name], 4),
            "write_p99_s_median": round(statistics.median(r["probes"]["write"]["p99_s"] for r in rs), 4),
            "runs": rs,
        }
    b, n = stalls.get("blocking"), stalls.get("nonblocking")
    out["write_stall_ratio_blocking_over_nonblocking"] = round(b / n, 1) if b and n else None
    return out


def run_long_reader(sf: float, root: Path) -> dict[str, Any]:
    """Both forms once each with the design's long reader holding a transaction open as they start."""
    from .design.tags_migration import FORMS, LONG_READER

    folder = _folder(sf, root)
    out: dict[str, Any] = {"sf": sf, "hold": vars(LONG_READER), "forms": {}}
    for form in FORMS:
        say(f"bench-migration: SF {sf:g}, long reader: loading, then {form.name}")
        pg = fresh(folder)
        try:
            out["forms"][form.name] = summary(run_form(pg, form, hold=LONG_READER))
        finally:
            pg.close()
    b, n = (out["forms"][f.name]["probes"]["write"]["max_s"] for f in FORMS)
    out["write_stall_ratio_blocking_over_nonblocking"] = round(b / n, 1) if b and n else None
    return out


def lock_table(hand_rows: int = 500) -> list[dict[str, Any]]:
    """Per form and step: the lock modes taken on which relation and whether they make writes wait.

    Stable facts only, for the notebook: each form runs once on typed-in templates (lock modes do not
    depend on the data's size) with the design's probes running, and the rows come from
    `locks.lock_rows`: exact lock sets read inside each transaction, conflict judged by PostgreSQL's
    lock table. No duration is in it.
    """
    from .design import tags_migration as tm

    rows = []
    for form in tm.FORMS:
        pg = fresh(None, hand_rows)
        try:
            run = run_form(pg, form)
        finally:
            pg.close()
        if run["result"].error:
            raise WorkbookError(f"lock_table: form {form.name} failed: {run['result'].error}")
        rows += locks.lock_rows(run["result"], tm.PROBES)
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    """Print the JSON report; a user error ends in one line on stderr and exit status 1."""
    from .design.tags_migration import SFS

    ap = argparse.ArgumentParser(
        prog="python -m workbook.bench_migration", description=__doc__.splitlines()[0]
    )
    ap.add_argument(
        "--sf",
        action="append",
        help=f"a scale factor to run (repeatable; default {', '.join(map(str, SFS))})",
    )
    ap.add_argument(
        "--rounds",
        type=int,
        default=None,
        help="rounds of each form per SF (default: 3 below SF 1, 1 from SF 1)",
    )
    ap.add_argument(
        "--no-long-reader",
        action="store_true",
        help="skip the runs with a long reader holding templates as the change starts (at the first SF)",
    )
    args = ap.parse_args(argv)
    try:
        sfs = [synth.parse_sf(s) for s in (args.sf or [str(s) for s in SFS])]
        if args.rounds is not None and args.rounds < 1:
            raise WorkbookError(f"--rounds {args.rounds}: give at least 1")
        report: dict[str, Any] = {"machine": {"cpus": os.cpu_count()}, "method": METHOD}
        started = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="workbook-bench-migration-") as tmp:
            for sf in sfs:
                rounds = args.rounds or (3 if sf < 1 else 1)
                report[f"sf{sf:g}"] = run_sf(sf, rounds, Path(tmp))
            if not args.no_long_reader:
                report["long_reader"] = run_long_reader(sfs[0], Path(tmp))
        report["seconds"] = round(time.perf_counter() - started, 1)
    except WorkbookError as exc:
        print(f"bench-migration: error: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(report, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
