"""Findings about the seed's example migration, with evidence from running it and the design's form.

F40 runs the seed's tags migration as written (one transaction) and the design's form on 500 typed-in
templates while a sampler reads pg_locks; F41 applies the design's V0023 through the runner to a
schema at V0022 holding those templates. The evidence is lock modes and counts, the same every build.
"""

from __future__ import annotations

import functools

from .. import bench_migration, migrate
from ..engines import connect
from ..findings import Finding, expect
from . import WORKBOOK_ACTOR
from .tags_migration import HAND_ROWS

ROWS = 500


@functools.cache
def _lock_rows() -> tuple[dict, ...]:
    return tuple(bench_migration.lock_table(ROWS))


def f40_example_migration_blocks_writes(engine: str) -> str:
    rows = _lock_rows()
    seed = [r for r in rows if r["form"] == "blocking" and r["relations"] == "templates"]
    design = [r for r in rows if r["form"] == "nonblocking" and r["relations"] == "templates"]
    waits = [r["step"] for r in seed if r["writes_wait"]]
    expect(
        "create_index" in waits and "backfill" in waits,
        "F40",
        f"the seed's form no longer blocks writes ({waits})",
    )
    expect(
        any("ShareLock" in r["lock_modes"] for r in seed if r["step"] == "create_index"),
        "F40",
        "CREATE INDEX no longer holds ShareLock",
    )
    design_waits = [r["step"] for r in design if r["writes_wait"]]
    expect(design_waits == ["add_column"], "F40", f"the design's form blocks writes at {design_waits}")
    held = sorted({m.strip() for r in seed for m in r["lock_modes"].split(",") if m.strip()})
    mine = "; ".join(f"{r['step']}: {r['lock_modes']}" for r in design)
    return (
        f"the seed's migration as one transaction on {ROWS} templates holds {', '.join(held)} on templates "
        f"from its ALTER to its COMMIT: writes (and reads) wait through {', '.join(waits)}; the design's form "
        f"({mine}) makes writes wait only for the ADD COLUMN, a catalog change with no rewrite or scan"
    )


def f41_backfill_rewrites_history(engine: str) -> str:
    upto = bench_migration._before("0022")
    tags = next(m for m in migrate.discover() if m.version == "0023")
    with connect("postgres") as pg:
        migrate.migrate(pg, upto)
        pg.set_session_actor(WORKBOOK_ACTOR)
        users, templates = HAND_ROWS
        pg.execute(users)
        pg.execute(templates, [ROWS])
        pg.execute(
            "UPDATE templates SET updated_at = '2024-01-01 00:00:00+00', created_at = '2024-01-01 00:00:00+00'"
        )
        audit = pg.scalar("SELECT count(*) FROM audit_log")
        migrate.apply(pg, tags)
        moved = pg.scalar("SELECT count(*) FROM templates WHERE updated_at > '2024-01-01 00:00:00+00'")
        rows = pg.scalar("SELECT count(*) FROM audit_log") - audit
        done = pg.scalar("SELECT count(*) FROM templates WHERE tags = ARRAY[category]")
    expect(done == ROWS, "F41", f"the backfill tagged {done} of {ROWS}")
    expect(moved == ROWS and rows == ROWS, "F41", f"updated_at moved on {moved}, {rows} audit rows")
    return (
        f"applying V0023 to {ROWS} templates tags all {done}, moves updated_at on {moved} of them (the V0011 "
        f"trigger) and writes {rows} audit rows (V0013): a backfill looks like {ROWS} user edits to "
        "'recently changed' readers and to the audit trail"
    )


FINDINGS = [
    Finding(
        "F40",
        "high",
        "The example migration blocks every write to templates until it commits",
        "`BEGIN; ALTER TABLE templates ADD COLUMN tags ...; CREATE INDEX idx_templates_tags ON templates USING "
        "gin(tags); UPDATE templates SET tags = ARRAY[category] ...; COMMIT;`",
        "Split (V0022, V0023): a catalog-only ADD COLUMN under lock_timeout, then a no-transaction file: the "
        "runner backfills in batches of 500 rows and builds the GIN index CONCURRENTLY, rebuilding an INVALID "
        "one on retry.",
        f40_example_migration_blocks_writes,
        ("postgres",),
    ),
    Finding(
        "F41",
        "low",
        "A backfill is recorded as an edit of every row",
        "`UPDATE templates SET tags = ARRAY[category] WHERE tags = '{}'` (the seed says nothing of its triggers).",
        "Accepted and stated: the audit trail records every change by design, and disabling triggers would take "
        "a lock that blocks writes; readers of 'recently changed' see the backfill once, as one actor's edits.",
        f41_backfill_rewrites_history,
        ("postgres",),
    ),
]
