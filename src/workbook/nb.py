"""What notebooks call: one-line setup, and displays that export cleanly to the document."""

from __future__ import annotations

import os

from . import migrate, render
from .catalog import read_catalog
from .design import REVIEWER_ACTOR
from .dialect import Gap
from .engines import Engine, connect
from .model import Catalog
from .tables import Markdown, md_table
from .violations import try_write

LABEL = {"postgres": "PostgreSQL", "duckdb": "DuckDB"}

# jupysql's telemetry and version check would call out to the network; keep them off.
os.environ.setdefault("PLOOMBER_STATS_ENABLED", "false")
os.environ.setdefault("PLOOMBER_VERSION_CHECK_DISABLED", "true")


def setup(engine: str = "duckdb", alias: str | None = None) -> Engine:
    """A fresh, fully migrated database, registered with the %sql magic under `alias`."""
    db = connect(engine)
    migrate.migrate(db)
    db.set_session_actor(REVIEWER_ACTOR)  # the notebook's own session: the reviewer acts
    register_sql(db, alias or ("duck" if engine == "duckdb" else "pg"))
    return db


def register_sql(db: Engine, alias: str) -> None:
    """Load jupysql (if in IPython) and add the engine's native connection as `alias` (see magic.py)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return
    ip = get_ipython()
    if ip is None:
        return
    from . import magic

    magic.register(ip, db, alias)


def notebook_index() -> Markdown:
    """The document's notebooks in order: file, section title and one-line summary, read from each notebook."""
    import nbformat

    from . import config

    rows = []
    for path in config.document_notebooks():
        first = next((c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "markdown"), None)
        lines = first.source.splitlines() if first else []
        title = next((ln[2:].strip() for ln in lines if ln.startswith("# ")), "(no title)")
        summary = next((ln[1:].strip() for ln in lines if ln.startswith(">")), "")
        rows.append([f"[{path.name}]({path.name})", title, summary])
    return Markdown(md_table(["Notebook", "Section", "What it covers"], rows))


def md(text: str) -> Markdown:
    """Show markdown text."""
    return Markdown(text)


def mermaid(catalog: Catalog, *, comments: bool = False) -> Markdown:
    """The catalog's ER diagram as a mermaid block (column comments live in the Logical Model's tables)."""
    text = render.mermaid_er(catalog, comments=comments).rstrip("\n")
    return Markdown("```mermaid\n" + text + "\n```", fold=False)


def gap_table(pg: Catalog, duck: Catalog, gaps: list[Gap] | None = None) -> Markdown:
    """The dialect-gap table: what the adapter changed, and each engine's status as observed."""
    from .parity import gap_rows

    gaps = migrate.gaps() if gaps is None else gaps
    return Markdown(
        md_table(
            ["Construct", "Rule", "Where", "PostgreSQL", "DuckDB", "What DuckDB does instead"],
            gap_rows(gaps, pg, duck),
        )
    )


def parity_table(pg: Catalog, duck: Catalog) -> Markdown:
    """Every catalog difference between the engines with the gap rule that explains it (fails if any is unexplained)."""
    from .parity import check

    rows = [
        [d.what, f"`{d.obj}`", d.postgres, d.duckdb, f"`{d.rule}`"] for d in check(pg, duck, migrate.gaps())
    ]
    return Markdown(md_table(["Difference", "Object", "PostgreSQL", "DuckDB", "Explained by"], rows))


def ddl_listing(migrations: list[migrate.Migration]) -> Markdown:
    """Every migration in both forms, each folded under its file name (GitHub and JupyterLab fold it)."""
    parts = [
        f"<details><summary><code>{m.name}</code></summary>\n\n{both_forms(m).text}\n\n</details>"
        for m in migrations
    ]
    return Markdown("\n\n".join(parts), summary=f"{len(migrations)} migrations: click to show")


def both_forms(migration: migrate.Migration) -> Markdown:
    """A migration as PostgreSQL ran it, then the DuckDB form derived from it."""
    pg = "```sql\n" + migration.text.strip() + "\n```"
    return Markdown(
        f"**PostgreSQL** (as run):\n\n{pg}\n\n**DuckDB** (derived):\n\n{duckdb_form(migration).text}"
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


def expect_rejected(dbs: Engine | list[Engine], table: str, sql: str, constraint: str) -> Markdown:
    """Run a write that must fail on each engine, assert which constraint rejected it, show the outcome."""
    lines = []
    for db in dbs if isinstance(dbs, list) else [dbs]:
        got = try_write(db, read_catalog(db), table, sql)
        assert got == constraint, f"{db.name}: expected {constraint} to reject the write, got {got!r}"
        lines.append(f"{LABEL[db.name]}: rejected by `{got}`.")
    return Markdown("  \n".join(lines))


def expect_accepted(dbs: Engine | list[Engine], table: str, sql: str) -> Markdown:
    """Run a write that must succeed on each engine (rolled back afterwards) and show the outcome."""
    lines = []
    for db in dbs if isinstance(dbs, list) else [dbs]:
        got = try_write(db, read_catalog(db), table, sql)
        assert got is None, f"{db.name}: expected the write to be accepted, got {got!r}"
        lines.append(f"{LABEL[db.name]}: accepted.")
    return Markdown("  \n".join(lines))


def seed_runs_table() -> Markdown:
    """Each schema statement of the seed as written, run on an empty database of each engine."""
    from . import seed

    runs = {e: seed.run_as_written(connect(e)) for e in ("postgres", "duckdb")}
    rows = []
    for pg_run, dk_run in zip(runs["postgres"], runs["duckdb"], strict=True):
        s = pg_run.seed
        rows.append(
            [
                s.number,
                s.section,
                f"`{s.statement.head}`",
                "ok" if pg_run.ok else f"`{pg_run.error}`",
                "ok" if dk_run.ok else f"`{dk_run.error}`",
            ]
        )
    return Markdown(md_table(["#", "Section", "Statement", "PostgreSQL", "DuckDB"], rows))


def disagreements_table(outcomes) -> Markdown:
    """Matrix rows the engines judged differently, grouped by cause."""
    from .quality import group_disagreements

    rows = [
        [
            f"E{i}",
            g.title,
            len(g.rows),
            "; ".join(o.case.table + ": " + o.case.label for o in g.rows[:3])
            + (" …" if len(g.rows) > 3 else ""),
            g.cause,
            g.fix,
        ]
        for i, g in enumerate(group_disagreements(outcomes), 1)
    ]
    return Markdown(md_table(["ID", "Disagreement", "Rows", "Examples", "Cause", "Adopted"], rows))


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


# ------------------------------------------------------------------------- data patterns


def ddl(*patterns: str) -> Markdown:
    """The migration statements that match each regex, as they ran, with their file and line."""
    import re

    from .sqlsplit import split_sql

    shown = []
    for pattern in patterns:
        hits = [
            (m, st)
            for m in migrate.discover()
            for st in split_sql(m.text, m.name)
            if re.search(pattern, st.sql, re.I | re.S)
        ]
        if not hits:
            raise AssertionError(f"no migration statement matches {pattern!r}")
        for m, st in hits:
            shown.append(f"`{m.name}:{st.line}`\n\n```sql\n{st.sql};\n```")
    return Markdown("\n\n".join(shown))


def evidence(*finding_ids: str) -> Markdown:
    """Findings of the design review with their evidence, re-run now on every engine they apply to."""
    from . import findings

    chosen = [f for f in findings.FINDINGS if f.id in finding_ids]
    missing = set(finding_ids) - {f.id for f in chosen}
    assert not missing, f"no finding {sorted(missing)}"
    rows = []
    for f in chosen:
        for engine in f.engines:
            rows.append([f.id, f.title, LABEL[engine], f.evidence(engine)])
    return Markdown(md_table(["Finding", "Defect", "Engine", "Evidence (ran just now)"], rows))


def audit_rows(db: Engine, since: int = 0) -> Markdown:
    """audit_log after `since` (a seq): what changed, with the columns an UPDATE changed.

    Records are numbered per table in order of first appearance (their uuids change every run).
    """
    import json

    names: dict[tuple[str, str], str] = {}
    rows = []
    for seq, table, rid, op, old, new, actor in db.fetchall(
        "SELECT seq, table_name, CAST(record_id AS TEXT), operation, old_values, new_values, "
        "CAST(changed_by AS TEXT) FROM audit_log ORDER BY seq"
    ):
        n = sum(1 for t, _ in names if t == table) + 1
        record = names.setdefault((table, rid), f"{table} #{n}")
        if seq <= since:
            continue
        old, new = (json.loads(v) if isinstance(v, str) else v for v in (old, new))
        if op == "UPDATE":
            what = ", ".join(k for k in sorted(new) if old.get(k) != new.get(k)) or "(no column changed)"
        else:
            what = "whole row"
        rows.append([seq, record, op, what, f"`{actor}`" if actor else ""])
    return Markdown(md_table(["seq", "record", "operation", "changed", "actor"], rows))


def refusal(call) -> Markdown:  # noqa: ANN001
    """Run a write that must be refused; show the one line the design answers with."""
    import re

    from .writes import RuleViolation

    try:
        call()
    except RuleViolation as exc:
        # ids are new on every run; the document shows where one stood
        text = re.sub(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "<id>", str(exc))
        return Markdown(f"Refused: `{text}`")
    raise AssertionError("the write was accepted")


def support_table(results) -> Markdown:  # noqa: ANN001
    """The engine-support table: what each engine did with each promise of each pattern."""
    return Markdown(
        md_table(
            ["Pattern", "Promise", "PostgreSQL", "DuckDB"],
            [[s.pattern, s.promise, s.status["postgres"], s.status["duckdb"]] for s in results],
        )
    )


def version_diff(db: Engine, template_id: str, a: str, b: str) -> Markdown:
    """A unified diff of two versions' content, as pretty JSON."""
    import difflib
    import json

    def content(v: str) -> list[str]:
        doc = db.scalar(
            "SELECT content FROM template_versions WHERE template_id = ? AND version = ?", [template_id, v]
        )
        doc = json.loads(doc) if isinstance(doc, str) else doc
        return json.dumps(doc, indent=2, sort_keys=True).splitlines()

    diff = difflib.unified_diff(content(a), content(b), fromfile=a, tofile=b, lineterm="")
    return Markdown("```diff\n" + "\n".join(diff) + "\n```")


def source(obj) -> Markdown:  # noqa: ANN001
    """A function's source as a python block (the one that runs, not a copy)."""
    import inspect

    return Markdown("```python\n" + inspect.getsource(obj).rstrip() + "\n```")


CHECK_MIME = "application/vnd.workbook.check+json"
CHECKS_ENV = "WORKBOOK_BUILD_CHECKS"  # set by `make docs` for the Quality Checklist notebook


def check(name: str, holds: bool, detail: str = "") -> None:
    """Record a named check of the Quality Checklist (design/checklist.py) and fail the build if it does not hold.

    The record is an output of a hidden cell; the docs build collects every notebook's records and gives
    them to the Quality Checklist section."""
    from .design import checklist

    if name not in checklist.CHECKS:
        raise AssertionError(f"check {name!r} is not declared in design/checklist.py")
    try:
        from IPython.display import display

        display({CHECK_MIME: {"name": name, "holds": bool(holds), "detail": str(detail)}}, raw=True)
    except ImportError:  # outside IPython only the assertion matters
        pass
    assert holds, f"check {name} does not hold: {detail}"


def build_checks() -> dict[str, dict] | None:
    """The checks recorded by the notebooks of this docs build, by name; None outside a docs build."""
    import json

    path = os.environ.get(CHECKS_ENV)
    if not path:
        return None
    with open(path, encoding="utf-8") as f:
        return {r["name"]: r for r in json.load(f)}
