"""Synthetic data: generated from a design's data spec, written as Parquet, loaded into both engines.

`generate` draws every value from independent random streams (`streams`) and writes one Parquet file
per table with a manifest; `load_duckdb` and `load_postgres` load a folder all or nothing with every
constraint on. The design's own tables, laws and parameters live in `workbook.design.synthetic`.
"""

from __future__ import annotations

from .duckdb_load import load_duckdb
from .folder import Manifest, default_folder, parse_seed, parse_sf, sha256
from .folder import read_manifest as _read_manifest
from .postgres_load import load_postgres
from .write import generate

_FROM_DESIGN = {"PARAMS", "SPEC", "TABLES", "Params", "Sizes"}


def __getattr__(name: str):  # noqa: ANN202 - the design's names, imported when first asked for
    from ..design import synthetic

    if name in _FROM_DESIGN:
        return getattr(synthetic, name)
    if name == "LOAD_ORDER":  # the design lists its tables parents first
        return synthetic.TABLES
    raise AttributeError(name)


def read_manifest(folder, progress=None, tables=None) -> Manifest:  # noqa: ANN001
    """The manifest of a generated folder of the design's tables, every file's sha256 checked."""
    from ..design.synthetic import SPEC

    return _read_manifest(folder, SPEC.tables if tables is None else tables, progress)


__all__ = [
    "LOAD_ORDER",
    "PARAMS",
    "SPEC",
    "TABLES",
    "Manifest",
    "Params",
    "Sizes",
    "default_folder",
    "generate",
    "load_duckdb",
    "load_postgres",
    "parse_seed",
    "parse_sf",
    "read_manifest",
    "sha256",
]
