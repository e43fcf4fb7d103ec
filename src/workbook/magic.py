"""The reviewer's SQL in notebooks: jupysql's %sql / %%sql on the workbook's engines, made friendly.

`nb.setup()` registers each engine's native connection with jupysql under an alias (`duck`, `pg`).
On top of jupysql this module adds two things a design reviewer needs:

- the one-line form `%sql duck SELECT ...` runs on that connection (jupysql alone reads `duck` as
  SQL), like the cell form `%%sql duck`;
- a statement that fails ends in one readable line instead of a traceback through jupysql's
  internals, and a row a constraint rejects names that constraint on both engines (DuckDB's own
  message does not: it is mapped back from the catalog, as the bad-input matrix does).

The line is the cell's error output (IPython asks the exception to render its own traceback), so the
cell still fails and `make docs` stops on it.
"""

from __future__ import annotations

import contextlib
import functools
from typing import Any

from IPython.core.error import UsageError

from .engines import Engine

LABEL = {"postgres": "PostgreSQL", "duckdb": "DuckDB"}
_engines: dict[str, Engine] = {}  # alias -> engine, in registration order


class SQLError(Exception):
    """A failed statement, shown by IPython as this one line instead of a traceback."""

    def __init__(self, message: str, error_type: str) -> None:
        super().__init__(message)
        self.error_type = error_type

    def _render_traceback_(self) -> list[str]:
        return [f"\x1b[0;31m{self.error_type}\x1b[0m: {self}"]


def register(ip: Any, db: Engine, alias: str) -> None:
    """Load jupysql quietly (once), then add `db`'s native connection under `alias`."""
    if "sql" not in ip.extension_manager.loaded:
        from IPython.utils.capture import capture_output

        # jupysql looks for settings in the nearest pyproject.toml and prints a note about the
        # optional 'toml' package under the setup cell; ours are set right here instead.
        with capture_output():
            ip.run_line_magic("load_ext", "sql")
        for line in (
            "SqlMagic.displaycon = False",
            "SqlMagic.feedback = 0",
            "SqlMagic.autopandas = False",
            "SqlMagic.displaylimit = 50",
        ):
            ip.run_line_magic("config", line)
        _wrap_magics(ip)
    var = f"_workbook_con_{alias}"
    ip.push({var: db.con})
    _engines[alias] = db
    ip.run_line_magic("sql", f"{var} --alias {alias}")


def _wrap_magics(ip: Any) -> None:
    magics = ip.magics_manager.magics
    line, cell = magics["line"]["sql"], magics["cell"]["sql"]

    @functools.wraps(line)
    def sql_line(text: str = "", local_ns: dict | None = None) -> Any:
        alias, _, rest = text.strip().partition(" ")
        with _one_line_errors(alias if alias in _engines else None, rest if alias in _engines else text):
            if alias in _engines and rest.strip() and not rest.lstrip().startswith("-"):
                return cell(alias, rest, local_ns=local_ns)
            return line(text, local_ns=local_ns)

    @functools.wraps(cell)
    def sql_cell(text: str = "", body: str = "", local_ns: dict | None = None) -> Any:
        alias = text.strip().split(" ", 1)[0] if text.strip() else ""
        with _one_line_errors(alias if alias in _engines else None, body):
            return cell(text, body, local_ns=local_ns)

    for fn in (sql_line, sql_cell):
        fn.needs_local_scope = True  # type: ignore[attr-defined]
    magics["line"]["sql"], magics["cell"]["sql"] = sql_line, sql_cell


@contextlib.contextmanager
def _one_line_errors(alias: str | None, sql: str):
    try:
        yield
    except SQLError:
        raise
    except UsageError as exc:
        # jupysql wraps some engine errors in its own (with a hint about snippets): use the engine's.
        if exc.__cause__ is None:
            raise
        raise explain(exc.__cause__, sql, alias) from None
    except Exception as exc:
        raise explain(exc, sql, alias) from None


def _engine_for(exc: BaseException, alias: str | None) -> tuple[str, Engine] | None:
    """The registered engine that raised `exc`: the cell's alias, else the last of the right kind."""
    if alias in _engines:
        return alias, _engines[alias]
    kind = "postgres" if type(exc).__module__.startswith("psycopg") else "duckdb"
    found = [(a, e) for a, e in _engines.items() if e.name == kind]
    return found[-1] if found else None


def _targets(sql: str, dialect: str) -> list[tuple[str, dict[str, str]]]:
    """(table, {column: value SQL}) for each statement of `sql` that writes; values only for one VALUES row."""
    import sqlglot
    from sqlglot import exp

    try:
        trees = sqlglot.parse(sql, read=dialect)
    except sqlglot.errors.SqlglotError:
        return []
    out = []
    for tree in trees:
        if not isinstance(tree, (exp.Insert, exp.Update, exp.Delete, exp.Merge)):
            continue
        table = tree.find(exp.Table)
        if table is None or not table.name:
            continue
        values: dict[str, str] = {}
        schema, rows = tree.this, tree.expression
        if isinstance(tree, exp.Insert) and isinstance(schema, exp.Schema) and isinstance(rows, exp.Values):
            if len(rows.expressions) == 1:
                cols = [c.name for c in schema.expressions]
                values = dict(
                    zip(cols, (v.sql(dialect) for v in rows.expressions[0].expressions), strict=False)
                )
        elif isinstance(tree, exp.Update):
            values = {
                e.this.name: e.expression.sql(dialect) for e in tree.expressions if isinstance(e, exp.EQ)
            }
        out.append((table.name, values))
    return out


def explain(exc: BaseException, sql: str, alias: str | None) -> SQLError:
    """One line for a failed statement: the constraint that rejected the row, or the engine's message."""
    from .catalog import read_catalog
    from .errors import first_line
    from .model import Catalog
    from .violations import constraint_name

    message = first_line(exc)
    found = _engine_for(exc, alias)
    if found is None:
        return SQLError(message, type(exc).__name__)
    name, db = found
    where = f"{LABEL[db.name]} ({name})"
    catalog: Catalog | None = None
    for table, values in _targets(sql, "postgres" if db.name == "postgres" else "duckdb"):
        try:
            catalog = catalog or read_catalog(db)
            rejected = constraint_name(db, catalog, table, exc, values)
            t = catalog.table(table)
        except Exception:  # noqa: S112 - a catalog we cannot read only loses the mapping
            continue
        if rejected == message:
            continue
        if rejected.endswith(" NOT NULL"):
            return SQLError(
                f"{where}: {rejected.removesuffix(' NOT NULL')} must not be NULL", "ConstraintViolation"
            )
        kind = next((c.kind for c in t.constraints if c.name == rejected), None)
        kind = kind or next(("UNIQUE INDEX" for i in t.indexes if i.name == rejected), "constraint")
        comment = next((c.comment for c in t.constraints if c.name == rejected and c.comment), "")
        text = f"{where}: the row breaks {rejected} ({kind} on {table})" + (f": {comment}" if comment else "")
        return SQLError(text, "ConstraintViolation")
    return SQLError(f"{where}: {message}", type(exc).__name__)
