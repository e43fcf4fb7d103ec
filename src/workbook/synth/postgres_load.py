"""Load a generated folder into a migrated PostgreSQL schema, all or nothing, every constraint validated.

Rows reach the server in PostgreSQL's binary COPY format (no text parsing there): `encode_batch` lays
each Arrow batch of a Parquet file out as binary tuples with numpy (fixed-width fields) and Arrow's
element-wise concatenation (variable-length ones), on a second thread while the server ingests the
previous batch. Keys, foreign keys and secondary indexes are dropped for the load and rebuilt after
it (`LoadPlan`), which `workbook.bench_pgload` reuses so that its psql peer runs the same statements.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ..errors import WorkbookError, first_line
from . import folder as fd
from .duckdb_load import design_tables
from .ready import check_ready

# Given to the load transaction with SET LOCAL (and by the benchmark to its peer): a sort for a key
# or index build stays in memory, B-tree builds may use parallel workers, and foreign-key
# validation (which PostgreSQL runs with work_mem raised to maintenance_work_mem) hashes in memory.
SESSION_SETTINGS: dict[str, str] = {
    "maintenance_work_mem": "512MB",
    "max_parallel_maintenance_workers": "2",
}

COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00"
COPY_TRAILER = b"\xff\xff"
PG_EPOCH_US = 946_684_800_000_000  # 2000-01-01 in Unix microseconds: PostgreSQL's timestamp origin
PG_EPOCH_DAYS = 10_957  # 2000-01-01 in days since 1970-01-01: PostgreSQL's date origin
_I64 = np.iinfo(np.int64)
_I32 = np.iinfo(np.int32)

# PostgreSQL type (as format_type names it, without a length) -> binary width, numpy big-endian dtype.
_FIXED = {
    "uuid": (16, None),
    "boolean": (1, None),
    "smallint": (2, ">i2"),
    "integer": (4, ">i4"),
    "bigint": (8, ">i8"),
    "real": (4, ">f4"),
    "double precision": (8, ">f8"),
    "date": (4, ">i4"),
    "timestamp with time zone": (8, ">i8"),
    "timestamp without time zone": (8, ">i8"),
}
_TEXT = ("text", "character varying", "json", "jsonb")


class EncodeError(ValueError):
    """A value or column the binary COPY encoder cannot send as its PostgreSQL type."""


def base_type(pg_type: str) -> str:
    """The PostgreSQL type without its length or precision: 'character varying(20)' -> 'character varying'."""
    return pg_type.split("(", 1)[0].strip()


# A piece of every row of a batch: an (n, width) uint8 array (the same width in every row) or a
# binary Arrow array (a width of its own per row; a null counts as empty).
Piece = np.ndarray | pa.Array


def _valid(arr: pa.Array) -> np.ndarray | None:
    return None if arr.null_count == 0 else arr.is_valid().to_numpy(zero_copy_only=False)


def _values(arr: pa.Array, dtype: np.dtype) -> np.ndarray:
    """The values buffer of a primitive Arrow array as numpy (whatever sits in null slots included)."""
    n = len(arr)
    buf = arr.buffers()[1]
    if buf is None:
        return np.zeros(n, dtype)
    return np.frombuffer(buf, dtype, count=n, offset=arr.offset * np.dtype(dtype).itemsize)


def _header(n: int, width: int | np.ndarray, valid: np.ndarray | None) -> np.ndarray:
    """Each field's int32 length (-1 for NULL) as (n, 4) big-endian bytes."""
    if valid is None and np.isscalar(width):
        return np.broadcast_to(np.frombuffer(int(width).to_bytes(4, "big", signed=True), np.uint8), (n, 4))
    head = np.array(np.broadcast_to(width, n), ">i4")
    if valid is not None:
        head[~valid] = -1
    return head.view(np.uint8).reshape(n, 4)


def _ranged(v: np.ndarray, valid: np.ndarray | None, lo: float, hi: float, pg_type: str) -> None:
    seen = v if valid is None else v[valid]
    if len(seen) and (seen.min() < lo or seen.max() > hi):
        bad = seen[(seen < lo) | (seen > hi)][0]
        raise EncodeError(f"value {bad} is out of range for PostgreSQL type {pg_type}")


def _fixed_payload(arr: pa.Array, pg_type: str, valid: np.ndarray | None) -> np.ndarray:
    """The value bytes of a fixed-width type, (n, width), whatever sits in null slots included."""
    n, t = len(arr), arr.type
    width, dtype = _FIXED[pg_type]
    if pg_type == "uuid":
        if not (pa.types.is_fixed_size_binary(t) and t.byte_width == 16):
            raise EncodeError(f"Arrow type {t} cannot be sent as PostgreSQL type uuid")
        buf = arr.buffers()[1]
        if buf is None:
            return np.zeros((n, 16), np.uint8)
        return np.frombuffer(buf, np.uint8, count=n * 16, offset=arr.offset * 16).reshape(n, 16)
    if pg_type == "boolean":
        if not pa.types.is_boolean(t):
            raise EncodeError(f"Arrow type {t} cannot be sent as PostgreSQL type boolean")
        return pc.fill_null(arr, False).to_numpy(zero_copy_only=False).view(np.uint8).reshape(n, 1)
    if pg_type in ("smallint", "integer", "bigint", "real", "double precision"):
        floating = pg_type in ("real", "double precision")
        if not (pa.types.is_floating(t) if floating else pa.types.is_integer(t)):
            raise EncodeError(f"Arrow type {t} cannot be sent as PostgreSQL type {pg_type}")
        if pa.types.is_float16(t):
            arr, t = arr.cast(pa.float32()), pa.float32()
        v = _values(arr, np.dtype(t.to_pandas_dtype()))
        narrower = v.dtype.itemsize > width or (v.dtype.kind == "u" and v.dtype.itemsize == width)
        if not floating and narrower:
            _ranged(v, valid, np.iinfo(dtype).min, np.iinfo(dtype).max, pg_type)
        elif floating and narrower:  # float64 into real: finite values must fit
            finite = np.isfinite(v) if valid is None else np.isfinite(v) & valid
            _ranged(v, finite, -np.finfo(np.float32).max, np.finfo(np.float32).max, pg_type)
    elif pg_type == "date":
        if not (pa.types.is_date32(t) or pa.types.is_date64(t)):
            raise EncodeError(f"Arrow type {t} cannot be sent as PostgreSQL type date")
        days = _values(arr.cast(pa.date32()) if pa.types.is_date64(t) else arr, np.int32).astype(np.int64)
        v = days - PG_EPOCH_DAYS
        v[days == _I32.max] = _I32.max  # DuckDB's infinity is PostgreSQL's
        v[days <= _I32.min + 1] = _I32.min
        _ranged(v, valid, _I32.min, _I32.max, pg_type)
    else:  # a timestamp: microseconds since 2000-01-01
        if not pa.types.is_timestamp(t):
            raise EncodeError(f"Arrow type {t} cannot be sent as PostgreSQL type {pg_type}")
        raw = _values(arr, np.int64)
        per_us = {"s": 1_000_000, "ms": 1_000, "us": 1, "ns": 0}[t.unit]
        finite = valid
        if per_us == 1:  # DuckDB's infinities (int64 max and -max) are PostgreSQL's (int64 max and min)
            plus, minus = raw == _I64.max, raw <= _I64.min + 1
            if plus.any() or minus.any():
                finite = ~(plus | minus) if valid is None else valid & ~(plus | minus)
        if per_us > 1:
            _ranged(raw, finite, _I64.min // per_us + 1, _I64.max // per_us, pg_type)
        us = raw * per_us if per_us > 1 else raw if per_us else raw // 1000
        _ranged(us, finite, _I64.min + PG_EPOCH_US, _I64.max, pg_type)
        v = us - PG_EPOCH_US  # NULL and infinite slots may wrap around: they are not sent as computed
        if finite is not valid:
            v[plus], v[minus] = _I64.max, _I64.min
    return v.astype(dtype, copy=False).view(np.uint8).reshape(n, width)


def _text(arr: pa.Array, pg_type: str) -> pa.Array:
    """A text-like Arrow array as plain binary with int32 offsets (zero-copy for strings)."""
    t = arr.type
    if pa.types.is_large_string(t) or pa.types.is_string_view(t):
        arr, t = arr.cast(pa.string()), pa.string()
    if not pa.types.is_string(t):
        raise EncodeError(f"Arrow type {t} cannot be sent as PostgreSQL type {pg_type}")
    return arr.view(pa.binary())


def _block(pieces: Sequence[np.ndarray]) -> np.ndarray:
    """Fixed-width pieces side by side, row by row: one C-ordered (n, total width) array."""
    out = np.empty((pieces[0].shape[0], sum(p.shape[1] for p in pieces)), np.uint8)
    at = 0
    for p in pieces:
        out[:, at : at + p.shape[1]] = p
        at += p.shape[1]
    return out


def column_pieces(arr: pa.Array, pg_type: str) -> list[Piece]:
    """The pieces of one column's binary COPY fields (length word, then the value) for every row."""
    pg_type = base_type(pg_type)
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if isinstance(arr, pa.DictionaryArray):  # a dictionary-encoded Parquet column
        arr = arr.dictionary_decode()
    if isinstance(arr, pa.ExtensionArray):  # uuid and json: their storage is what is sent
        arr = arr.storage
    n, valid = len(arr), _valid(arr)
    if pg_type in _FIXED:
        width = _FIXED[pg_type][0]
        payload = _fixed_payload(arr, pg_type, valid)
        if valid is None:
            return [_header(n, width, None), payload]
        # NULL fields are just their length word: keep the value bytes of the valid rows only.
        field = _block([_header(n, width, valid), payload])
        keep = np.ones(field.shape, bool)
        keep[~valid, 4:] = False
        offsets = np.zeros(n + 1, np.int32)
        np.cumsum(np.where(valid, 4 + width, 4), out=offsets[1:])
        return [
            pa.Array.from_buffers(pa.binary(), n, [None, pa.py_buffer(offsets), pa.py_buffer(field[keep])])
        ]
    if pg_type not in _TEXT:
        raise EncodeError(f"no binary COPY encoding for PostgreSQL type {pg_type}")
    data = _text(arr, pg_type)
    lengths = pc.binary_length(data).fill_null(0).to_numpy(zero_copy_only=False)
    if pg_type != "jsonb":
        return [_header(n, lengths, valid), data]
    if valid is None:  # jsonb: a version byte (1), then the JSON text
        return [_header(n, lengths + 1, None), np.ones((n, 1), np.uint8), data]
    return [_header(n, lengths + 1, valid), pc.binary_join_element_wise(pa.scalar(b"\x01"), data, b"")]


def encode_batch(batch: pa.RecordBatch | pa.Table, pg_types: Sequence[str]) -> memoryview:
    """Every row of a batch as one PostgreSQL binary COPY tuple, concatenated (no header or trailer).

    `pg_types` gives the PostgreSQL type of each column of the batch, in order. NULLs of every type
    become a length of -1; dictionary-encoded columns are decoded. A value the binary form cannot
    hold (an integer out of its type's range, a timestamp whose microseconds overflow) raises
    EncodeError naming it; PostgreSQL itself refuses the rest (a timestamp before 4714 BC, text too
    long for its varchar, malformed JSON), which rolls the COPY back.
    """
    n = batch.num_rows
    if len(pg_types) != batch.num_columns:
        raise EncodeError(f"{batch.num_columns} columns but {len(pg_types)} PostgreSQL types")
    pieces: list[Piece] = [np.broadcast_to(np.frombuffer(len(pg_types).to_bytes(2, "big"), np.uint8), (n, 2))]
    for i, pg_type in enumerate(pg_types):
        try:
            pieces += column_pieces(batch.column(i), pg_type)
        except EncodeError as exc:
            raise EncodeError(f"column {batch.schema.field(i).name}: {exc}") from None
    if n == 0:  # every column was still checked against its type
        return memoryview(b"")
    # Runs of fixed-width pieces become one (n, width) block; the blocks and the variable-length
    # pieces are then concatenated row by row.
    parts: list[pa.Array | np.ndarray] = []
    run: list[np.ndarray] = []
    for piece in [*pieces, None]:
        if isinstance(piece, np.ndarray):
            run.append(piece)
            continue
        if run:
            parts.append(_block(run))
            run = []
        if piece is not None:
            parts.append(piece)
    if len(parts) == 1:  # fixed width only: the block is the tuples
        return memoryview(parts[0]).cast("B")
    arrays = []
    for part in parts:
        if isinstance(part, np.ndarray):
            width = part.shape[1]
            offsets = np.arange(0, (n + 1) * width, width, dtype=np.int64)
            if offsets[-1] > _I32.max:
                raise EncodeError("a batch of more than 2 GiB: use fewer rows per batch")
            arrays.append(
                pa.Array.from_buffers(
                    pa.binary(), n, [None, pa.py_buffer(offsets.astype(np.int32)), pa.py_buffer(part)]
                )
            )
        else:
            arrays.append(part)
    try:
        rows = pc.binary_join_element_wise(*arrays, b"", null_handling="replace", null_replacement="")
    except pa.ArrowCapacityError:
        raise EncodeError("a batch of more than 2 GiB: use fewer rows per batch") from None
    offsets = np.frombuffer(rows.buffers()[1], np.int32, count=n + 1, offset=rows.offset * 4)
    start, end = int(offsets[0]), int(offsets[-1])
    return memoryview(rows.buffers()[2]).cast("B")[start:end]


@dataclass(frozen=True)
class LoadPlan:
    """The statements around the COPYs of a load: what is dropped and switched off first, and rebuilt after.

    Read from the schema's catalog, so `workbook.bench_pgload` gives its psql peer exactly the
    statements the loader runs.
    """

    tables: tuple[str, ...]
    keys: list[tuple[str, str, str]]  # table, primary key or unique constraint, its definition
    indexes: list[tuple[str, str]]  # index, its CREATE INDEX statement
    foreign_keys: list[tuple[str, str, str, bool]]  # table, constraint, definition, an index leads with it
    hashjoin: str = "on"  # the session's enable_hashjoin, restored after the merged checks

    @classmethod
    def read(cls, db, tables: Sequence[str]) -> LoadPlan:  # noqa: ANN001 - a PostgresEngine
        """The plan for loading `tables` into the engine's current schema."""
        rows = db.fetchall(
            "SELECT c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid), c.contype::text, "
            "EXISTS (SELECT 1 FROM pg_index i JOIN pg_class x ON x.oid = i.indexrelid "
            "JOIN pg_am a ON a.oid = x.relam WHERE i.indrelid = c.conrelid AND a.amname = 'btree' "
            "AND i.indpred IS NULL AND i.indexprs IS NULL AND (SELECT array_agg(k ORDER BY o) "
            "FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS u(k, o) WHERE o <= cardinality(c.conkey)) = c.conkey) "
            "FROM pg_constraint c WHERE c.contype IN ('p', 'u', 'f') AND c.connamespace = current_schema()::regnamespace "
            "ORDER BY c.conname"
        )
        indexes = db.fetchall(
            "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i "
            "JOIN pg_class c ON c.oid = i.indrelid WHERE c.relnamespace = current_schema()::regnamespace "
            "AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid) ORDER BY 1"
        )
        keys = [(t, name, ddl) for t, name, ddl, kind, _ in rows if kind != "f"]
        fks = [(t, name, ddl, ordered) for t, name, ddl, kind, ordered in rows if kind == "f"]
        hashjoin = db.scalar("SELECT current_setting('enable_hashjoin')")
        return cls(tuple(tables), keys, [tuple(i) for i in indexes], fks, hashjoin)

    def before_copy(self) -> list[tuple[str, str]]:
        """(step, statement) pairs run in the load's transaction before the first COPY."""
        steps = [(f"setting {k}", f"SET LOCAL {k} = '{v}'") for k, v in SESSION_SETTINGS.items()]
        steps += [
            (f"dropping foreign key {name}", f'ALTER TABLE {t} DROP CONSTRAINT "{name}"')
            for t, name, _, _ in self.foreign_keys
        ]
        steps += [
            (f"dropping key {name}", f'ALTER TABLE {t} DROP CONSTRAINT "{name}"') for t, name, _ in self.keys
        ]
        steps += [(f"dropping index {name}", f"DROP INDEX {name}") for name, _ in self.indexes]
        # A bulk load into an empty schema is the one write that bypasses the triggers (audit,
        # updated_at, usage_count): the rows arrive as they were generated, history included.
        steps += [
            (f"disabling the triggers of {t}", f"ALTER TABLE {t} DISABLE TRIGGER USER") for t in self.tables
        ]
        # The tables are empty already; truncating them in this transaction lets COPY FREEZE write
        # frozen, all-visible rows (no hint bits to set later, index-only scans from the start).
        steps.append(("truncating", f"TRUNCATE {', '.join(self.tables)}"))
        return steps

    def after_copy(self) -> list[tuple[str, str]]:
        """(step, statement) pairs that put every key, index, foreign key and trigger back, validating each row.

        Keys and indexes come first, so that a foreign key whose columns lead an index is validated
        by merging two ordered index-only scans (the rows are frozen, so all-visible): PostgreSQL's
        check query would otherwise hash the whole referenced key, slower once it outgrows the
        CPU caches. Every other foreign key is checked with the planner left alone.
        """
        steps = [
            (f"rebuilding key {name}", f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {ddl}')
            for table, name, ddl in self.keys
        ]
        steps += [(f"rebuilding index {name}", ddl) for name, ddl in self.indexes]
        for merge in (True, False):
            group = [fk for fk in self.foreign_keys if fk[3] is merge]
            if merge and group:
                steps.append(("planning foreign-key checks as merges", "SET LOCAL enable_hashjoin = off"))
            steps += [
                (f"validating foreign key {name}", f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {ddl}')
                for table, name, ddl, _ in group
            ]
            if merge and group:
                steps.append(("planning foreign-key checks", f"SET LOCAL enable_hashjoin = {self.hashjoin}"))
        steps += [
            (f"enabling the triggers of {t}", f"ALTER TABLE {t} ENABLE TRIGGER USER") for t in self.tables
        ]
        return steps


@dataclass(frozen=True)
class _Source:
    table: str
    path: Path
    names: list[str]  # in the order COPY sends them
    types: list[str]  # their PostgreSQL types


def _sources(db, folder: Path, tables: Sequence[str]) -> list[_Source]:  # noqa: ANN001
    """Each table's file, columns and PostgreSQL types, after checking that every column can be sent."""
    out = []
    for table in tables:
        path = folder / f"{table}.parquet"
        try:
            schema = pq.read_schema(path)
        except (OSError, pa.ArrowException) as exc:
            raise WorkbookError(
                f"{path}: not a readable Parquet file ({first_line(exc)}); nothing was loaded"
            ) from None
        types = dict(
            db.fetchall(
                "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
                "WHERE attrelid = ?::regclass AND attnum > 0 AND NOT attisdropped",
                [table],
            )
        )
        unknown = [n for n in schema.names if n not in types]
        if unknown:
            raise WorkbookError(
                f"{path}: column(s) {', '.join(unknown)} are not columns of table {table}; nothing was loaded"
            )
        # Fixed-width columns that hold no NULL go first: they form one block per row.
        fields = sorted(schema, key=lambda f: not (base_type(types[f.name]) in _FIXED and not f.nullable))
        names = [f.name for f in fields]
        try:
            encode_batch(pa.schema(fields).empty_table(), [types[n] for n in names])
        except EncodeError as exc:
            raise WorkbookError(f"{path}: {exc} (table {table}); nothing was loaded") from None
        out.append(_Source(table, path, names, [types[n] for n in names]))
    return out


class _Encoder:
    """Reads and encodes every table's batches on a thread of its own, a few batches ahead of COPY."""

    def __init__(self, sources: Sequence[_Source], batch_rows: int, depth: int = 4) -> None:
        self.sources, self.batch_rows = sources, batch_rows
        self.queue: queue.Queue = queue.Queue(maxsize=depth)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="workbook-copy-encoder", daemon=True)
        self.thread.start()

    def _put(self, item: object) -> bool:
        while not self.stop.is_set():
            try:
                self.queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _run(self) -> None:
        try:
            for src in self.sources:
                with pq.ParquetFile(src.path) as f:
                    for batch in f.iter_batches(self.batch_rows, columns=src.names, use_threads=False):
                        if not self._put((batch.num_rows, encode_batch(batch, src.types))):
                            return
                if not self._put(None):  # the end of this table
                    return
        except BaseException as exc:  # raised in the loader's thread, inside its transaction
            self._put(exc)

    def batches(self) -> Iterator[tuple[int, memoryview]]:
        """(rows, tuples) of the next table, batch by batch, until its end."""
        while (item := self.queue.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item

    def close(self) -> None:
        self.stop.set()
        self.thread.join()


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
    stream in PostgreSQL's binary COPY format, encoded batch by batch from the Parquet columns on a
    second thread while the server ingests; nothing holds a whole table.

    Every file is checked against the manifest (presence and sha256) before anything is loaded, and
    each table's row count is checked right after its COPY, inside the transaction, so a mismatch
    (or a file changed during the load) rolls everything back. `timings` gets the seconds of each
    phase: verify, prepare, copy, rebuild_keys_and_indexes (up to the commit) and analyze.
    """
    import psycopg

    clock = time.perf_counter()

    def lap(phase: str) -> None:
        nonlocal clock
        if timings is not None:
            timings[phase] = time.perf_counter() - clock
        clock = time.perf_counter()

    folder = Path(folder)
    tables = design_tables() if tables is None else tables
    m, seen = fd.verify(folder, tables)
    check_ready(db, "the PostgreSQL schema", migrations, tables)
    sources = _sources(db, folder, tables)
    lap("verify")
    step = "reading the schema's keys and indexes"
    encoder = _Encoder(sources, batch_rows)  # the first batches are ready when the first COPY starts
    try:
        with db.transaction():
            plan = LoadPlan.read(db, tables)
            for what, sql in plan.before_copy():
                step = what
                db.execute(sql)
            lap("prepare")
            for src in sources:
                step = f"COPY {src.table} from {src.path}"
                cols = ", ".join(f'"{n}"' for n in src.names)
                cur = db.con.cursor()
                with cur.copy(f"COPY {src.table} ({cols}) FROM STDIN (FORMAT binary, FREEZE)") as copy:
                    copy.write(COPY_HEADER)
                    for rows, data in encoder.batches():
                        copy.write(data)
                        if progress:
                            progress(src.table, rows)
                    copy.write(COPY_TRAILER)
                if cur.rowcount != m.rows[src.table]:
                    raise WorkbookError(
                        f"{src.path}: holds {cur.rowcount} rows, manifest.json says {m.rows[src.table]}; "
                        "nothing was loaded"
                    )
            lap("copy")
            for what, sql in plan.after_copy():
                step = what
                db.execute(sql)
            step = "checking the files are unchanged"
            fd.check_unchanged(seen)
            step = "COMMIT"
    except (psycopg.Error, pa.ArrowException, EncodeError, OSError) as exc:
        raise WorkbookError(f"{step} failed, nothing was loaded: {first_line(exc)}") from None
    finally:
        encoder.close()
    lap("rebuild_keys_and_indexes")
    for table in tables:
        db.execute(f"ANALYZE {table}")
    lap("analyze")
    return {t: db.scalar(f"SELECT count(*) FROM {t}") for t in tables}
