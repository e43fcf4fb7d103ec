"""Generated data folders: the manifest, and the checks that a folder holds one complete, unchanged run.

A folder holds one Parquet file per table and manifest.json (seed, scale factor, row counts and the
sha256 of every file). Nothing here knows the design's tables: the list a manifest must hold is given
by the caller (the design's data spec).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .. import config
from ..errors import WorkbookError


def parse_sf(value: object) -> float:
    """A scale factor: a finite number above zero."""
    try:
        sf = float(str(value))
    except ValueError:
        raise WorkbookError(f"SF={value}: the scale factor must be a number above 0 (e.g. 0.1)") from None
    if not math.isfinite(sf) or sf <= 0:
        raise WorkbookError(f"SF={value}: the scale factor must be a number above 0 (e.g. 0.1)")
    if sf > 1000:
        raise WorkbookError(f"SF={value}: the scale factor is capped at 1000")
    return sf


def parse_seed(value: object) -> int:
    """A seed: a non-negative integer."""
    try:
        seed = int(str(value))
    except ValueError:
        raise WorkbookError(f"SEED={value}: the seed must be an integer (e.g. 42)") from None
    if seed < 0 or seed >= 2**63:
        raise WorkbookError(f"SEED={value}: the seed must be between 0 and 2^63-1")
    return seed


def sha256(path: Path) -> str:
    """The sha256 of a file."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


GENERATOR = "workbook.synth/2"


@dataclass
class Manifest:
    """What a generation run produced."""

    seed: int
    sf: float
    generator: str = GENERATOR
    libraries: dict[str, str] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)
    sha256: dict[str, str] = field(default_factory=dict)
    params: dict = field(default_factory=dict)

    def dumps(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True) + "\n"


PARTIAL = ".partial-"


def _process_gone(pid: int) -> bool:
    """True when no process `pid` runs any more (a zombie counts as gone: it can write nothing)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, owned by someone else
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state in ("Z", "X")


def remove_stale_partials(out: Path) -> None:
    """Delete `.partial-<pid>` folders left in `out` by runs that were killed; never a live run's."""
    for entry in out.glob(PARTIAL + "*"):
        pid = entry.name[len(PARTIAL) :]
        if not pid.isdigit() or not entry.is_dir() or entry.is_symlink():
            continue
        if int(pid) == os.getpid() or _process_gone(int(pid)):
            shutil.rmtree(entry, ignore_errors=True)


_MANIFEST_KEYS = ("seed", "sf", "generator", "libraries", "rows", "sha256", "params")
_HEX = frozenset("0123456789abcdef")


def _fingerprint(path: Path) -> tuple[int, ...]:
    """Identity and last change of a file: any rename over it or write to it changes this."""
    st = os.stat(path)
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def _parse_manifest(path: Path, tables: Sequence[str]) -> Manifest:
    """manifest.json as a Manifest, after checking its shape; one line naming the file otherwise."""
    folder = path.parent
    if not folder.is_dir():
        raise WorkbookError(f"{folder}: no such folder: run 'make data' (or 'workbook data generate') first")
    if not path.exists():
        raise WorkbookError(
            f"{path}: missing, so {folder} holds no complete generated data (a 'data generate' that was "
            "interrupted leaves it so): run 'make data' (or 'workbook data generate') for it"
        )
    try:
        raw = json.loads(path.read_bytes().decode("utf-8"))
    except OSError as exc:
        raise WorkbookError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise WorkbookError(f"{path}: not a JSON manifest (not UTF-8 at byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise WorkbookError(
            f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); regenerate the folder"
        ) from None
    if not isinstance(raw, dict):
        raise WorkbookError(f"{path}: not a manifest: a JSON object was expected, found {type(raw).__name__}")
    lacking = [k for k in _MANIFEST_KEYS if k not in raw]
    if lacking:
        raise WorkbookError(f"{path}: lacks the key(s) {', '.join(lacking)}; regenerate the folder")
    for key in ("rows", "sha256"):
        if not isinstance(raw[key], dict):
            raise WorkbookError(f"{path}: '{key}' must be an object of table names")
        listed = set(raw[key])
        if listed != set(tables):
            missing = [t for t in tables if t not in listed]
            extra = sorted(listed - set(tables))
            parts = ([f"lacks {', '.join(missing)}"] if missing else []) + (
                [f"has unknown {', '.join(extra)}"] if extra else []
            )
            raise WorkbookError(
                f"{path}: '{key}' must list exactly the tables {', '.join(tables)}: it {' and '.join(parts)}"
            )
    for table in tables:
        n, digest = raw["rows"][table], raw["sha256"][table]
        if not isinstance(n, int) or isinstance(n, bool) or n < 0:
            raise WorkbookError(f"{path}: rows.{table} must be a row count (an integer >= 0), found {n!r}")
        if not isinstance(digest, str) or len(digest) != 64 or not set(digest) <= _HEX:
            raise WorkbookError(f"{path}: sha256.{table} must be 64 lowercase hex digits, found {digest!r}")
    return Manifest(
        raw["seed"], raw["sf"], raw["generator"], raw["libraries"], raw["rows"], raw["sha256"], raw["params"]
    )


def verify(
    folder: Path, tables: Sequence[str], progress: Callable[[int], None] | None = None
) -> tuple[Manifest, dict[Path, tuple[int, ...]]]:
    """The manifest, after checking every file is present and has its recorded sha256.

    Returns the files' fingerprints as well, so a loader can check just before it commits that no
    file was replaced or written since it was checked.
    """
    folder = Path(folder)
    path = folder / "manifest.json"
    m = _parse_manifest(path, tables)
    files = [folder / f"{t}.parquet" for t in tables]
    for f in files:  # every file present before any is read
        if not f.is_file():
            raise WorkbookError(
                f"{f}: missing (manifest.json lists it); the folder is incomplete: regenerate it"
            )
    try:
        seen = {path: _fingerprint(path)}
        for table, f in zip(tables, files, strict=True):
            seen[f] = _fingerprint(f)
            h = hashlib.sha256()
            with open(f, "rb") as fh:
                for chunk in iter(lambda fh=fh: fh.read(1 << 20), b""):
                    h.update(chunk)
                    if progress:
                        progress(len(chunk))
            if h.hexdigest() != m.sha256[table]:
                raise WorkbookError(
                    f"{f}: sha256 {h.hexdigest()[:16]}… is not the {m.sha256[table][:16]}… that manifest.json "
                    "records: the file is damaged or from another run; regenerate the folder"
                )
    except OSError as exc:
        raise WorkbookError(f"{exc.filename or folder}: cannot read: {exc.strerror or exc}") from None
    return m, seen


def check_unchanged(seen: dict[Path, tuple[int, ...]]) -> None:
    """Refuse (inside the load transaction) when a checked file was replaced or written since."""
    for f, fp in seen.items():
        try:
            now = _fingerprint(f)
        except OSError:
            now = None
        if now != fp:
            raise WorkbookError(
                f"{f}: changed while it was being loaded (another 'data generate' into the folder?); "
                "nothing was loaded"
            )


def read_manifest(
    folder: Path, tables: Sequence[str], progress: Callable[[int], None] | None = None
) -> Manifest:
    """The manifest of a generated folder, after checking every file's sha256 is as recorded.

    Refuses, in one line naming the file, a missing or malformed manifest.json, one that does not
    list exactly `tables`, and a missing or changed Parquet file. `progress` gets the number of
    bytes hashed, chunk by chunk.
    """
    return verify(folder, tables, progress)[0]


def default_folder(sf: float, seed: int) -> Path:
    """Where `make data` writes: data/synthetic/sf<SF>-seed<SEED>."""
    return config.DATA_DIR / "synthetic" / f"sf{sf:g}-seed{seed}"
