"""The held-out invalid rows on both engines, and the seed rules' enforcement checked against the catalog.

The rows (`workbook.design.held_out`) run against the bad-input matrix's fixture (`quality.FIXTURE`,
through `quality.prepared`) with the matrix's `try_write`: each in a transaction that is rolled back,
the outcome "accepted" or the name of what rejected it. A row PostgreSQL accepts, or rejects under
another name, is a rule the design does not hold. DuckDB must reject it under the same name unless
the row names the dialect-gap row that explains why it cannot (a constraint added by ALTER TABLE, a
trigger, a PL/pgSQL function), and that gap row must be one `workbook.dialect` reports.

`before` runs the rows on databases migrated without one migration (V0024, which fixed what the rows
found), to show which rows both engines accepted until then.

The seed rules (`workbook.design.seed_rules`) name what enforces each; `missing_names` looks every
name up in the live PostgreSQL catalog (constraints, triggers, functions and procedures, indexes,
tables and views, NOT NULL columns).

`python -m workbook.held_out` prints the outcome of every row as a markdown table.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from . import config, migrate, quality
from .catalog import read_catalog
from .design import WORKBOOK_ACTOR
from .design.held_out import ROWS, HeldOut
from .design.seed_rules import RULES, SeedRule
from .engines import Engine, connect
from .model import Catalog
from .tables import md_table
from .violations import try_write

ENGINES = ("postgres", "duckdb")
FIX = "V0024"  # the migration that fixed what the held-out rows found
ACCEPTED = "accepted"


@dataclass(frozen=True)
class Result:
    """One held-out row's outcome on each engine."""

    row: HeldOut
    results: dict[str, str]  # engine -> "accepted" or what rejected it

    def as_designed(self, engine: str) -> bool:
        return self.results[engine] == self.row.expect

    @property
    def accepted_everywhere(self) -> bool:
        return all(r == ACCEPTED for r in self.results.values())


def declared_gaps(directory: Path | None = None) -> set[tuple[str, str]]:
    """(rule, object) of every dialect-gap row the migrations produce."""
    return {(g.rule, g.where.split()[-1]) for g in migrate.gaps(directory or config.MIGRATIONS_DIR)}


def duckdb_ok(result: Result, gaps: set[tuple[str, str]]) -> bool:
    """DuckDB rejected the row under the expected name, or the row's declared gap explains why it cannot."""
    if result.results.get("duckdb") == result.row.expect:
        return True
    return result.row.duckdb_gap is not None and result.row.duckdb_gap in gaps


def prepared(engine: str, directory: Path | None = None) -> Engine:
    """The matrix's fixture database on `engine`; with `directory`, migrated from that folder instead."""
    if directory is None:
        return quality.prepared(engine)
    db = connect(engine)
    migrate.migrate(db, directory)
    db.set_session_actor(WORKBOOK_ACTOR)
    for sql in quality.FIXTURE:
        db.execute(sql)
    return db


def run_rows(dbs: dict[str, Engine], rows: Iterable[HeldOut] = ROWS) -> list[Result]:
    """Every row on every engine of `dbs`, each rolled back."""
    cats = {e: read_catalog(db) for e, db in dbs.items()}
    out = []
    for row in rows:
        got = {}
        for e, db in dbs.items():
            other_actor = e == "postgres" and row.actor != WORKBOOK_ACTOR
            if other_actor:
                db.set_session_actor(row.actor)
            try:
                name = try_write(db, cats[e], row.table, row.sql, values=dict(row.values))
            finally:
                if other_actor:
                    db.set_session_actor(WORKBOOK_ACTOR)
            got[e] = ACCEPTED if name is None else name
        out.append(Result(row, got))
    return out


def run(engines: Sequence[str] = ENGINES, rows: Iterable[HeldOut] = ROWS) -> list[Result]:
    """The rows on fresh fixture databases of every engine."""
    dbs = {e: prepared(e) for e in engines}
    try:
        return run_rows(dbs, rows)
    finally:
        for db in dbs.values():
            db.close()


def without(version: str, dest: Path) -> Path:
    """A copy of the migrations folder in `dest` without the file of `version` (e.g. V0024)."""
    dest.mkdir(parents=True, exist_ok=True)
    for f in sorted(config.MIGRATIONS_DIR.glob("*.sql")):
        if not f.name.startswith(f"{version}__"):
            shutil.copy2(f, dest / f.name)
    return dest


def before(
    version: str = FIX, engines: Sequence[str] = ENGINES, rows: Iterable[HeldOut] = ROWS
) -> list[Result]:
    """The rows on databases migrated without `version`: what they found before it."""
    with tempfile.TemporaryDirectory(prefix="workbook-held-out-") as tmp:
        folder = without(version, Path(tmp) / "migrations")
        dbs = {e: prepared(e, folder) for e in engines}
        try:
            return run_rows(dbs, rows)
        finally:
            for db in dbs.values():
                db.close()


# Every name a rule may give, from the live catalog of the current schema.
CATALOG_NAMES = """
SELECT conname::text FROM pg_constraint WHERE connamespace = current_schema()::regnamespace
UNION SELECT t.tgname::text FROM pg_trigger AS t JOIN pg_class AS c ON c.oid = t.tgrelid
      WHERE c.relnamespace = current_schema()::regnamespace AND NOT t.tgisinternal
UNION SELECT proname::text FROM pg_proc WHERE pronamespace = current_schema()::regnamespace
UNION SELECT relname::text FROM pg_class
      WHERE relnamespace = current_schema()::regnamespace AND relkind IN ('i', 'r', 'v')
UNION SELECT c.relname || '.' || a.attname || ' NOT NULL'
      FROM pg_attribute AS a JOIN pg_class AS c ON c.oid = a.attrelid
      WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind = 'r'
        AND a.attnum > 0 AND NOT a.attisdropped AND a.attnotnull
"""


def catalog_names(pg: Engine) -> set[str]:
    """Constraint, trigger, function, index, table and view names, and "table.column NOT NULL"."""
    return {r[0] for r in pg.fetchall(CATALOG_NAMES)}


def missing_names(pg: Engine, rules: Iterable[SeedRule] = RULES) -> list[tuple[str, str]]:
    """(rule id, name) of every enforcement name that the live PostgreSQL catalog does not hold."""
    have = catalog_names(pg)
    return [(r.id, n) for r in rules for n in r.names if n not in have]


def unknown_matrix_refs(cat: Catalog, rules: Iterable[SeedRule] = RULES) -> list[tuple[str, str]]:
    """(rule id, ref) of every matrix entry that names neither a matrix case nor a held-out row."""
    known = {c.constraint for c in quality.cases(cat)} | {h.id for h in ROWS}
    return [(r.id, m) for r in rules for m in r.matrix if m not in known]


def markdown(results: Sequence[Result], found: Sequence[Result] = ()) -> str:
    """The rows as a GFM table; with `found`, whether each was accepted everywhere before the fix."""
    label = {"postgres": "PostgreSQL", "duckdb": "DuckDB"}
    engines = list(results[0].results) if results else list(ENGINES)
    was = {r.row.id: r for r in found}

    def show(text: str) -> str:
        return text if text == ACCEPTED else f"`{text[:80]}`"

    rows = [
        [
            r.row.id,
            r.row.rule,
            r.row.table,
            r.row.label,
            f"`{r.row.expect}`",
            *[show(r.results[e]) for e in engines],
            *(["accepted by both" if was[r.row.id].accepted_everywhere else ""] if found else []),
        ]
        for r in results
    ]
    head = ["Row", "Seed rule", "Table", "What", "Rejected by", *[label[e] for e in engines]]
    return md_table([*head, *([f"Before {FIX}"] if found else [])], rows)


def main() -> None:
    print(markdown(run(), before()))


def rules_markdown(rules: Sequence[SeedRule] = RULES) -> str:
    """Every rule the seed states: where, its words, what enforces it, and the rows that exercise it."""
    rows = [
        [
            r.id,
            r.where,
            f"“{r.quote}”",
            r.kind,
            ", ".join(e if e.startswith("not enforced") else f"`{e}`" for e in r.enforced_by),
            str(len(r.matrix)),
        ]
        for r in rules
    ]
    return md_table(["Rule", "Where", "The seed says", "Kind", "Enforced by", "Rows exercising it"], rows)


if __name__ == "__main__":
    main()
