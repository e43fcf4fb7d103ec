"""Expand and contract: a schema change in steps that old and new application code both survive.

A change is declared as ordered steps of SQL, and each application version as named queries (reads
and writes, with parameters). After every step every query of every version runs against the live
schema, and the outcome is a matrix (step x version x query -> ok / error). Each step says which
versions must work after it and which must break; a broken promise is a WorkbookError naming the
step, the version and the query. The same machinery runs a naive form of the change (one ALTER), so
the matrix shows the old application breaking, which is the reason for the steps.

What this adopts from pgroll (xataio/pgroll: docs/concepts.md, docs/guides/updown.mdx,
docs/operations/rename_column.mdx, the trigger template pkg/migrations/templates/function.go):

* Two phases. *Expand* (pgroll's start) makes only additive changes: a new column, a backfill, a
  trigger, a schema of views. Nothing an existing client reads or writes changes. *Contract*
  (pgroll's complete) makes the breaking ones, dropping the old column, its triggers and the old
  version's views, once no client of the old version remains. The steps in between may tighten
  the new column (constraints NOT VALID, then validated) while both versions still work.
* Versioned schemas. Each application version reaches the tables through a schema of its own,
  `<schema>_<version>`, holding views that show the columns under the names that version expects,
  chosen by `search_path`. A view that only renames (`name AS display_name`) is enough for a pure
  rename (pgroll's rename_column: no copy, and the physical column is renamed at complete).
* Up and down triggers. When the old and new columns must both exist (a type or rule change, a
  split, or a copy kept so that the new column can carry its own constraints), the column is
  duplicated and backfilled. BEFORE triggers compute `up` (old -> new) and `down` (new -> old) on
  every write in the window. pgroll picks the direction from the writer's search_path. A design
  may instead pick it from which column the write changed, which needs no session state.

What it leaves out: pgroll's JSON operation language and state schema, batched backfills, lock
timeouts and rollback. Here each step is plain SQL run in one transaction on a migrated
PostgreSQL schema, and the compatibility that pgroll provides by construction is checked here by
running both applications after every step. `{schema}` in any SQL of a change stands for the base schema's name.

The machinery names no table of the design: the design declares the steps, the versions' queries,
the seed rows and the counter (for this design, audit rows) in workbook.design.expand_contract.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .engines import Engine, PostgresEngine
from .errors import WorkbookError, first_line

if TYPE_CHECKING:
    import pandas as pd

PLACEHOLDER = "{schema}"  # the base schema's name, in any SQL of a change
OK, ERROR, SKIPPED = "ok", "error", "skipped"
SYMBOLS = {OK: "ok", ERROR: "✗", SKIPPED: "–"}


@dataclass(frozen=True)
class Ref:
    """The first value a query returned earlier in the same step (the id of the row it inserted)."""

    version: str
    query: str

    def __str__(self) -> str:
        return f"{self.version} {self.query}"


@dataclass(frozen=True)
class Query:
    """One named statement of an application version.

    `params` and `expect` hold literals, Refs, and strings in which `{step}` and `{n}` (the step's
    name and number) are replaced, so each step writes rows of its own. `expect` is the first row
    the statement must return. Writes run before reads at every step, so a read can look at what
    another version wrote. `delta` is how far the change's counter must move for this statement.
    """

    name: str
    sql: str
    params: tuple[Any, ...] = ()
    expect: tuple[Any, ...] | None = None
    write: bool = False
    delta: int | None = None


@dataclass(frozen=True)
class AppVersion:
    """One version of the application: its session set-up (its search_path) and its queries."""

    name: str
    queries: tuple[Query, ...]
    session: tuple[str, ...] = ()
    note: str = ""


@dataclass(frozen=True)
class Step:
    """SQL applied in one transaction, and the versions that must work / must break after it."""

    name: str
    sql: tuple[str, ...]
    works: tuple[str, ...]
    breaks: tuple[str, ...] = ()
    note: str = ""


@dataclass(frozen=True)
class Counter:
    """A number every query must move by its declared delta (for example, rows of an audit trail)."""

    name: str
    sql: str


@dataclass(frozen=True)
class Change:
    """A schema change as ordered steps, with the application versions that must live through it."""

    name: str
    steps: tuple[Step, ...]
    versions: tuple[AppVersion, ...]
    seed: tuple[str, ...] = ()  # rows the old application wrote before the change, on the base schema
    counter: Counter | None = None
    actor: str | None = None  # who acts, for every connection of the run (audited schemas need one)
    teardown: tuple[str, ...] = ()  # removes what lives outside the base schema (version schemas)
    note: str = ""


@dataclass(frozen=True)
class Cell:
    """The outcome of one query of one version after one step."""

    step: str
    version: str
    query: str
    status: str  # ok | error | skipped
    detail: str = ""  # the one-line error, or why the query could not run
    delta: int | None = None  # how far the counter moved
    reads: str | None = None  # the version whose row a cross read looks at

    @property
    def symbol(self) -> str:
        return SYMBOLS[self.status]


@dataclass(frozen=True)
class Matrix:
    """Every cell of a run of one change, in step, version and query order."""

    change: Change
    cells: tuple[Cell, ...]

    @property
    def steps(self) -> list[str]:
        return [s.name for s in self.change.steps]

    @property
    def versions(self) -> list[str]:
        return [v.name for v in self.change.versions]

    def cell(self, step: str, version: str, query: str) -> Cell:
        """The cell of one query; KeyError names it when there is none."""
        for c in self.cells:
            if (c.step, c.version, c.query) == (step, version, query):
                return c
        raise KeyError(f"no cell {step} / {version} / {query}")

    def row(self, step: str, version: str) -> list[Cell]:
        """The cells of one version after one step."""
        return [c for c in self.cells if c.step == step and c.version == version]

    def works(self, step: str, version: str) -> bool:
        """True when no query of the version failed after the step (a skipped query is no failure)."""
        row = self.row(step, version)
        return any(c.status == OK for c in row) and not any(c.status == ERROR for c in row)

    def cross_reads(self) -> list[Cell]:
        """The cells that read a row another version wrote in the same step."""
        return [c for c in self.cells if c.reads is not None]

    def failures(self) -> list[str]:
        """Each broken expectation, one line each, naming the step, the version and the query."""
        out = []
        for step in self.change.steps:
            for version in step.works:
                for c in self.row(step.name, version):
                    if c.status == ERROR:
                        out.append(
                            f"step {step.name!r}: {version} must work, but its query {c.query!r} "
                            f"failed: {c.detail}"
                        )
            for version in step.breaks:
                if self.works(step.name, version):
                    names = ", ".join(repr(c.query) for c in self.row(step.name, version))
                    out.append(f"step {step.name!r}: {version} must break, but every query passed ({names})")
        return out

    def check(self) -> Matrix:
        """Raise WorkbookError on the first broken expectation; return the matrix when all hold."""
        failures = self.failures()
        if failures:
            more = f" (and {len(failures) - 1} more)" if len(failures) > 1 else ""
            raise ExpectationError(f"expand/contract {self.change.name}: {failures[0]}{more}", self)
        return self


class ExpectationError(WorkbookError):
    """A step's declared expectation did not hold; the full matrix rides along for inspection."""

    def __init__(self, message: str, matrix: Matrix) -> None:
        super().__init__(message)
        self.matrix = matrix


# --------------------------------------------------------------------------------------------- run


def run(engine: Engine, change: Change, *, check: bool = True) -> Matrix:
    """Apply `change` step by step to the migrated schema of `engine`, running every version after each.

    The schema is changed for good (use a throwaway one). With `check`, a broken expectation raises
    ExpectationError once every step has run; a step whose SQL fails raises WorkbookError at once,
    after its transaction rolled back.
    """
    if not isinstance(engine, PostgresEngine) or not engine.schema:
        raise WorkbookError(
            f"expand/contract {change.name}: runs on a PostgreSQL engine in a schema of its own "
            f"(workbook.engines.connect('postgres')), not {engine.name or type(engine).__name__}"
        )
    validate(change)
    schema = engine.schema
    apps: dict[str, PostgresEngine] = {}
    cells: list[Cell] = []
    try:
        if change.actor:
            engine.set_session_actor(change.actor)
        _apply(engine, change, "seed", change.seed, schema)
        for version in change.versions:
            con = apps[version.name] = engine.sibling()
            if change.actor:
                con.set_session_actor(change.actor)
            for sql in version.session:
                con.execute(_sub(sql, schema))
        for n, step in enumerate(change.steps):
            _apply(engine, change, f"step {step.name!r}", step.sql, schema)
            cells += _run_step(engine, apps, change, step, n, schema)
    finally:
        for con in apps.values():
            con.close()
        for sql in change.teardown:
            engine.execute(_sub(sql, schema))
    matrix = Matrix(change, tuple(cells))
    return matrix.check() if check else matrix


def validate(change: Change) -> None:
    """Refuse, in one line, a change whose steps or queries name something that is not declared."""
    where = f"expand/contract {change.name}"
    names = [v.name for v in change.versions]
    if len(set(names)) != len(names):
        raise WorkbookError(f"{where}: two application versions share a name ({', '.join(names)})")
    queries = {v.name: [q.name for q in v.queries] for v in change.versions}
    for version, qs in queries.items():
        if len(set(qs)) != len(qs):
            raise WorkbookError(f"{where}: {version} has two queries of one name ({', '.join(qs)})")
    steps = [s.name for s in change.steps]
    if not steps or len(set(steps)) != len(steps):
        raise WorkbookError(f"{where}: steps must be given, each under its own name ({', '.join(steps)})")
    for step in change.steps:
        for version in (*step.works, *step.breaks):
            if version not in queries:
                raise WorkbookError(
                    f"{where}: step {step.name!r} names version {version!r}, which is not declared "
                    f"(declared: {', '.join(names)})"
                )
        both = set(step.works) & set(step.breaks)
        if both:
            raise WorkbookError(
                f"{where}: step {step.name!r} says {', '.join(sorted(both))} both works and breaks"
            )
    for version in change.versions:
        for q in version.queries:
            for value in (*q.params, *(q.expect or ())):
                if isinstance(value, Ref) and value.query not in queries.get(value.version, []):
                    raise WorkbookError(
                        f"{where}: {version.name} query {q.name!r} refers to {value}, which is not declared"
                    )


def _sub(sql: str, schema: str) -> str:
    return sql.replace(PLACEHOLDER, schema)


def _apply(engine: PostgresEngine, change: Change, what: str, sql: Sequence[str], schema: str) -> None:
    """Run statements in one transaction; a failure rolls them all back and names the statement."""
    if not sql:
        return
    with engine.transaction():
        for i, statement in enumerate(sql, 1):
            try:
                engine.execute(_sub(statement, schema))
            except Exception as exc:
                raise WorkbookError(
                    f"expand/contract {change.name}: {what} statement {i} of {len(sql)} failed: "
                    f"{_clean(first_line(exc), schema)}; the step was rolled back"
                ) from exc


def _clean(text: str, schema: str) -> str:
    """An error line without the run's schema name, so a matrix reads the same on every run."""
    return text.replace(schema, PLACEHOLDER)


def _fill(value: Any, step: Step, n: int, returned: dict[tuple[str, str], Any]) -> Any:
    if isinstance(value, Ref):
        return returned[(value.version, value.query)]
    if isinstance(value, str):
        return value.replace("{step}", step.name).replace("{n}", str(n))
    return value


def _run_step(
    engine: PostgresEngine,
    apps: dict[str, PostgresEngine],
    change: Change,
    step: Step,
    n: int,
    schema: str,
) -> list[Cell]:
    """Every version's writes, then every version's reads, after one step."""
    returned: dict[tuple[str, str], Any] = {}
    done: dict[tuple[str, str], Cell] = {}
    for phase in (True, False):
        for version in change.versions:
            for q in version.queries:
                if q.write is phase:
                    done[(version.name, q.name)] = _run_query(
                        engine, apps[version.name], change, version, q, step, n, schema, returned
                    )
    return [done[(v.name, q.name)] for v in change.versions for q in v.queries]


def _run_query(
    engine: PostgresEngine,
    con: PostgresEngine,
    change: Change,
    version: AppVersion,
    q: Query,
    step: Step,
    n: int,
    schema: str,
    returned: dict[tuple[str, str], Any],
) -> Cell:
    refs = [v for v in (*q.params, *(q.expect or ())) if isinstance(v, Ref)]
    others = {r.version for r in refs if r.version != version.name}
    reads = ", ".join(sorted(others)) if others and not q.write else None
    cell = {"step": step.name, "version": version.name, "query": q.name, "reads": reads}
    missing = [r for r in refs if (r.version, r.query) not in returned]
    if missing:
        return Cell(**cell, status=SKIPPED, detail=f"needs what {missing[0]} returns, which failed")
    params = [_fill(p, step, n, returned) for p in q.params]
    before = engine.scalar(change.counter.sql) if change.counter else None
    try:
        _cols, rows = con.query(_sub(q.sql, schema), params or None)
    except Exception as exc:
        return Cell(**cell, status=ERROR, detail=_clean(first_line(exc), schema))
    delta = int(engine.scalar(change.counter.sql)) - int(before) if change.counter else None
    if rows and rows[0]:
        returned[(version.name, q.name)] = rows[0][0]
    if q.expect is not None:
        want = tuple(_fill(v, step, n, returned) for v in q.expect)
        got = tuple(rows[0]) if rows else None
        if got != want:
            shown = "no row" if got is None else _show(got)
            return Cell(**cell, status=ERROR, detail=f"returned {shown}, expected {_show(want)}", delta=delta)
    if change.counter and q.delta is not None and delta != q.delta:
        return Cell(
            **cell,
            status=ERROR,
            detail=f"{change.counter.name} moved by {delta}, expected {q.delta}",
            delta=delta,
        )
    return Cell(**cell, status=OK, delta=delta)


def _show(row: tuple) -> str:
    return "(" + ", ".join(repr(str(v)) if v is not None else "NULL" for v in row) + ")"


# ------------------------------------------------------------------------------------------ render


def verdict(matrix: Matrix, step: Step, version: str) -> str:
    """`works` or `breaks`, with the declaration beside it when the observation contradicts it."""
    seen = "works" if matrix.works(step.name, version) else "breaks"
    declared = "works" if version in step.works else "breaks" if version in step.breaks else None
    if declared is None:
        return f"{seen} (undeclared)"
    return seen if seen == declared else f"{seen} (declared: {declared})"


def frame(matrix: Matrix) -> pd.DataFrame:
    """The matrix as a DataFrame: steps as rows; per version its verdict, then ok / ✗ / – per query."""
    import pandas as pd

    columns, data = [], []
    for version in matrix.change.versions:
        columns.append((version.name, "verdict"))
        columns += [(version.name, q.name) for q in version.queries]
    for step in matrix.change.steps:
        row = []
        for version in matrix.change.versions:
            row.append(verdict(matrix, step, version.name))
            row += [matrix.cell(step.name, version.name, q.name).symbol for q in version.queries]
        data.append(row)
    index = pd.Index(matrix.steps, name="step")
    return pd.DataFrame(data, index=index, columns=pd.MultiIndex.from_tuples(columns))


def errors_frame(matrix: Matrix) -> pd.DataFrame:
    """Every failed or skipped cell with its one-line reason, in matrix order."""
    import pandas as pd

    rows = [(c.step, c.version, c.query, c.symbol, c.detail) for c in matrix.cells if c.status != OK]
    return pd.DataFrame(rows, columns=["step", "version", "query", "", "error"])


def markdown(matrix: Matrix, *, errors: bool = True) -> str:
    """The matrix as a GitHub table (and, below it, the reasons of every ✗ and –); same run, same text."""
    df = frame(matrix)
    header = ["step"] + [f"{v} {q}" if q != "verdict" else v for v, q in df.columns]
    rows = [[step, *row] for step, row in zip(df.index, df.itertuples(index=False, name=None), strict=True)]
    lines = _grid(header, rows)
    if errors:
        bad = errors_frame(matrix)
        if len(bad):
            lines += ["", *_grid(["step", "version", "query", "", "error"], bad.values.tolist())]
    return "\n".join(lines) + "\n"


def _grid(header: list[str], rows: list[list[Any]]) -> list[str]:
    def cell(value: Any) -> str:
        return " ".join(str(value).split()).replace("|", "\\|")

    lines = ["| " + " | ".join(cell(h) for h in header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return lines + ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
