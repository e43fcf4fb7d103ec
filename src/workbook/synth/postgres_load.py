"""Load a generated folder into a migrated PostgreSQL schema, all or nothing, every constraint validated."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path

import duckdb

from ..errors import WorkbookError, first_line
from . import folder as fd
from .duckdb_load import design_tables
from .ready import check_ready


def _connect(
    threads: int | None = None, memory_limit: str = "2GB", temp: Path | None = None
) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(config={"autoinstall_known_extensions": False})
    try:
        con.execute("SET enable_progress_bar = false")
    except (
        duckdb.Error
    ):  # inside Jupyter without ipywidgets DuckDB refuses to touch the setting; it is off there
        pass
    con.execute(f"SET memory_limit = '{memory_limit}'")
    con.execute("SET preserve_insertion_order = true")
    con.execute("SET TimeZone = 'UTC'")
    if threads:
        con.execute(f"SET threads = {threads}")
    if temp is not None:
        con.execute(f"SET temp_directory = '{temp}'")
    return con


PG_EPOCH_US = 946_684_800_000_000  # 2000-01-01 in Unix microseconds: PostgreSQL's timestamp origin
NULL_FIELD = "'\\xFF\\xFF\\xFF\\xFF'::BLOB"


def _be(expr: str, bits: int) -> str:
    """DuckDB SQL for a signed integer as big-endian two's complement bytes."""
    mod = 1 << bits
    return f"unhex(printf('%0{bits // 4}x', (({expr})::HUGEINT + {mod}) % {mod}))"


def _field(column: str, pg_type: str) -> str:
    """DuckDB SQL for one field of PostgreSQL's binary COPY format: int32 length, then the value."""
    c = f'"{column}"'
    if pg_type == "uuid":
        value = f"unhex(replace({c}::VARCHAR, '-', ''))"
        body = f"'\\x00\\x00\\x00\\x10'::BLOB || {value}"
    elif pg_type == "text":
        body = f"{_be(f'strlen({c})', 32)} || encode({c})"
    elif pg_type == "jsonb":  # version byte 1, then the JSON text
        body = f"{_be(f'strlen({c}::VARCHAR) + 1', 32)} || '\\x01'::BLOB || encode({c}::VARCHAR)"
    elif pg_type == "timestamp with time zone":
        body = f"'\\x00\\x00\\x00\\x08'::BLOB || {_be(f'epoch_us({c}) - {PG_EPOCH_US}', 64)}"
    elif pg_type == "integer":
        body = f"'\\x00\\x00\\x00\\x04'::BLOB || {_be(c, 32)}"
    elif pg_type == "boolean":
        body = f"'\\x00\\x00\\x00\\x01'::BLOB || CASE WHEN {c} THEN '\\x01'::BLOB ELSE '\\x00'::BLOB END"
    else:
        raise WorkbookError(f"column {column}: no binary COPY encoding for PostgreSQL type {pg_type}")
    return f"CASE WHEN {c} IS NULL THEN {NULL_FIELD} ELSE {body} END"


def binary_rows_sql(path: Path, columns: list[tuple[str, str]]) -> str:
    """A DuckDB query giving each Parquet row as one PostgreSQL binary COPY tuple (a BLOB)."""
    fields = " || ".join(_field(name, pg_type) for name, pg_type in columns)
    return f"SELECT {_be(len(columns), 16)} || {fields} AS tuple FROM read_parquet('{path}')"


COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00"
COPY_TRAILER = b"\xff\xff"


def _tuple_chunks(reader):
    """The bytes of each Arrow batch of encoded tuples, read on a worker thread while PostgreSQL ingests."""
    import queue
    import threading

    q: queue.Queue = queue.Queue(maxsize=4)
    done = object()

    def produce() -> None:
        try:
            for batch in reader:  # DuckDB computes the batch without holding the GIL
                arr = batch.column(0)
                offsets = memoryview(arr.buffers()[1]).cast(
                    "q" if arr.type.equals(__import__("pyarrow").large_binary()) else "i"
                )
                start, end = offsets[arr.offset], offsets[arr.offset + len(arr)]
                q.put((len(arr), bytes(memoryview(arr.buffers()[2])[start:end])))
        except BaseException as exc:  # handed to the consumer
            q.put(exc)
        q.put(done)

    worker = threading.Thread(target=produce, daemon=True)
    worker.start()
    while (item := q.get()) is not done:
        if isinstance(item, BaseException):
            raise item
        yield item
    worker.join()


def load_postgres(
    db,
    folder: Path,
    progress: Callable[[str, int], None] | None = None,
    batch_rows: int = 100_000,
    timings: dict[str, float] | None = None,
    migrations: Path | None = None,
    tables: Sequence[str] | None = None,
) -> dict[str, int]:
    """COPY every table into a migrated PostgreSQL schema in one transaction.

    Keys, foreign keys and secondary indexes are dropped first and rebuilt after the data is in
    (a sorted build beats row-by-row maintenance, and re-adding each key and foreign key validates
    every row), user triggers are off during the load, COPY uses FREEZE, then ANALYZE runs. Rows
    stream from DuckDB, which encodes each row in PostgreSQL's binary COPY format (no text parsing
    on the server) batch by batch on a second thread; nothing holds a whole table.

    Every file is checked against the manifest (presence and sha256) before anything is loaded, and
    each table's row count is checked right after its COPY, inside the transaction, so a mismatch
    (or a file changed during the load) rolls everything back.
    """
    import psycopg

    folder = Path(folder)
    tables = design_tables() if tables is None else tables
    m, seen = fd.verify(folder, tables)
    check_ready(db, "the PostgreSQL schema", migrations, tables)
    schema = db.scalar("SELECT current_schema()")
    src = _connect(threads=2, memory_limit="1GB")
    step = "preparing"
    try:
        with db.transaction():
            db.execute("SET LOCAL maintenance_work_mem = '512MB'")
            db.execute("SET LOCAL max_parallel_maintenance_workers = 2")
            keys = db.fetchall(
                "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid), contype::text FROM pg_constraint "
                "WHERE contype IN ('p', 'u', 'f') AND connamespace = ?::regnamespace "
                "ORDER BY CASE contype WHEN 'f' THEN 1 ELSE 0 END, conname",
                [schema],
            )
            idx = db.fetchall(
                "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i "
                "JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = ? AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid) "
                "ORDER BY 1",
                [schema],
            )
            for table, name, _, _ in reversed(keys):  # foreign keys first, then the keys they use
                db.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
            for name, _ in idx:
                db.execute(f"DROP INDEX {name}")
            # A bulk load into an empty schema is the one write that bypasses the triggers (audit,
            # updated_at, usage_count): the rows arrive as they were generated, history included.
            for table in tables:
                db.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
            db.execute(f"TRUNCATE {', '.join(tables)}")  # empty already; lets COPY FREEZE skip hint bits
            clock = time.perf_counter()
            for table in tables:
                path = folder / f"{table}.parquet"
                step = f"COPY {table} from {path}"
                names = [
                    r[0] for r in src.execute(f"DESCRIBE SELECT * FROM read_parquet('{path}')").fetchall()
                ]
                types = dict(
                    db.fetchall(
                        "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
                        "WHERE attrelid = ?::regclass AND attnum > 0 AND NOT attisdropped",
                        [table],
                    )
                )
                unknown = [n for n in names if n not in types]
                if unknown:
                    raise WorkbookError(
                        f"{path}: column(s) {', '.join(unknown)} are not columns of table {table}; "
                        "nothing was loaded"
                    )
                reader = src.execute(binary_rows_sql(path, [(n, types[n]) for n in names])).to_arrow_reader(
                    batch_rows
                )
                cols = ", ".join(f'"{n}"' for n in names)
                cur = db.con.cursor()
                with cur.copy(f"COPY {table} ({cols}) FROM STDIN (FORMAT binary, FREEZE)") as copy:
                    copy.write(COPY_HEADER)
                    for rows, data in _tuple_chunks(reader):
                        copy.write(data)
                        if progress:
                            progress(table, rows)
                    copy.write(COPY_TRAILER)
                if cur.rowcount != m.rows[table]:
                    raise WorkbookError(
                        f"{path}: holds {cur.rowcount} rows, manifest.json says {m.rows[table]}; nothing was loaded"
                    )
            if timings is not None:
                timings["copy"] = time.perf_counter() - clock
                clock = time.perf_counter()
            for table, name, ddl, kind in keys:
                step = f"{'validating foreign key' if kind == 'f' else 'rebuilding key'} {name}"
                db.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {ddl}')
            for name, ddl in idx:
                step = f"rebuilding index {name}"
                db.execute(ddl)
            for table in tables:
                db.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")
            fd.check_unchanged(seen)
            step = "COMMIT"
    except (psycopg.Error, duckdb.Error) as exc:
        raise WorkbookError(f"{step} failed, nothing was loaded: {first_line(exc)}") from None
    finally:
        src.close()
    if timings is not None:
        timings["rebuild_keys_and_indexes"] = time.perf_counter() - clock
        clock = time.perf_counter()
    for table in tables:
        db.execute(f"ANALYZE {table}")
    if timings is not None:
        timings["analyze"] = time.perf_counter() - clock
    return {t: db.scalar(f"SELECT count(*) FROM {t}") for t in tables}
