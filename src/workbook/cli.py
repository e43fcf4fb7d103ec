"""The `workbook` command: migrate, info, validate (and docs) on either engine."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import config
from .engines import ENGINES, connect
from .errors import WorkbookError


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
        ("migrate", "apply pending migrations in order"),
        ("info", "list migrations: applied, pending, changed or missing, with checksums"),
        ("validate", "check applied migrations against the files; non-zero on drift"),
    ]:
        _engine_args(sub.add_parser(name, help=text, description=text))
    sub.add_parser("docs", help="execute the notebooks and write the design document")
    sub.add_parser("check-docs", help="fail when the committed design document is stale")
    return parser


def _open(args: argparse.Namespace):
    if args.engine not in ENGINES:
        raise WorkbookError(f"--engine {args.engine}: unknown engine (choose from {', '.join(ENGINES)})")
    database = args.database
    if args.engine == "duckdb" and database is None:
        config.DEFAULT_DUCKDB_PATH.parent.mkdir(parents=True, exist_ok=True)
        database = config.DEFAULT_DUCKDB_PATH
    return connect(args.engine, database, isolated=False)


def run(argv: list[str] | None = None) -> int:
    """Parse and run one command; returns the exit status."""
    from . import migrate as mig

    args = build_parser().parse_args(argv)
    if args.command is None:
        build_parser().print_help()
        return 2
    if args.command in ("docs", "check-docs"):
        from . import docs

        return docs.main(["build" if args.command == "docs" else "check"])
    migrations = mig.discover(args.migrations)
    with _open(args) as engine:
        if args.command == "migrate":
            done = mig.migrate(engine, args.migrations, progress=lambda m: print(m, file=sys.stderr))
            total = len(mig.applied(engine))
            print(f"{engine.name}: applied {len(done)} migration(s); {total} applied in all, none pending")
            if getattr(engine, "server", None) is not None:
                print("(a throwaway server: set WORKBOOK_PG_DSN or --database to keep the result)")
        elif args.command == "info":
            rows = mig.status(engine, migrations)
            print(f"{'version':<8} {'state':<8} {'checksum (sha256)':<64}  description")
            for r in rows:
                print(f"{r.version:<8} {r.state:<8} {r.checksum:<64}  {r.description}")
        elif args.command == "validate":
            todo = mig.pending(engine, migrations)
            print(
                f"{engine.name}: {len(mig.applied(engine))} applied migration(s) match their files; {len(todo)} pending"
            )
    return 0


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
