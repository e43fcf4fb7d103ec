"""Checks on the shape of generated data: independence where the design means none, laws where it means one.

A design declares its checks (`Independent`, `Holds`, `Within`) as SQL over its tables; `evaluate`
runs them with DuckDB straight on a generated folder's Parquet files (or on any connection that
has the tables) and says, for each, what was measured and whether it passed. The data is a pure
function of seed and scale factor, so a check's outcome is too: it cannot flake.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np


@dataclass(frozen=True)
class Independent:
    """Two attributes meant to be independent: a chi-square test of independence on their counts.

    `sql` returns (row label, column label, count); the check passes when the test's p-value is at
    least `alpha` (the chance that independent draws look at least this dependent).
    """

    name: str
    why: str
    sql: str
    alpha: float = 1e-4


@dataclass(frozen=True)
class Holds:
    """A rule every row obeys: `sql` counts the rows that break it, and the count must be 0."""

    name: str
    why: str
    sql: str


@dataclass(frozen=True)
class Within:
    """A law the data follows: `sql` returns one number, which must lie in [low, high]."""

    name: str
    why: str
    sql: str
    low: float
    high: float


Check = Independent | Holds | Within


@dataclass(frozen=True)
class Result:
    """What one check measured, against what bound, and whether it passed."""

    check: Check
    value: float  # p-value (Independent), rows breaking the rule (Holds), the measure (Within)
    detail: str
    passed: bool

    @property
    def kind(self) -> str:
        return type(self.check).__name__


def chi_square(cells: Sequence[tuple[object, object, int]]) -> tuple[float, int, float]:
    """Chi-square test of independence on (row, column, count) cells: (statistic, dof, p-value)."""
    from scipy.stats import chi2_contingency

    rows = sorted({r for r, _, _ in cells}, key=str)
    cols = sorted({c for _, c, _ in cells}, key=str)
    table = np.zeros((len(rows), len(cols)))
    ri, ci = {r: i for i, r in enumerate(rows)}, {c: j for j, c in enumerate(cols)}
    for r, c, n in cells:
        table[ri[r], ci[c]] += n
    table = table[table.sum(axis=1) > 0][:, table.sum(axis=0) > 0]
    if min(table.shape) < 2:
        return 0.0, 0, 1.0
    stat, p, dof, _ = chi2_contingency(table, correction=False)
    return float(stat), int(dof), float(p)


def evaluate_one(con: duckdb.DuckDBPyConnection, check: Check) -> Result:
    """Run one check on `con`."""
    if isinstance(check, Independent):
        stat, dof, p = chi_square(con.execute(check.sql).fetchall())
        return Result(
            check, p, f"chi² = {stat:,.1f} on {dof} degrees of freedom, p = {p:.3g}", p >= check.alpha
        )
    if isinstance(check, Holds):
        n = int(con.execute(check.sql).fetchone()[0] or 0)
        return Result(check, n, f"{n:,} rows break it", n == 0)
    value = con.execute(check.sql).fetchone()[0]
    value = float("nan") if value is None else float(value)
    return Result(
        check,
        value,
        f"{value:.3g} (bounds {check.low:g} to {check.high:g})",
        check.low <= value <= check.high,
    )


def on_folder(folder: Path, tables: Iterable[str]) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection with one view per table over the folder's Parquet files."""
    con = duckdb.connect(config={"autoinstall_known_extensions": False})
    con.execute("SET TimeZone = 'UTC'")
    for t in tables:
        path = str(Path(folder) / f"{t}.parquet").replace("'", "''")
        con.execute(f"CREATE VIEW \"{t}\" AS SELECT * FROM read_parquet('{path}')")
    return con


def evaluate(
    source: Path | duckdb.DuckDBPyConnection, checks: Sequence[Check], tables: Iterable[str] = ()
) -> list[Result]:
    """Every check, on a generated folder (Parquet views over `tables`) or on an open connection."""
    con = on_folder(source, tables) if isinstance(source, str | Path) else source
    try:
        return [evaluate_one(con, c) for c in checks]
    finally:
        if isinstance(source, str | Path):
            con.close()
