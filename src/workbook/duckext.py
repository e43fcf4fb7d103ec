"""DuckDB extensions from their PyPI packages, loaded offline.

`LOAD fts` looks for the extension under `~/.duckdb/extensions/<version>/<platform>/` and, when it is
not there, DuckDB would download it: impossible offline, and the workbook never installs anything at
run time. The pinned packages `duckdb-extension-fts` and `duckdb-extension-tpch` ship the signed
extension files for this DuckDB version inside the Python environment; `load` reads them from there.
Once loaded in a connection, a user's own `LOAD fts` in that connection succeeds as well.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import duckdb

from .errors import WorkbookError

# The extensions the workbook's connections load, and the package that ships each one.
PACKAGES = {"fts": "duckdb_extension_fts", "tpch": "duckdb_extension_tpch"}
DEFAULT = ("fts",)  # every connection the workbook opens gets these


def path(name: str) -> Path:
    """The extension file the package for `name` ships for the installed DuckDB version."""
    package = PACKAGES.get(name)
    spec = importlib.util.find_spec(package) if package else None
    if spec is None or not spec.submodule_search_locations:
        raise WorkbookError(
            f"DuckDB extension {name}: its package {package or '(none known)'} is not installed; "
            "run 'make setup' (requirements.txt pins it)"
        )
    root = Path(next(iter(spec.submodule_search_locations)))
    file = root / "extensions" / f"v{duckdb.__version__}" / f"{name}.duckdb_extension"
    if not file.is_file():
        shipped = sorted(p.name for p in (root / "extensions").glob("v*"))
        raise WorkbookError(
            f"DuckDB extension {name}: {package} ships it for {', '.join(shipped) or 'no version'}, "
            f"not for the installed DuckDB v{duckdb.__version__}; pin both to the same version"
        )
    return file


def load(con: duckdb.DuckDBPyConnection, *names: str) -> None:
    """Load each extension into `con` from its package (DEFAULT when no name is given)."""
    for name in names or DEFAULT:
        loaded = con.execute(
            "SELECT loaded FROM duckdb_extensions() WHERE extension_name = ?", [name]
        ).fetchone()
        if loaded and loaded[0]:
            continue
        file = path(name)
        try:
            con.execute(f"LOAD '{file}'")
        except duckdb.Error as exc:
            raise WorkbookError(
                f"DuckDB extension {name}: cannot load {file}: {str(exc).splitlines()[0]}"
            ) from None
