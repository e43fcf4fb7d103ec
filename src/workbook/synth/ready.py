"""What every loader checks of its target first: migrated to the end, and empty."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from .. import config
from ..errors import WorkbookError, first_line


def check_ready(db, where: str, migrations: Path | None, tables: Sequence[str]) -> None:
    """Refuse a database that is not migrated to the end, or that already holds data."""
    from .. import migrate

    todo = migrate.pending(db, migrate.discover(migrations or config.MIGRATIONS_DIR))
    if todo:
        names = todo[0].name if len(todo) == 1 else f"{todo[0].name} to {todo[-1].name}"
        target = f" --database {db.path}" if getattr(db, "path", ":memory:") != ":memory:" else ""
        engine = "" if db.name == "duckdb" else " --engine postgres"
        raise WorkbookError(
            f"{where} is not fully migrated: {len(todo)} migration(s) pending ({names}); "
            f"run 'workbook migrate{engine}{target}' first ('workbook data load' does it for you)"
        )
    counts = {}
    for t in tables:
        try:
            counts[t] = db.scalar(f"SELECT count(*) FROM {t}")
        except Exception as exc:  # a table dropped by hand after migrating
            raise WorkbookError(
                f"{where}: table {t} cannot be read ({first_line(exc)}); migrate a fresh database"
            ) from None
    check_empty(counts, where)


def check_empty(counts: dict[str, int], where: str) -> None:
    full = {t: n for t, n in counts.items() if n}
    if full:
        listing = ", ".join(f"{t} ({n} rows)" for t, n in sorted(full.items()))
        raise WorkbookError(f"{where} already holds data: {listing}; load into an empty, migrated database")
