"""Load a generated folder into a migrated DuckDB database, all or nothing, every constraint on."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import duckdb

from ..errors import WorkbookError, first_line
from . import folder as fd
from .ready import check_ready


def design_tables() -> tuple[str, ...]:
    from ..design.synthetic import SPEC

    return SPEC.tables


def load_duckdb(
    db,
    folder: Path,
    progress: Callable[[str, int], None] | None = None,
    migrations: Path | None = None,
    tables: Sequence[str] | None = None,
) -> dict[str, int]:
    """Insert every table's Parquet file into a migrated DuckDB database, all or nothing.

    Every file is checked against the manifest (presence and sha256) before anything is loaded; each
    table's row count is checked against the manifest inside the transaction, and no file may change
    until the commit. After the commit a CHECKPOINT writes the data into the database file.
    """
    folder = Path(folder)
    tables = design_tables() if tables is None else tables
    m, seen = fd.verify(folder, tables)
    check_ready(db, "the DuckDB database", migrations, tables)
    step = "CHECKPOINT before loading"
    try:
        # Make the schema durable in the database file before the long transaction starts.
        db.execute("CHECKPOINT")
        with db.transaction():
            for table in tables:
                path = folder / f"{table}.parquet"
                step = f"loading {table} from {path}"
                db.execute(f"INSERT INTO {table} BY NAME SELECT * FROM read_parquet('{path}')")
                n = db.scalar(f"SELECT count(*) FROM {table}")
                if n != m.rows[table]:
                    raise WorkbookError(
                        f"{path}: holds {n} rows, manifest.json says {m.rows[table]}; nothing was loaded"
                    )
                if progress:
                    progress(table, n)
            fd.check_unchanged(seen)
            step = "COMMIT"
    except duckdb.Error as exc:
        raise WorkbookError(f"{step} failed, nothing was loaded: {first_line(exc)}") from None
    try:  # the rows are committed (in the WAL); write them into the database file
        db.execute("CHECKPOINT")
    except duckdb.Error as exc:
        raise WorkbookError(
            f"CHECKPOINT after loading failed: {first_line(exc)}; the rows are committed and the next open "
            "replays them from the write-ahead log"
        ) from None
    return {t: db.scalar(f"SELECT count(*) FROM {t}") for t in tables}
