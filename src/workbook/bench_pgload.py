"""The PostgreSQL loader against plain `psql \\copy` of CSV files, measured interleaved on one server.

The peer gets the same server, the same rows (CSV files exported from the Parquet files before any
timing: "already on disk") and exactly the statements the loader runs around its COPYs (the same
`LoadPlan`: session settings, dropped keys and indexes, disabled triggers, TRUNCATE, then the same
rebuild and validation order), in one psql session: BEGIN; ...; \\copy each table (FORMAT csv,
FREEZE); ...; COMMIT; ANALYZE. What differs is the method: CSV parsed by the server from a file, or
binary tuples encoded from Parquet while the server ingests. Runs alternate (ours, peer, ours, peer,
...), each into a fresh migrated schema after a CHECKPOINT; the ratio is taken per pair and its
median reported. A first, untimed pair checks both sides load identical rows and warms both up.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from . import migrate
from .engines import connect
from .errors import WorkbookError, first_line
from .synth import folder as fd
from .synth import postgres_load as pgl
from .synth.duckdb_load import design_tables

MARK = "@@phase"  # psql prints one line per phase boundary: MARK, name, server clock


def _log(message: str) -> None:
    print(f"bench_pgload: {message}", file=sys.stderr, flush=True)


def _psql(db) -> Path:  # noqa: ANN001 - a PostgresEngine
    """The psql of the server's installation (the throwaway server's, else the one found on the machine)."""
    from . import pgserver

    bindir = db.server.bindir if db.server is not None else pgserver.find_bindir()
    psql = Path(bindir) / "psql"
    if not psql.is_file():
        raise WorkbookError(f"{psql}: no psql beside the PostgreSQL server binaries; the peer cannot run")
    return psql


def _columns(folder: Path, tables: Sequence[str]) -> dict[str, list[str]]:
    """Each table's columns, as its Parquet file orders them (and so its CSV file)."""
    import pyarrow.parquet as pq

    return {t: pq.read_schema(folder / f"{t}.parquet").names for t in tables}


def export_csv(folder: Path, tables: Sequence[str], out: Path) -> dict[str, Path]:
    """Each table's Parquet file as a CSV file (no header; NULL unquoted-empty, '' quoted) in `out`."""
    import duckdb

    con = duckdb.connect(config={"autoinstall_known_extensions": False})
    try:
        con.execute("SET TimeZone = 'UTC'")  # timestamps print with +00
        files = {}
        for t in tables:
            files[t] = out / f"{t}.csv"
            con.execute(
                f"COPY (SELECT * FROM read_parquet('{folder / f'{t}.parquet'}')) TO '{files[t]}' (HEADER false)"
            )
        return files
    finally:
        con.close()


def peer_script(
    plan: pgl.LoadPlan, schema: str, files: dict[str, Path], columns: dict[str, list[str]]
) -> str:
    """The psql script of the peer: the loader's statements around one `\\copy` per table."""

    def mark(phase: str) -> str:
        return f"SELECT '{MARK}', '{phase}', extract(epoch FROM clock_timestamp());"

    lines = [f'SET search_path TO "{schema}";', "SET TimeZone TO 'UTC';", mark("prepare"), "BEGIN;"]
    lines += [f"{sql};" for _, sql in plan.before_copy()]
    lines.append(mark("copy"))
    for t in plan.tables:
        cols = ", ".join(f'"{c}"' for c in columns[t])
        lines.append(f"\\copy {t} ({cols}) FROM '{files[t]}' WITH (FORMAT csv, FREEZE)")
    lines.append(mark("rebuild_keys_and_indexes"))
    lines += [f"{sql};" for _, sql in plan.after_copy()]
    lines += ["COMMIT;", mark("analyze")]
    lines += [f"ANALYZE {t};" for t in plan.tables]
    lines.append(mark("end"))
    return "\n".join(lines) + "\n"


def run_peer(db, files: dict[str, Path], columns: dict[str, list[str]], work: Path) -> tuple[float, dict]:  # noqa: ANN001
    """Load the CSV files with one psql session; (wall seconds, seconds per phase)."""
    plan = pgl.LoadPlan.read(db, list(files))
    script = work / f"peer-{db.schema}.sql"
    script.write_text(peer_script(plan, db.schema, files, columns))
    env = {**os.environ, "PGCLIENTENCODING": "UTF8"}  # the loader's libpq sees the same environment
    args = [str(_psql(db)), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", db.dsn, "-f", str(script)]
    t0 = time.perf_counter()
    done = subprocess.run(args, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - t0
    if done.returncode:
        last = (done.stderr or done.stdout).strip().splitlines()
        raise WorkbookError(f"the psql peer failed: {last[-1] if last else done.returncode}")
    marks = [ln.split("|") for ln in done.stdout.splitlines() if ln.startswith(MARK)]
    clock = [(name, float(at)) for _, name, at in marks]
    phases = {name: end - start for (name, start), (_, end) in zip(clock, clock[1:], strict=False)}
    phases["startup"] = seconds - (clock[-1][1] - clock[0][1])  # psql start, connect, exit
    return seconds, phases


def fingerprints(db, columns: dict[str, list[str]]) -> dict[str, list]:  # noqa: ANN001
    """Per table: row count and an order-free sum of 64-bit hashes of each row's loaded columns."""
    out = {}
    for t, cols in columns.items():
        row = ", ".join(f'"{c}"' for c in cols)
        n, digest = db.fetchall(
            f"SELECT count(*), sum(hashtextextended(ROW({row})::text, 0)::numeric) FROM {t}"
        )[0]
        out[t] = [n, str(digest)]
    return out


def _fresh(progress: str):  # noqa: ANN202 - a PostgresEngine
    """A new private schema, migrated, with the server's dirty buffers of earlier runs written out."""
    db = connect("postgres")
    try:
        migrate.migrate(db)
        try:
            db.execute("CHECKPOINT")  # both sides start with no dirty buffers of earlier runs
        except Exception as exc:  # noqa: BLE001 - an external server may refuse it; then neither side gets one
            _log(f"{progress}: CHECKPOINT refused ({first_line(exc)})")
    except BaseException:
        db.close()
        raise
    return db


def _phase_medians(runs: list[dict]) -> dict[str, float]:
    """The median seconds of each phase over the runs."""
    return {k: round(statistics.median([r[k] for r in runs]), 3) for k in runs[0]}


def versus_psql(folder: Path, pairs: int = 4, tables: Sequence[str] | None = None) -> dict:
    """Load `folder` with `load_postgres` and with a psql `\\copy` peer, interleaved; JSON-ready figures."""
    if pairs < 1:
        raise WorkbookError(f"pairs={pairs}: at least one pair of runs is needed")
    folder = Path(folder)
    tables = list(design_tables() if tables is None else tables)
    m, _ = fd.verify(folder, tables)
    rows = sum(m.rows[t] for t in tables)
    columns = _columns(folder, tables)
    with tempfile.TemporaryDirectory(prefix="workbook-pgload-") as tmp:
        work = Path(tmp)
        _log(f"exporting {len(tables)} tables ({rows:,} rows) to CSV for the peer")
        t0 = time.perf_counter()
        files = export_csv(folder, tables, work)
        export_s = time.perf_counter() - t0
        csv_bytes = sum(f.stat().st_size for f in files.values())
        results: list[dict] = []
        checked: dict[str, dict] = {}
        server: dict = {}
        for i in range(pairs + 1):
            label = "check" if i == 0 else f"pair {i}/{pairs}"
            pair: dict = {}
            for side in ("ours", "peer"):
                db = _fresh(f"{label} {side}")
                try:
                    if not server:
                        server = dict(
                            db.fetchall(
                                "SELECT name, current_setting(name) FROM pg_settings WHERE name IN "
                                "('server_version', 'shared_buffers', 'wal_level', 'max_wal_size', 'fsync', "
                                "'synchronous_commit', 'full_page_writes', 'max_worker_processes', "
                                "'max_parallel_workers', 'work_mem') ORDER BY 1"
                            )
                        )
                    if side == "ours":
                        phases: dict[str, float] = {}
                        t0 = time.perf_counter()
                        pgl.load_postgres(db, folder, timings=phases, tables=tables)
                        seconds = time.perf_counter() - t0
                    else:
                        seconds, phases = run_peer(db, files, columns, work)
                    if i == 0:
                        checked[side] = fingerprints(db, columns)
                finally:
                    db.close()
                pair[side] = {"seconds": seconds, "phases": phases}
                _log(
                    f"{label}: {side} {seconds:.2f} s "
                    + json.dumps({k: round(v, 2) for k, v in phases.items()})
                )
            if i == 0:
                if checked["ours"] != checked["peer"]:
                    bad = [t for t in tables if checked["ours"][t] != checked["peer"][t]]
                    raise WorkbookError(
                        f"the peer and the loader loaded different rows into {', '.join(bad)}"
                    )
                continue
            pair["ratio"] = pair["peer"]["seconds"] / pair["ours"]["seconds"]
            _log(f"{label}: peer/ours = {pair['ratio']:.2f}")
            results.append(pair)
    ours = [p["ours"] for p in results]
    peer = [p["peer"] for p in results]
    ours_s, peer_s = (
        statistics.median([r["seconds"] for r in ours]),
        statistics.median([r["seconds"] for r in peer]),
    )
    ours_copy, peer_copy = (
        statistics.median([r["phases"]["copy"] for r in ours]),
        statistics.median([r["phases"]["copy"] for r in peer]),
    )
    return {
        "rows": rows,
        "tables": len(tables),
        "sf": m.sf,
        "pairs": [
            {
                "ours_s": round(p["ours"]["seconds"], 3),
                "peer_s": round(p["peer"]["seconds"], 3),
                "ratio_peer_over_ours": round(p["ratio"], 3),
            }
            for p in results
        ],
        "median_ratio": round(statistics.median([p["ratio"] for p in results]), 3),
        "ours": {
            "load_s_median": round(ours_s, 3),
            "load_rows_per_s": round(rows / ours_s),
            "copy_rows_per_s": round(rows / ours_copy),
            "phases_s_median": _phase_medians([r["phases"] for r in ours]),
        },
        "peer": {
            "load_s_median": round(peer_s, 3),
            "load_rows_per_s": round(rows / peer_s),
            "copy_rows_per_s": round(rows / peer_copy),
            "phases_s_median": _phase_medians([r["phases"] for r in peer]),
            "csv_bytes": csv_bytes,
            "csv_export_s_untimed": round(export_s, 2),
        },
        "same_rows_checked": {t: checked["ours"][t][0] for t in tables},
        "session_settings": dict(pgl.SESSION_SETTINGS),
        "same_for_both": "the loader's LoadPlan statements in its order: session settings (SET LOCAL), drop "
        "foreign keys, keys and indexes, disable user triggers, TRUNCATE; after the COPYs keys, then indexes "
        "(parallel B-tree builds), then foreign keys, those whose columns lead a full B-tree index with "
        "enable_hashjoin off (validated by merging two index-only scans), triggers enabled; ANALYZE",
        "server_settings": server,
        "cpus": os.cpu_count(),
        "load_includes": {
            "ours": "load_postgres() as called: sha256 of every file against the manifest, readiness check, "
            "one transaction (drop keys/FKs/indexes, disable user triggers, TRUNCATE, binary COPY FREEZE "
            "encoded from Parquet on a second thread, row counts checked, keys and indexes rebuilt, every "
            "foreign key validated, triggers enabled, files re-checked unchanged), COMMIT, ANALYZE, recount",
            "peer": "one psql process (start, connect, exit included) running the same statements around "
            "\\copy of each CSV file (FORMAT csv, FREEZE): BEGIN ... COMMIT; ANALYZE",
            "neither": "migrating the fresh schema, the CHECKPOINT before each run, the CSV export",
        },
    }


def main(argv: list[str] | None = None) -> int:
    """Generate SF 1 (or the given scale factor) into a temporary folder and print the comparison as JSON."""
    import argparse

    from . import synth

    parser = argparse.ArgumentParser(
        prog="python -m workbook.bench_pgload", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--sf", type=fd.parse_sf, default=1.0)
    parser.add_argument("--seed", type=fd.parse_seed, default=42)
    parser.add_argument("--pairs", type=int, default=4)
    args = parser.parse_args(argv)
    try:
        with tempfile.TemporaryDirectory(prefix="workbook-pgload-data-") as tmp:
            _log(f"generating SF {args.sf:g} (seed {args.seed})")
            out = Path(tmp) / "data"
            synth.generate(args.sf, args.seed, out)
            report = versus_psql(out, args.pairs)
    except WorkbookError as exc:
        print(f"bench_pgload: error: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
