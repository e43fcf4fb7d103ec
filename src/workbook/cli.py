"""The `workbook` command: migrate, info, validate (and docs) on either engine."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import config
from .engines import ENGINES, connect
from .errors import DatabaseBusy, WorkbookError


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise WorkbookError(f"{message} (see '{self.prog} --help')")


def _engine_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--engine", default="duckdb", help=f"one of {', '.join(ENGINES)} (default: duckdb)")
    p.add_argument(
        "--database",
        default=None,
        help=f"DuckDB file (default: {config.DEFAULT_DUCKDB_PATH.relative_to(config.PROJ_ROOT)}); "
        "for postgres a DSN (default: WORKBOOK_PG_DSN, PG* variables, else a throwaway server)",
    )
    p.add_argument("--migrations", type=Path, default=config.MIGRATIONS_DIR, help="migrations folder")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="workbook", description="Executed data design workbook.")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser, metavar="COMMAND")
    for name, text in [
        ("migrate", "apply pending migrations in order (one migrator at a time: a second one waits)"),
        (
            "info",
            "list migrations with their state (applied, baseline, pending, out-of-order, failed, modified, "
            "missing), checksums and the history's chained hash",
        ),
        ("validate", "check applied migrations against the files; non-zero on drift"),
    ]:
        _engine_args(sub.add_parser(name, help=text, description=text))
    text = "record that a database made without the workbook already has the schema up to a version"
    base = sub.add_parser("baseline", help=text, description=text)
    _engine_args(base)
    base.add_argument(
        "--version", required=True, help="the last migration the database already has, e.g. 0019"
    )
    text = "accept reviewed edits of applied files and clear failed attempts, recording why, who and when"
    rep = sub.add_parser("repair", help=text, description=text)
    _engine_args(rep)
    rep.add_argument("--reason", required=True, help="what was reviewed and why the edit is accepted")
    rep.add_argument("--by", default=None, help="who reviewed it (default: the operating-system user)")
    data = sub.add_parser("data", help="generate synthetic data, or load it into an engine")
    dsub = data.add_subparsers(dest="data_command", parser_class=_Parser, metavar="ACTION")
    gen = dsub.add_parser("generate", help="write Parquet per table plus manifest.json")
    gen.add_argument("--sf", default="0.1", help="scale factor; 1 is about 4.2 million rows (default 0.1)")
    gen.add_argument("--seed", default="42", help="integer seed (default 42)")
    gen.add_argument(
        "--out", type=Path, default=None, help="folder (default data/synthetic/sf<SF>-seed<SEED>)"
    )
    load = dsub.add_parser("load", help="load a generated folder into an empty, migrated database")
    _engine_args(load)
    load.add_argument(
        "--from", dest="source", type=Path, required=True, help="folder written by 'data generate'"
    )
    docs = sub.add_parser("docs", help="execute the notebooks and write the design document")
    docs.add_argument(
        "--no-cache", action="store_true", help="execute every notebook (default: reuse unchanged ones)"
    )
    sub.add_parser("check-docs", help="fail when the committed design document is stale")
    return parser


def _open(args: argparse.Namespace):
    if args.engine not in ENGINES:
        raise WorkbookError(f"--engine {args.engine}: unknown engine (choose from {', '.join(ENGINES)})")
    database = args.database
    if database is not None and not str(database).strip():
        # An empty value would silently mean an in-memory DuckDB database (or, for PostgreSQL, the
        # environment's or a throwaway server): both lose the result while reporting success.
        what = (
            "a DuckDB file path (or leave --database out for "
            f"{config.DEFAULT_DUCKDB_PATH.relative_to(config.PROJ_ROOT)})"
            if args.engine == "duckdb"
            else "a PostgreSQL DSN (or leave --database out for WORKBOOK_PG_DSN, PG* variables or a throwaway server)"
        )
        raise WorkbookError(f"--database {database!r}: empty; give {what}")
    if args.engine == "duckdb" and database is None:
        config.DEFAULT_DUCKDB_PATH.parent.mkdir(parents=True, exist_ok=True)
        database = config.DEFAULT_DUCKDB_PATH
    if args.command not in ("migrate", "baseline", "repair", "data"):
        return connect(args.engine, database, isolated=False)
    # A command that writes the ledger waits for another one that holds the file (DuckDB: one
    # writer per file), as it waits for PostgreSQL's migration lock, then finds nothing left to do.
    import os
    import time

    from .migrate import LOCK_WAIT_ENV

    wait = float(os.environ.get(LOCK_WAIT_ENV, "600"))
    deadline, told = time.monotonic() + wait, False
    while True:
        try:
            return connect(args.engine, database, isolated=False)
        except DatabaseBusy as exc:
            if time.monotonic() > deadline:
                raise WorkbookError(
                    f"{exc}; still busy after {wait:g} s: wait for it to finish and re-run"
                ) from None
            if not told:
                print(f"waiting: {exc}", file=sys.stderr)
                told = True
            time.sleep(0.05)


def run(argv: list[str] | None = None) -> int:
    """Parse and run one command; returns the exit status."""
    from . import migrate as mig

    args = build_parser().parse_args(argv)
    if args.command is None:
        build_parser().print_help()
        return 2
    if args.command == "data":
        return _data(args)
    if args.command in ("docs", "check-docs"):
        from . import docs

        if args.command == "check-docs":
            return docs.main(["check"])
        return docs.main(["build", *(["--no-cache"] if args.no_cache else [])])
    migrations = mig.discover(args.migrations)
    with _open(args) as engine:
        if getattr(engine, "recovered", None):
            print(
                f"recovered: {engine.recovered} was cut off between its commit and its checkpoint; its "
                "unreplayable log was set aside, so it is applied again",
                file=sys.stderr,
            )
        say = lambda m: print(m, file=sys.stderr)  # noqa: E731
        if args.command == "migrate":
            done = mig.migrate(engine, args.migrations, progress=say)
            total = len(mig.applied(engine))
            print(f"{engine.name}: applied {len(done)} migration(s); {total} applied in all, none pending")
            if getattr(engine, "server", None) is not None:
                print("(a throwaway server: set WORKBOOK_PG_DSN or --database to keep the result)")
        elif args.command == "baseline":
            from . import baseline as base

            row = mig.baseline(
                engine, args.version, args.migrations, compare=base.differs_from_schema, progress=say
            )
            print(
                f"{engine.name}: baselined at V{row.version}: files up to it count as applied "
                f"(chained sha256 {row.checksum[:16]}); 'workbook migrate' applies the ones after it"
            )
        elif args.command == "repair":
            done = mig.repair(engine, args.reason, args.migrations, by=args.by, progress=say)
            for r in done:
                new = f" -> {r.new_checksum[:12]}" if r.new_checksum else ""
                print(f"V{r.version}: {r.what} ({r.old_checksum[:12]}{new})")
            print(
                f"{engine.name}: repaired {len(done)} ledger row(s)"
                if done
                else f"{engine.name}: nothing to repair"
            )
        elif args.command == "info":
            rows = mig.status(engine, migrations)
            print(f"{'version':<8} {'state':<12} {'checksum (sha256)':<64}  description")
            for r in rows:
                detail = f"  ({r.detail})" if r.detail else ""
                print(f"{r.version:<8} {r.state:<12} {r.checksum:<64}  {r.description}{detail}")
            head = mig.head(engine, migrations)
            print(
                f"history head (sha256 chained over every version up to the last one run): {head or '(nothing applied)'}"
            )
            for version, old, new, reason, by, at in mig.repairs(engine):
                print(f"repair V{version}: {old[:12]} -> {(new or 'cleared')[:12]} by {by} at {at}: {reason}")
        elif args.command == "validate":
            todo = mig.pending(engine, migrations)
            print(
                f"{engine.name}: {len(mig.applied(engine))} applied migration(s) match their files; {len(todo)} pending"
            )
    return 0


def _data(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from . import migrate, synth

    if args.data_command == "generate":
        sf, seed = synth.parse_sf(args.sf), synth.parse_seed(args.seed)
        out = args.out or synth.default_folder(sf, seed)
        sizes = synth.Sizes.at(sf)
        print(f"generating SF {sf:g}, seed {seed} into {out}", file=sys.stderr)

        def report(table: str, rows: int, seconds: float) -> None:
            print(f"  {table:<22} {rows:>12,} rows  {seconds:6.2f} s", file=sys.stderr)

        manifest, timings = synth.generate(sf, seed, out, progress=report)
        total = sum(manifest.rows.values())
        print(
            f"wrote {total:,} rows in {len(manifest.rows)} Parquet files and manifest.json to {out} "
            f"({sum(timings.values()):.1f} s; planned {sizes.applications:,} pattern applications)"
        )
        return 0
    if args.data_command == "load":
        # Check the folder (manifest, presence and sha256 of every file) before the database is
        # opened, so a folder that would be refused leaves no database file and no migration behind.
        bars: dict[str, tqdm] = {}

        def hashed(nbytes: int) -> None:  # the bar appears once the manifest itself has passed
            if "sha256" not in bars:
                files = [Path(args.source) / f"{t}.parquet" for t in synth.TABLES]
                size = sum(f.stat().st_size for f in files)
                bars["sha256"] = tqdm(
                    total=size, desc="sha256", unit="B", unit_scale=True, leave=False, file=sys.stderr
                )
            bars["sha256"].update(nbytes)

        try:
            m = synth.read_manifest(args.source, progress=hashed)
        finally:
            if "sha256" in bars:
                bars.pop("sha256").close()

        def tick(table: str, rows: int) -> None:
            if table not in bars:
                bars[table] = tqdm(
                    total=m.rows[table], desc=table, unit="row", unit_scale=True, leave=True, file=sys.stderr
                )
            bars[table].update(rows)
            if bars[table].n >= m.rows[table]:
                bars[table].close()

        with _open(args) as engine:
            # A fresh database is migrated first; so is one migrated part way (an interrupted
            # 'migrate' or 'data load'): the runner applies only the pending files, each in its own
            # transaction, after refusing any applied file that changed or is missing.
            before = len(migrate.applied(engine))
            done = migrate.migrate(engine, args.migrations)
            if done and before:
                print(
                    f"{engine.name}: the database was migrated part way ({before} applied); "
                    f"applied the {len(done)} pending migration(s) before loading",
                    file=sys.stderr,
                )
            load = synth.load_duckdb if engine.name == "duckdb" else synth.load_postgres
            try:
                counts = load(engine, args.source, progress=tick, migrations=args.migrations)
            finally:
                for bar in bars.values():
                    bar.close()
        print(f"{engine.name}: loaded {sum(counts.values()):,} rows into {len(counts)} tables")
        return 0
    raise WorkbookError("data: choose an action: generate or load (see 'workbook data --help')")


def main(argv: list[str] | None = None) -> int:
    """Entry point: user errors end in one line on stderr and exit status 1."""
    try:
        return run(argv)
    except WorkbookError as exc:
        print(f"workbook: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("workbook: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
