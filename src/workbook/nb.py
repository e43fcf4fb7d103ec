"""What notebooks call: one-line setup, and displays that export cleanly to the document."""

from __future__ import annotations

import os
from collections import OrderedDict

from . import migrate, render
from .catalog import read_catalog
from .dialect import RULES, Gap
from .engines import Engine, connect
from .model import Catalog
from .tables import Markdown, md_table
from .violations import try_write

# jupysql's telemetry and version check would call out to the network; keep them off.
os.environ.setdefault("PLOOMBER_STATS_ENABLED", "false")
os.environ.setdefault("PLOOMBER_VERSION_CHECK_DISABLED", "true")


def setup(engine: str = "duckdb", alias: str | None = None) -> Engine:
    """A fresh, fully migrated database, registered with the %sql magic under `alias`."""
    db = connect(engine)
    migrate.migrate(db)
    register_sql(db, alias or ("duck" if engine == "duckdb" else "pg"))
    return db


def register_sql(db: Engine, alias: str) -> None:
    """Load jupysql (if in IPython) and add the engine's native connection as `alias`."""
    try:
        from IPython import get_ipython
    except ImportError:
        return
    ip = get_ipython()
    if ip is None:
        return
    if "sql" not in ip.extension_manager.loaded:
        ip.run_line_magic("load_ext", "sql")
        for line in (
            "SqlMagic.displaycon = False",
            "SqlMagic.feedback = 0",
            "SqlMagic.autopandas = False",
            "SqlMagic.displaylimit = 50",
        ):
            ip.run_line_magic("config", line)
    var = f"_workbook_con_{alias}"
    ip.push({var: db.con})
    ip.run_line_magic("sql", f"{var} --alias {alias}")


def md(text: str) -> Markdown:
    """Show markdown text."""
    return Markdown(text)


def mermaid(catalog: Catalog) -> Markdown:
    """The catalog's ER diagram as a mermaid block."""
    return Markdown("```mermaid\n" + render.mermaid_er(catalog).rstrip("\n") + "\n```")


def gap_rows(gaps: list[Gap]) -> list[list[str]]:
    """Gap rows grouped by rule, in first-seen order, with every place the rule applied."""
    grouped: OrderedDict[str, list[str]] = OrderedDict()
    for g in gaps:
        grouped.setdefault(g.rule, []).append(g.where)
    return [
        [RULES[r].construct, f"`{r}`", "<br>".join(w), RULES[r].duckdb, RULES[r].emulated]
        for r, w in grouped.items()
    ]


def gap_table(gaps: list[Gap] | None = None) -> Markdown:
    """The dialect-gap table, from the adaptations the adapter made to the migrations."""
    gaps = migrate.gaps() if gaps is None else gaps
    return Markdown(
        md_table(["Construct", "Rule", "Where", "What DuckDB does instead", "Emulated"], gap_rows(gaps))
    )


def migrations_table(db: Engine) -> Markdown:
    """Applied migrations from the ledger, with their sha256."""
    rows = [
        [f"`{s.version}`", s.description, s.state, f"`{s.checksum}`"]
        for s in migrate.status(db, migrate.discover())
    ]
    return Markdown(md_table(["Version", "Description", "State", "sha256"], rows))


def tables_summary(catalog: Catalog) -> Markdown:
    """Every table and view with its column count and comment."""
    rows = [
        [f"[{t.name}](#{t.name})" if t.kind == "table" else t.name, t.kind, len(t.columns), t.comment]
        for t in catalog.tables
    ]
    return Markdown(md_table(["Name", "Kind", "Columns", "Description"], rows))


def expect_rejected(db: Engine, table: str, sql: str, constraint: str) -> Markdown:
    """Run a write that must fail, assert which constraint rejected it, and show the outcome."""
    cat = read_catalog(db)
    got = try_write(db, cat, table, sql)
    assert got == constraint, f"expected {constraint} to reject the write, got {got!r}"
    return Markdown(f"Rejected by `{got}`, as designed.")


def expect_accepted(db: Engine, table: str, sql: str) -> Markdown:
    """Run a write that must succeed (rolled back afterwards) and show the outcome."""
    cat = read_catalog(db)
    got = try_write(db, cat, table, sql)
    assert got is None, f"expected the write to be accepted, got {got!r}"
    return Markdown("Accepted.")


def duckdb_form(migration: migrate.Migration) -> Markdown:
    """The DuckDB statements the adapter derives from a migration, pretty-printed."""
    import sqlglot

    parts = []
    for st in migration.adapted().statements:
        try:
            parts.append(sqlglot.transpile(st.sql, read="duckdb", write="duckdb", pretty=True)[0])
        except sqlglot.errors.SqlglotError:
            parts.append(st.sql)
    return Markdown("```sql\n" + ";\n\n".join(parts) + ";\n```")
