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
    timings: dict[str, float] | None = None,
) -> dict[str, int]:
    """Insert every table's Parquet file into a migrated DuckDB database, all or nothing.

    Every file is checked against the manifest (presence and sha256) before anything is loaded; each
    table's row count is checked against the manifest inside the transaction, and no file may change
    until the commit. After the commit a CHECKPOINT writes the data into the database file.

    Every key, foreign key and index stays on: DuckDB 1.5 can add neither a foreign key nor a unique
    constraint to a table that exists, so each row goes through every ART index as it is inserted
    (and again when the commit merges the transaction's indexes into the table's). That is most of
    the time at scale (`make bench-data` measures the same rows into unconstrained tables). The
    automatic checkpoint is held off until the load's own CHECKPOINT: otherwise DuckDB checkpoints
    while committing and serializes the new indexes twice.
    """
    import time

    clock = time.perf_counter()
    folder = Path(folder)
    tables = design_tables() if tables is None else tables
    m, seen = fd.verify(folder, tables)
    check_ready(db, "the DuckDB database", migrations, tables)
    step = "CHECKPOINT before loading"
    threshold = db.scalar("SELECT current_setting('checkpoint_threshold')")
    try:
        # Make the schema durable in the database file before the long transaction starts.
        db.execute("CHECKPOINT")
        db.execute("SET checkpoint_threshold = '1TB'")
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
                if timings is not None:
                    timings[table] = time.perf_counter() - clock
                    clock = time.perf_counter()
            fd.check_unchanged(seen)
            step = "COMMIT"
    except duckdb.Error as exc:
        db.execute(f"SET checkpoint_threshold = '{threshold}'")
        raise WorkbookError(f"{step} failed, nothing was loaded: {first_line(exc)}") from None
    if timings is not None:
        timings["commit"] = time.perf_counter() - clock
        clock = time.perf_counter()
    try:  # the rows are committed (in the WAL); write them into the database file
        db.execute("CHECKPOINT")
    except duckdb.Error as exc:
        raise WorkbookError(
            f"CHECKPOINT after loading failed: {first_line(exc)}; the rows are committed and the next open "
            "replays them from the write-ahead log"
        ) from None
    finally:
        db.execute(f"SET checkpoint_threshold = '{threshold}'")
    if timings is not None:
        timings["checkpoint"] = time.perf_counter() - clock
    return {t: db.scalar(f"SELECT count(*) FROM {t}") for t in tables}
