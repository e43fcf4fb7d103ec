"""Write a design's synthetic tables as Parquet, all or nothing, byte-identical for a seed and scale factor.

The design (a `DataSpec`) plans its tables: entity attributes drawn once from independent random
streams, then each table's columns computed chunk by chunk (one Parquet row group at a time) in
the order the rows are written. Tables are written on two threads (numpy and Arrow release the GIL),
each file hashed as it is written.
"""

from __future__ import annotations

import hashlib
import os
import queue
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ..errors import WorkbookError
from . import folder as fd
from .columns import Table, build, schema

ROW_GROUP = 122_880  # rows per Parquet row group (DuckDB's own size: one scan task each)
THREADS = 2


def _plain(arr: pa.Array) -> pa.Array:
    return arr.storage if isinstance(arr, pa.ExtensionArray) else arr


def _encodings(table: Table, first: pa.RecordBatch) -> dict:
    """Parquet settings per column, decided from the first row group's data (so, per seed and SF).

    A text column built as a dictionary is written as one; another non-UUID column whose first row
    group repeats values (under half distinct) is dictionary-encoded. UUIDs are random bytes: no
    dictionary (hashing them costs more time than the smaller file saves) and no codec. Everything else is
    Snappy: cheap to write and to read. Min/max statistics (which let readers skip row groups) are
    kept for times, numbers and flags; for UUIDs and text they cost more to write than they save.
    """
    dictionaries = [n for n in table.columns if pa.types.is_dictionary(first.column(n).type)]
    repeats = [
        n
        for n, c in table.columns.items()
        if c.kind != "uuid"
        and n not in dictionaries
        and first.num_rows
        and pc.count_distinct(_plain(first.column(n))).as_py() * 2 < first.num_rows
    ]
    random_bytes = [n for n, c in table.columns.items() if c.kind == "uuid"]
    return {
        "use_dictionary": dictionaries + repeats,
        "compression": {n: ("none" if n in random_bytes else "snappy") for n in table.columns},
        "write_statistics": [
            n for n, c in table.columns.items() if c.kind in ("timestamptz", "integer", "boolean")
        ],
    }


def _batches(table: Table, row_group: int) -> Iterator[list[pa.Array]]:
    order = table.order
    for a in range(0, max(len(order), 1), row_group):
        rows = order[a : a + row_group]
        yield [build(c, rows) for c in table.columns.values()]


def _ahead(items: Iterator, depth: int = 2) -> Iterator:
    """The items of `items`, computed on a second thread up to `depth` ahead of the consumer."""
    q: queue.Queue = queue.Queue(maxsize=depth)
    done = object()
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                if stop.is_set():
                    return
                q.put(item)
        except BaseException as exc:  # handed to the consumer
            q.put(exc)
        q.put(done)

    worker = threading.Thread(target=produce, daemon=True)
    worker.start()
    try:
        while (item := q.get()) is not done:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while worker.is_alive():  # unblock a producer waiting on a full queue
            try:
                q.get_nowait()
            except queue.Empty:
                worker.join(0.01)


def write_table(table: Table, path: Path, row_group: int = ROW_GROUP) -> tuple[int, str]:
    """Write one table to `path`; returns its row count and sha256.

    Row groups are computed one step ahead on a second thread while the writer encodes the last.
    """
    sch = writer = None
    try:
        for arrays in _ahead(_batches(table, row_group)):
            if sch is None:
                sch = schema(table, pa.RecordBatch.from_arrays(arrays, names=list(table.columns)))
            batch = pa.RecordBatch.from_arrays(arrays, schema=sch)
            if writer is None:
                writer = pq.ParquetWriter(str(path), sch, **_encodings(table, batch))
            writer.write_batch(batch, row_group_size=row_group)
    finally:
        if writer is not None:
            writer.close()
    # Hashing the file just written reads it from the page cache (faster than hashing on the way out
    # through a Python file object). Nothing is fsynced: a file the disk lost in a crash no longer
    # matches the sha256 the manifest records, and every loader checks that before reading a row.
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 22):
            h.update(chunk)
    return len(table.order), h.hexdigest()


def _write_all(spec, sf: float, seed: int, work: Path, manifest, timings: dict, progress) -> None:  # noqa: ANN001
    """Write each table the design plans into `work` as soon as it is planned (two writer threads).

    The plan goes on drawing (the pattern applications, say) while the first tables are written.
    """
    t0 = time.perf_counter()

    def one(table: Table) -> tuple[str, int, str, float]:
        start = time.perf_counter()
        rows, digest = write_table(table, work / f"{table.name}.parquet")
        return table.name, rows, digest, time.perf_counter() - start

    with ThreadPoolExecutor(THREADS) as pool:
        futures = [pool.submit(one, table) for table in spec.plan(sf, seed)]
        timings["plan"] = time.perf_counter() - t0
        for f in futures:
            name, rows, digest, seconds = f.result()
            manifest.rows[name], manifest.sha256[name] = rows, digest
            timings[name] = seconds
            if progress:
                progress(name, rows, seconds)
    if sorted(manifest.rows) != sorted(spec.tables):
        raise WorkbookError(
            f"the data spec planned {sorted(manifest.rows)}, not its tables {list(spec.tables)}"
        )


def generate(
    sf: float,
    seed: int,
    out: Path,
    progress: Callable[[str, int, float], None] | None = None,
    spec=None,  # noqa: ANN001 - a DataSpec; None is the design's
) -> tuple[fd.Manifest, dict[str, float]]:
    """Write one Parquet file per table and manifest.json into `out`; returns the manifest and timings.

    Everything is written into `out/.partial-<pid>` first. Only when every file and the manifest are
    complete does the folder change, in this order: the old manifest.json is deleted (from then on the
    folder has no manifest and every loader refuses it), the data files are renamed into place, and
    the new manifest.json is renamed in last. A kill at any point therefore leaves either the old
    complete run, a folder without a manifest, or the new complete run; and since loaders check every
    file's sha256 against the manifest, a folder never loads as a mix of two runs. Stale
    `.partial-<pid>` folders of processes that no longer run are deleted first.
    """
    if spec is None:
        from ..design.synthetic import SPEC as spec
    sf, seed = fd.parse_sf(sf), fd.parse_seed(seed)
    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise WorkbookError(f"{out}: the target folder is not writable ({exc.strerror})") from None
    fd.remove_stale_partials(out)
    work = out / f"{fd.PARTIAL}{os.getpid()}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    timings: dict[str, float] = {}
    manifest = fd.Manifest(
        seed,
        sf,
        libraries={"numpy": np.__version__, "pyarrow": pa.__version__},
        params=spec.describe(),
    )
    changed = False  # whether the folder itself has been touched yet
    try:
        _write_all(spec, sf, seed, work, manifest, timings, progress)
        (work / "manifest.json").write_text(manifest.dumps())
        # All files are complete. The folder stops being a complete run before any of its files
        # changes (no manifest: refused), and becomes one again only with the new manifest. (No
        # fsync: after a crash a file that did not reach the disk fails its sha256 check, so the
        # folder is refused, never loaded wrong; generated data is regenerated, not recovered.)
        changed = True
        try:
            os.unlink(out / "manifest.json")
        except FileNotFoundError:
            pass
        for table in spec.tables:
            os.replace(work / f"{table}.parquet", out / f"{table}.parquet")
        os.replace(work / "manifest.json", out / "manifest.json")
    except OSError as exc:
        if exc.errno == 28:  # ENOSPC
            where = "the folder has no manifest.json now" if changed else "nothing was replaced"
            raise WorkbookError(f"{out}: the disk filled up while writing; {where}") from None
        if changed:
            raise WorkbookError(
                f"{out}: writing the data failed ({exc.strerror or exc}); the folder has no manifest.json "
                "now and is refused until 'data generate' completes for it"
            ) from None
        raise WorkbookError(
            f"{out}: writing the data failed ({exc.strerror or exc}); nothing was replaced"
        ) from None
    except pa.ArrowException as exc:
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if "No space left" in msg:
            raise WorkbookError(f"{out}: the disk filled up while writing; nothing was replaced") from None
        raise WorkbookError(f"generating the data failed: {msg}") from None
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return manifest, timings
