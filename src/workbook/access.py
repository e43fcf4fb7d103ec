"""Access patterns run and checked: parameters drawn from the data, pages, plans, claims, correct answers.

The design declares its patterns (`workbook.design.access`): the question each answers, its SQL on
each engine (the seed's as written and the corrected one), the parameter cases drawn from the
generated data, an independent computation of the answer, and typed claims about the plan and the
result. This module runs them and names none of the design's tables. A claim that names a table or
index the migrations do not create is refused when the registry is loaded (`validate`); a claim
that stops holding fails the build in one line naming the pattern and the claim.
"""

from __future__ import annotations

import datetime as dt
import decimal
import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cache

from . import cursor as cursors
from .engines import Engine
from .errors import WorkbookError

ENGINES = ("postgres", "duckdb")


# -- declarations --------------------------------------------------------------------------------


@dataclass(frozen=True)
class SQL:
    """One query on each engine, with `:name` parameters; `duckdb` None means the same text."""

    postgres: str | None
    duckdb: str | None = None
    same: bool = True  # the PostgreSQL text runs on DuckDB as written (when duckdb is None)

    def on(self, engine: str) -> str | None:
        if engine == "postgres":
            return self.postgres
        return self.duckdb if self.duckdb is not None else (self.postgres if self.same else None)


@dataclass(frozen=True)
class Param:
    """A parameter: its name and type (uuid, text, search, int); values are checked against the type."""

    name: str
    type: str = "text"


@dataclass(frozen=True)
class Case:
    """A named parameter set: each value is a DuckDB query over the loaded tables (or a literal)."""

    name: str
    values: dict[str, str]
    literal: bool = False  # the values are literals, not queries


@dataclass(frozen=True)
class Page:
    """Keyset pagination: the page size, the sort-key columns and the query for the next page."""

    size: int
    keys: tuple[str, ...]
    next: SQL  # takes the pattern's parameters and :after_<key> for each key


@dataclass(frozen=True)
class Claim:
    """A statement about a pattern that is checked on every build."""

    def describe(self) -> str:
        raise NotImplementedError

    def names(self) -> tuple[tuple[str, str], ...]:
        """The (kind, name) catalog objects the claim refers to: checked when the registry is loaded."""
        return ()


def _for(cases: tuple[str, ...]) -> str:
    return f", for the {' and '.join(cases)}" if cases else ""


@dataclass(frozen=True)
class UsesIndex(Claim):
    """The corrected query's plan reads index `index` (on `engine`) for every case."""

    index: str
    engine: str = "postgres"
    cases: tuple[str, ...] = ()  # only these cases (all when empty)

    def describe(self) -> str:
        return f"uses index {self.index} ({self.engine}{_for(self.cases)})"

    def names(self):  # noqa: ANN201
        return (("index", self.index),)


@dataclass(frozen=True)
class NoSeqScan(Claim):
    """No sequential scan of `table` in the corrected plan while the table holds more than `above` rows."""

    table: str
    above: int = 10_000
    engine: str = "postgres"
    cases: tuple[str, ...] = ()

    def describe(self) -> str:
        return (
            f"no sequential scan of {self.table} above {self.above:,} rows ({self.engine}{_for(self.cases)})"
        )

    def names(self):  # noqa: ANN201
        return (("table", self.table),)


@dataclass(frozen=True)
class EstimateWithin(Claim):
    """Every node of the corrected plan estimates its rows within `factor` of the actual count."""

    factor: float = 10.0
    engine: str = "postgres"
    cases: tuple[str, ...] = ()

    def describe(self) -> str:
        return f"row estimates within {self.factor:g}x of actual ({self.engine}{_for(self.cases)})"


@dataclass(frozen=True)
class NoSort(Claim):
    """The corrected plan sorts at most `above` rows (a page is read in order, not sorted out of all)."""

    above: int = 100
    engine: str = "postgres"
    cases: tuple[str, ...] = ()

    def describe(self) -> str:
        return f"sorts no more than {self.above:,} rows ({self.engine}{_for(self.cases)})"


@dataclass(frozen=True)
class SameOnBothEngines(Claim):
    """Both engines return the same rows (in the same order when `ordered`); `sql` overrides the query."""

    ordered: bool = True
    columns: tuple[str, ...] = ()  # compare only these columns (all when empty)
    sql: SQL | None = None

    def describe(self) -> str:
        what = f"the same {', '.join(self.columns)}" if self.columns else "the same rows"
        extra = " of every match" if self.sql is not None else ""
        return f"{what}{extra} on both engines{' in the same order' if self.ordered else ''}"


@dataclass(frozen=True)
class EqualsOracle(Claim):
    """The result equals the independent computation from the Parquet files (on both engines)."""

    def describe(self) -> str:
        return "equals the independent computation from the Parquet files"


@dataclass(frozen=True)
class Triggers(Claim):
    """A write fires exactly these triggers (PostgreSQL's EXPLAIN ANALYZE lists them)."""

    fired: tuple[str, ...]

    def describe(self) -> str:
        return f"fires {', '.join(self.fired)}"

    def names(self):  # noqa: ANN201
        return tuple(("trigger", t) for t in self.fired)


@dataclass(frozen=True)
class Pattern:
    """One access pattern of the design: a question, who asks it, its SQL, its cases and its claims."""

    name: str
    question: str
    who: str
    rate: str
    why: str
    query: SQL
    params: tuple[Param, ...] = ()
    cases: tuple[Case, ...] = ()
    seed: SQL | None = None  # the seed's query, as written (params renamed)
    seed_defects: str = ""  # what is wrong with the seed's query, in a sentence
    page: Page | None = None
    oracle: str | None = None  # DuckDB SQL over the Parquet files: the answer, computed independently
    claims: tuple[Claim, ...] = ()
    write: bool = False  # a write: planned inside a transaction that is rolled back


# -- the registry, checked against the migrations ------------------------------------------------


@cache
def schema_names() -> dict[str, frozenset[str]]:
    """Tables, indexes (constraint-backed included) and triggers the migrations leave in place."""
    from pglast import ast, parser

    from . import migrate
    from .sqlsplit import split_sql

    found: dict[str, set[str]] = {"table": set(), "index": set(), "trigger": set()}
    for mig in migrate.discover():
        for stmt in split_sql(mig.text, mig.name):
            try:
                node = parser.parse_sql(stmt.sql)[0].stmt
            except parser.ParseError:
                continue
            if isinstance(node, ast.CreateStmt):
                found["table"].add(node.relation.relname)
                for el in node.tableElts or ():
                    if (
                        isinstance(el, ast.Constraint)
                        and el.conname
                        and el.contype.name
                        in (
                            "CONSTR_PRIMARY",
                            "CONSTR_UNIQUE",
                        )
                    ):
                        found["index"].add(el.conname)
            elif isinstance(node, ast.IndexStmt) and node.idxname:
                found["index"].add(node.idxname)
            elif isinstance(node, ast.CreateTrigStmt):
                found["trigger"].add(node.trigname)
            elif isinstance(node, ast.DropStmt):
                kind = {"OBJECT_INDEX": "index", "OBJECT_TABLE": "table", "OBJECT_TRIGGER": "trigger"}
                k = kind.get(node.removeType.name)
                for obj in node.objects or ():
                    if k:
                        found[k].discard(obj[-1].sval)
            elif isinstance(node, ast.AlterTableStmt):
                for cmd in node.cmds or ():
                    d = getattr(cmd, "def_", None)
                    if (
                        isinstance(d, ast.Constraint)
                        and d.conname
                        and d.contype.name in ("CONSTR_PRIMARY", "CONSTR_UNIQUE")
                    ):
                        found["index"].add(d.conname)
                    if getattr(cmd, "subtype", None) is not None and cmd.subtype.name == "AT_DropConstraint":
                        found["index"].discard(cmd.name)
    return {k: frozenset(v) for k, v in found.items()}


PARAM = re.compile(r"'(?:[^']|'')*'|(?<![:\w]):([A-Za-z_]\w*)")


def placeholders(sql: str) -> list[str]:
    """The `:name` parameters of `sql`, in order of appearance (quoted text and `::casts` skipped)."""
    return [m.group(1) for m in PARAM.finditer(sql) if m.group(1)]


def bind(sql: str, values: dict[str, object]) -> tuple[str, list[object]]:
    """`sql` with `?` placeholders and the values in their order."""
    names: list[str] = []

    def sub(m: re.Match) -> str:
        if not m.group(1):
            return m.group(0)
        names.append(m.group(1))
        return "?"

    text = PARAM.sub(sub, sql)
    missing = [n for n in names if n not in values]
    if missing:
        raise WorkbookError(f"parameter(s) {', '.join(sorted(set(missing)))} have no value")
    return text, [values[n] for n in names]


def validate(patterns: Sequence[Pattern]) -> None:
    """Refuse, in one line, a registry whose claims name objects the migrations do not create."""
    names = schema_names()
    seen: set[str] = set()
    for p in patterns:
        if p.name in seen:
            raise WorkbookError(f"access pattern {p.name}: declared twice")
        seen.add(p.name)
        for claim in p.claims:
            unknown = set(getattr(claim, "cases", ())) - {c.name for c in p.cases}
            if unknown:
                raise WorkbookError(
                    f"access pattern {p.name}: claim '{claim.describe()}' names case(s) {', '.join(sorted(unknown))}, "
                    "which the pattern does not have"
                )
            for kind, name in claim.names():
                if name not in names[kind]:
                    raise WorkbookError(
                        f"access pattern {p.name}: claim '{claim.describe()}' names {kind} {name}, "
                        "which no migration creates"
                    )
        declared = {q.name for q in p.params}
        texts = [p.query.postgres, p.query.duckdb] + (
            [p.page.next.postgres, p.page.next.duckdb] if p.page else []
        )
        for text in filter(None, texts):
            extra = (
                set(placeholders(text)) - declared - {f"after_{k}" for k in (p.page.keys if p.page else ())}
            )
            if extra:
                raise WorkbookError(
                    f"access pattern {p.name}: parameter(s) {', '.join(sorted(extra))} not declared"
                )
        for case in p.cases:
            if set(case.values) != declared:
                raise WorkbookError(
                    f"access pattern {p.name}: case '{case.name}' gives {sorted(case.values)}, "
                    f"the pattern takes {sorted(declared)}"
                )


# -- values ----------------------------------------------------------------------------------------

CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def check_value(pattern: str, param: Param, value: object) -> object:
    """A parameter's value as the engines take it; a value of the wrong type is one line."""
    where = f"access pattern {pattern}: parameter {param.name}"
    if param.type == "uuid":
        try:
            return str(uuid.UUID(str(value)))
        except ValueError:
            raise WorkbookError(f"{where} must be a uuid, got {str(value)[:60]!r}") from None
    if param.type == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise WorkbookError(f"{where} must be an integer, got {type(value).__name__}")
        return value
    if not isinstance(value, str):
        raise WorkbookError(f"{where} must be text, got {type(value).__name__}")
    if param.type == "search":  # PostgreSQL text holds no NUL; control characters are word breaks
        return CONTROL.sub(" ", value)
    return value.replace("\x00", "")


def normal(value: object) -> object:
    """A result value in a form both engines agree on (UUIDs as text, times in UTC, numbers rounded)."""
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None).isoformat()
    if isinstance(value, decimal.Decimal | float):
        return round(float(value), 6)
    return value


def exact(value: object) -> object:
    """A sort-key value for a cursor: JSON-ready and exact (a rounded key would repeat or skip rows)."""
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    return value


def rows_of(cols: list[str], rows: list[tuple], keep: tuple[str, ...] = ()) -> list[tuple]:
    idx = [cols.index(c) for c in keep] if keep else range(len(cols))
    return [tuple(normal(r[i]) for i in idx) for r in rows]


# -- running ------------------------------------------------------------------------------------


@dataclass
class Result:
    """What one pattern returned for one case on one engine."""

    columns: list[str]
    rows: list[tuple]
    cursor: str | None = None  # for the next page, when the page is full


def run(
    db: Engine, p: Pattern, values: dict[str, object], after: str | None = None, *, seed: bool = False
) -> Result:
    """Run a pattern (its first page, or the page after `after`) on `db` with checked values."""
    checked = {q.name: check_value(p.name, q, values.get(q.name)) for q in p.params}
    sql = (p.seed if seed else p.query).on(db.name) if not (after and p.page) else p.page.next.on(db.name)
    if sql is None:
        raise WorkbookError(f"access pattern {p.name}: no {'seed ' if seed else ''}query for {db.name}")
    if after is not None:
        if p.page is None:
            raise WorkbookError(f"access pattern {p.name}: has no pages, so no cursor")
        for k, v in cursors.decode(p.name, after, p.page.keys).items():
            checked[f"after_{k}"] = v
    text, params = bind(sql, checked)
    cols, rows = db.query(text, params)
    nxt = None
    if p.page and not seed and len(rows) == p.page.size:
        last = dict(zip(cols, rows[-1], strict=True))
        nxt = cursors.encode(p.name, {k: exact(last[k]) for k in p.page.keys})
    return Result(cols, rows, nxt)


def resolve(case: Case, data) -> dict[str, object]:  # noqa: ANN001 - a DuckDB connection over the data
    """A case's parameter values, drawn from the generated data (each value a DuckDB query on `data`)."""
    if case.literal:
        return dict(case.values)
    out = {}
    for name, sql in case.values.items():
        row = data.execute(sql).fetchone()
        value = row[0] if row else None
        if value is None:
            raise WorkbookError(f"case '{case.name}': the query for {name} found no value in the data")
        out[name] = normal(value)
    return out


@dataclass
class CaseRun:
    """One case of one pattern on both engines: values, results, plans and the oracle's answer."""

    case: Case
    values: dict[str, object]
    results: dict[str, Result] = field(default_factory=dict)
    seed_results: dict[str, Result | str] = field(default_factory=dict)  # a Result, or the error text
    plans: dict[str, object] = field(default_factory=dict)  # engine -> plans.Plan
    seed_plans: dict[str, object] = field(default_factory=dict)
    oracle: list[tuple] | None = None
    matches: dict[str, list[tuple]] = field(default_factory=dict)  # SameOnBothEngines(sql=...) rows


@dataclass
class ClaimResult:
    pattern: str
    claim: Claim
    held: bool
    evidence: str


def _explain(db: Engine, sql: str, params: list, write: bool):  # noqa: ANN202
    from . import plans

    return plans.explain(db, sql, params, analyze=True, rollback=write)


def run_cases(
    p: Pattern,
    engines: dict[str, Engine],
    oracle_db,  # noqa: ANN001 - a DuckDB connection with views over the Parquet files (cases, oracle)
    *,
    prepare_write: Callable[[Engine], None] | None = None,
) -> list[CaseRun]:
    """Every case of `p` on every engine: results, plans (seed and corrected) and the oracle's answer."""
    out = []
    for case in p.cases:
        values = resolve(case, oracle_db)
        cr = CaseRun(case, values)
        checked = {q.name: check_value(p.name, q, values.get(q.name)) for q in p.params}
        for name, db in engines.items():
            sql = p.query.on(name)
            if sql is None:
                continue
            text, params = bind(sql, checked)
            if not p.write:
                cr.results[name] = run(db, p, values)
            cr.plans[name] = _explain(db, text, params, p.write)
            seed_sql = p.seed.on(name) if p.seed is not None else None
            if p.seed is not None and seed_sql is None:
                cr.seed_results[name] = f"not runnable on {name}"
            elif seed_sql is not None:
                stext, sparams = bind(seed_sql, checked)
                try:
                    cols, rows = db.query(stext, sparams)
                    cr.seed_results[name] = Result(cols, rows)
                    cr.seed_plans[name] = _explain(db, stext, sparams, False)
                except Exception as exc:  # the seed's query failing is evidence, kept as its message
                    _reset(db)
                    cr.seed_results[name] = str(exc).strip().splitlines()[0]
            for claim in p.claims:
                if isinstance(claim, SameOnBothEngines) and claim.sql is not None and claim.sql.on(name):
                    mt, mp = bind(claim.sql.on(name), checked)
                    cols, rows = db.query(mt, mp)
                    cr.matches[name] = sorted(rows_of(cols, rows))
        if p.oracle is not None:
            text, params = bind(p.oracle, checked)
            cur = oracle_db.execute(text, params)
            cr.oracle = rows_of([d[0] for d in cur.description], cur.fetchall())
        out.append(cr)
    return out


def _reset(db: Engine) -> None:
    """After a failed statement outside a transaction nothing is left open; inside one, roll it back."""
    con = getattr(db, "con", None)
    status = getattr(getattr(con, "info", None), "transaction_status", None)
    if status is not None and status.name == "INERROR":
        con.rollback()


def check_claims(p: Pattern, runs: list[CaseRun], table_rows: dict[str, dict[str, int]]) -> list[ClaimResult]:
    """Evaluate every claim of `p` on its case runs; `table_rows` is each engine's row count per table."""
    out = []
    for claim in p.claims:
        held, notes = True, []
        wanted = getattr(claim, "cases", ())
        for cr in runs:
            if wanted and cr.case.name not in wanted:
                continue
            ok, note = _check(claim, p, cr, table_rows)
            held &= ok
            notes.append(f"{cr.case.name}: {note}")
        out.append(ClaimResult(p.name, claim, held, "; ".join(notes)))
    return out


def _check(claim: Claim, p: Pattern, cr: CaseRun, table_rows: dict[str, dict[str, int]]) -> tuple[bool, str]:
    if isinstance(claim, UsesIndex):
        plan = cr.plans.get(claim.engine)
        if plan is None:
            return False, f"no plan on {claim.engine}"
        used = plan.uses_index(claim.index)
        return (
            used,
            "reads it" if used else f"does not (indexes read: {', '.join(plan_indexes(plan)) or 'none'})",
        )
    if isinstance(claim, NoSeqScan):
        plan = cr.plans.get(claim.engine)
        if plan is None:
            return False, f"no plan on {claim.engine}"
        size = table_rows.get(claim.engine, {}).get(claim.table, 0)
        seq = [n for n in plan.scans_of(claim.table) if "seq" in n.op.lower() or "table scan" in n.op.lower()]
        if size <= claim.above:
            return True, f"{claim.table} holds {size:,} rows, at most {claim.above:,}: not claimed"
        return not seq, "no sequential scan" if not seq else f"{len(seq)} sequential scan(s) of {size:,} rows"
    if isinstance(claim, NoSort):
        plan = cr.plans.get(claim.engine)
        if plan is None:
            return False, f"no plan on {claim.engine}"
        sorts = [n for n in plan.nodes() if n.op == "Sort"]
        big = [n for n in sorts for c in n.children if (c.actual_rows or 0) > claim.above]
        if big:
            return False, f"sorts {max(c.actual_rows for n in big for c in n.children):,.0f} rows"
        return True, f"{len(sorts)} sort(s), none of more than {claim.above:,} rows"
    if isinstance(claim, EstimateWithin):
        plan = cr.plans.get(claim.engine)
        if plan is None:
            return False, f"no plan on {claim.engine}"
        worst = plan.max_estimate_error()
        return worst <= claim.factor, f"worst estimate off by {worst:.1f}x"
    if isinstance(claim, SameOnBothEngines):
        if claim.sql is not None:
            a, b = cr.matches.get("postgres"), cr.matches.get("duckdb")
        else:
            ra, rb = cr.results.get("postgres"), cr.results.get("duckdb")
            if ra is None or rb is None:
                return False, "not run on both engines"
            a, b = rows_of(ra.columns, ra.rows, claim.columns), rows_of(rb.columns, rb.rows, claim.columns)
            if not claim.ordered:
                a, b = sorted(a), sorted(b)
        if a is None or b is None:
            return False, "not run on both engines"
        return (
            a == b,
            f"{len(a)} rows each" if a == b else f"PostgreSQL {len(a)} rows, DuckDB {len(b)}, differ",
        )
    if isinstance(claim, EqualsOracle):
        if cr.oracle is None:
            return False, "no independent computation"
        bad = [e for e, r in cr.results.items() if rows_of(r.columns, r.rows) != cr.oracle]
        if bad:
            return (
                False,
                f"{', '.join(bad)} differ from the {len(cr.oracle)} rows computed from the Parquet files",
            )
        return True, f"{len(cr.oracle)} rows, equal on {', '.join(cr.results)}"
    if isinstance(claim, Triggers):
        plan = cr.plans.get("postgres")
        names = {t["name"] if isinstance(t, dict) else str(t) for t in plan.triggers} if plan else set()
        fired = tuple(
            sorted(n for n in names if not n.startswith("RI_ConstraintTrigger"))
        )  # foreign keys' own
        return fired == tuple(sorted(claim.fired)), f"fired {', '.join(fired) or 'none'}"
    raise WorkbookError(f"access pattern {p.name}: unknown claim {type(claim).__name__}")


def plan_indexes(plan) -> list[str]:  # noqa: ANN001
    return sorted({n.index for n in plan.nodes() if n.index})


def failed(results: Sequence[ClaimResult]) -> list[str]:
    """One line per claim that did not hold: the pattern, the claim and what was found."""
    return [
        f"access pattern {r.pattern}: claim '{r.claim.describe()}' does not hold: {r.evidence}"
        for r in results
        if not r.held
    ]
