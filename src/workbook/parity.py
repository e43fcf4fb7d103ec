"""Two-engine parity: every difference between the PostgreSQL and DuckDB catalogs is a known gap.

The comparison covers tables, columns (mapped types, nullability), primary/unique/foreign keys,
constraint and index names, functions and triggers. A difference that no gap row explains fails
the build; the gap table's per-engine columns are filled from the same two catalogs.
"""

from __future__ import annotations

from dataclasses import dataclass

from .dialect import RULES, Gap
from .errors import WorkbookError
from .model import Catalog

# PostgreSQL type -> the DuckDB type the adapter's output yields.
TYPE_MAP = {
    "uuid": "UUID",
    "text": "VARCHAR",
    "timestamp with time zone": "TIMESTAMP WITH TIME ZONE",
    "jsonb": "JSON",
    "boolean": "BOOLEAN",
    "integer": "INTEGER",
    "bigint": "BIGINT",
}
GAP_TYPES = {"jsonb": "jsonb-type"}


@dataclass(frozen=True)
class Difference:
    """One way the DuckDB catalog differs from PostgreSQL's, and the gap that explains it."""

    what: str
    obj: str
    postgres: str
    duckdb: str
    rule: str | None  # the gap rule that explains it; None: unexplained

    @property
    def explained(self) -> bool:
        return self.rule is not None


def _obj(gap: Gap) -> str:
    return gap.where.split(" ", 1)[1]


def _explain(gaps: list[Gap], rule: str, *objs: str) -> str | None:
    return rule if any(g.rule == rule and _obj(g) in objs for g in gaps) else None


def compare(pg: Catalog, duck: Catalog, gaps: list[Gap]) -> list[Difference]:
    """Every difference between the two catalogs, each with the gap rule explaining it (or None)."""
    out: list[Difference] = []
    pg_t = {t.name: t for t in pg.tables}
    dk_t = {t.name: t for t in duck.tables}
    for name in sorted(pg_t.keys() ^ dk_t.keys()):
        out.append(
            Difference(
                "table",
                name,
                "present" if name in pg_t else "absent",
                "present" if name in dk_t else "absent",
                None,
            )
        )
    for name in sorted(pg_t.keys() & dk_t.keys()):
        p, d = pg_t[name], dk_t[name]
        pc, dc = {c.name: c for c in p.columns}, {c.name: c for c in d.columns}
        for col in sorted(pc.keys() ^ dc.keys()):
            rule = _explain(gaps, "tsvector-column", f"{name}.{col}") if col in pc else None
            out.append(Difference("column", f"{name}.{col}", str(col in pc), str(col in dc), rule))
        for col in [c.name for c in p.columns if c.name in dc]:
            a, b = pc[col], dc[col]
            if (
                a.type.endswith("[]")
                and TYPE_MAP.get(a.type[:-2]) == b.type.removesuffix("[]")
                and b.type.endswith("[]")
            ):
                rule = _explain(gaps, "array-type", f"{name}.{col}")
                out.append(Difference("column type", f"{name}.{col}", a.type, b.type, rule))
            elif TYPE_MAP.get(a.type) != b.type:
                out.append(Difference("column type", f"{name}.{col}", a.type, b.type, None))
            elif a.type in GAP_TYPES:
                # A view's column inherits the type of the table column it selects.
                objs = (
                    [f"{name}.{col}"]
                    if p.kind == "table"
                    else [f"{t.name}.{col}" for t in pg.base_tables if any(c.name == col for c in t.columns)]
                )
                rule = _explain(gaps, GAP_TYPES[a.type], *objs)
                out.append(Difference("column type", f"{name}.{col}", a.type, b.type, rule))
            if a.nullable != b.nullable:
                rule = _explain(gaps, "add-column-not-null", f"{name}.{col}") if b.nullable else None
                out.append(Difference("nullability", f"{name}.{col}", str(a.nullable), str(b.nullable), rule))
        pk, dk = {c.name: c for c in p.constraints}, {c.name: c for c in d.constraints}
        for cname in sorted(pk.keys() ^ dk.keys()):
            rule = (
                _explain(gaps, "drop-constraint", cname)
                if cname in dk
                else _explain(gaps, "add-constraint", cname)
            )
            out.append(Difference("constraint", f"{name}.{cname}", str(cname in pk), str(cname in dk), rule))
        for cname in sorted(pk.keys() & dk.keys()):
            a, b = pk[cname], dk[cname]
            if (a.kind, a.columns if a.kind != "CHECK" else ()) != (
                b.kind,
                b.columns if b.kind != "CHECK" else (),
            ):
                out.append(
                    Difference(
                        "constraint key", cname, f"{a.kind} {a.columns}", f"{b.kind} {b.columns}", None
                    )
                )
            if a.kind == "FOREIGN KEY":
                if (a.ref_table, a.ref_columns) != (b.ref_table, b.ref_columns):
                    out.append(
                        Difference("foreign key target", cname, str(a.ref_table), str(b.ref_table), None)
                    )
                actions = [
                    f"ON {k} {v}"
                    for k, v in (("DELETE", a.on_delete), ("UPDATE", a.on_update))
                    if v not in (None, "NO ACTION")
                ]
                if actions:
                    cols = [f"{name}.{c}" for c in a.columns]
                    out.append(
                        Difference(
                            "referential action",
                            cname,
                            ", ".join(actions),
                            "none",
                            _explain(gaps, "fk-referential-action", cname, *cols),
                        )
                    )
        pi, di = {i.name: i for i in p.indexes}, {i.name: i for i in d.indexes}
        for iname in sorted(pi.keys() - di.keys()):
            i = pi[iname]
            rule = (
                (_explain(gaps, "gin-full-text-index", iname) or _explain(gaps, "gin-array-index", iname))
                if i.method == "gin"
                else _explain(gaps, "index-on-maintained-column", iname)
                or (_explain(gaps, "partial-index", iname) if i.predicate else None)
            )
            out.append(Difference("index", iname, f"{i.method}", "absent", rule))
        for iname in sorted(di.keys() - pi.keys()):
            out.append(Difference("index", iname, "absent", "present", None))
        for iname in sorted(pi.keys() & di.keys()):
            a, b = pi[iname], di[iname]
            if (a.keys, a.unique) != (b.keys, b.unique):
                out.append(Difference("index keys", iname, f"{a.keys}", f"{b.keys}", None))
            if a.predicate != b.predicate:
                out.append(
                    Difference(
                        "index predicate",
                        iname,
                        str(a.predicate),
                        str(b.predicate),
                        _explain(gaps, "partial-index", iname),
                    )
                )
            if " DESC" in a.definition.upper() and " DESC" not in b.definition.upper():
                out.append(
                    Difference(
                        "index order", iname, "DESC", "ascending", _explain(gaps, "index-sort-order", iname)
                    )
                )
        dtr = {t.name for t in d.triggers}
        for trg in p.triggers:
            if trg.name not in dtr:
                out.append(
                    Difference(
                        "trigger",
                        trg.name,
                        f"{trg.timing} {' OR '.join(trg.events)}",
                        "absent",
                        _explain(gaps, "trigger", trg.name),
                    )
                )
    for fn in sorted(set(pg.functions) - set(duck.functions)):
        rule = _explain(gaps, "plpgsql-function", fn) or _explain(gaps, "sql-function-not-translatable", fn)
        out.append(Difference("function", fn, "present", "absent", rule))
    for fn in sorted(set(duck.functions) - set(pg.functions)):
        out.append(Difference("function", fn, "absent", "present", None))
    return out


def check(pg: Catalog, duck: Catalog, gaps: list[Gap]) -> list[Difference]:
    """The differences, after failing on any that no gap row explains."""
    diffs = compare(pg, duck, gaps)
    bad = [d for d in diffs if not d.explained]
    if bad:
        shown = "; ".join(f"{d.what} {d.obj}: postgres {d.postgres}, duckdb {d.duckdb}" for d in bad[:5])
        raise WorkbookError(f"{len(bad)} unexplained engine difference(s): {shown}")
    return diffs


def _status(rule: str, obj: str, pg: Catalog, duck: Catalog) -> tuple[str, str]:
    """(PostgreSQL, DuckDB) status of one adapted construct, read from the two catalogs."""

    def find_index(cat: Catalog):
        return next((i for t in cat.tables for i in t.indexes if i.name == obj), None)

    def find_fk(cat: Catalog):
        for t in cat.tables:
            for c in t.foreign_keys:
                if c.name == obj or any(f"{t.name}.{col}" == obj for col in c.columns):
                    return c
        return None

    def find_col(cat: Catalog):
        table, _, col = obj.partition(".")
        try:
            return cat.table(table).column(col)
        except KeyError:
            return None

    def has_table(cat: Catalog) -> bool:
        return any(t.name == obj for t in cat.tables)

    def trigger(cat: Catalog) -> bool:
        return any(tr.name == obj for t in cat.tables for tr in t.triggers)

    if rule == "fk-referential-action":
        a, b = find_fk(pg), find_fk(duck)
        pg_ok = a is not None and (
            a.on_delete not in (None, "NO ACTION") or a.on_update not in (None, "NO ACTION")
        )
        return ("native" if pg_ok else "missing"), (
            "not available (NO ACTION)" if b is not None else "missing"
        )
    if rule == "partial-index":
        a, b = find_index(pg), find_index(duck)
        return ("native" if a is not None and a.predicate else "missing"), (
            "emulated (full index)" if b is not None else "not available"
        )
    if rule == "gin-full-text-index":
        a, b = find_index(pg), find_index(duck)
        return ("native" if a is not None and a.method == "gin" else "missing"), (
            "not available" if b is None else "present"
        )
    if rule == "index-sort-order":
        a, b = find_index(pg), find_index(duck)
        return ("native" if a is not None and " DESC" in a.definition.upper() else "missing"), (
            "emulated (ascending)" if b is not None else "not available (index not created)"
        )
    if rule in ("plpgsql-function", "sql-function-as-macro", "sql-function-not-translatable"):
        pg_ok = obj in pg.functions
        if obj in duck.functions:
            return ("native" if pg_ok else "missing"), "emulated (macro)"
        return ("native" if pg_ok else "missing"), "not available"
    if rule == "index-on-maintained-column":
        return ("native" if find_index(pg) is not None else "missing"), (
            "not available" if find_index(duck) is None else "present"
        )
    if rule == "add-column-not-null":
        a, b = find_col(pg), find_col(duck)
        return ("native" if a is not None and not a.nullable else "missing"), (
            "emulated (nullable, default fills it)" if b is not None and b.nullable else "missing"
        )
    if rule == "drop-constraint":
        in_pg = any(c.name == obj for t in pg.tables for c in t.constraints)
        in_duck = any(c.name == obj for t in duck.tables for c in t.constraints)
        return ("native" if not in_pg else "missing"), ("not available (kept)" if in_duck else "dropped")
    if rule in (
        "plpgsql-block",
        "roles-and-privileges",
        "row-level-security",
        "function-security",
        "view-security-invoker",
    ):
        return "native", "not available"
    if rule == "trigger":
        return ("native" if trigger(pg) else "missing"), ("present" if trigger(duck) else "not available")
    if rule == "jsonb-type":
        a, b = find_col(pg), find_col(duck)
        return ("native" if a is not None and a.type == "jsonb" else "missing"), (
            f"emulated ({b.type})" if b is not None else "missing"
        )
    if rule in ("jsonb-functions", "posix-regex"):
        pg_ok = has_table(pg) or obj in pg.functions
        duck_ok = has_table(duck) or obj in duck.functions
        return ("native" if pg_ok else "missing"), ("emulated (rewritten)" if duck_ok else "missing")
    if rule == "constraint-comment":
        a = next((c for t in pg.tables for c in t.constraints if c.name == obj), None)
        return ("native" if a is not None and a.comment else "missing"), "not available"
    if rule == "constraint-names":
        try:
            a, b = pg.table(obj), duck.table(obj)
        except KeyError:
            return "missing", "missing"
        mapped = {c.name for c in a.constraints} <= {c.name for c in b.constraints}  # DuckDB may keep more
        return "native", ("emulated (mapped back)" if mapped else "missing")
    if rule == "gin-array-index":
        a, b = find_index(pg), find_index(duck)
        return ("native" if a is not None and a.method == "gin" else "missing"), (
            "not available" if b is None else "present"
        )
    if rule == "array-type":
        a, b = find_col(pg), find_col(duck)
        return ("native" if a is not None and a.type.endswith("[]") else "missing"), (
            f"emulated ({b.type})" if b is not None and b.type.endswith("[]") else "missing"
        )
    if rule == "add-constraint":
        in_pg = any(c.name == obj for t in pg.tables for c in t.constraints)
        in_duck = any(c.name == obj for t in duck.tables for c in t.constraints)
        return ("native" if in_pg else "missing"), ("present" if in_duck else "not available")
    if rule == "concurrent-index":
        a, b = find_index(pg), find_index(duck)
        return ("native" if a is not None else "missing"), (
            "emulated (built in the transaction)" if b is not None else "not available"
        )
    if rule == "postgres-setting":
        return "native", "not available"
    return "unknown", "unknown"


def gap_rows(gaps: list[Gap], pg: Catalog, duck: Catalog) -> list[list[str]]:
    """The dialect-gap table: one row per rule, with each engine's status as observed."""
    order: list[str] = []
    by_rule: dict[str, list[Gap]] = {}
    for g in gaps:
        if g.rule not in by_rule:
            order.append(g.rule)
        by_rule.setdefault(g.rule, []).append(g)
    rows = []
    for rule in order:
        statuses = [_status(rule, _obj(g), pg, duck) for g in by_rule[rule]]
        pg_s = ", ".join(sorted({s[0] for s in statuses}))
        dk_s = ", ".join(sorted({s[1] for s in statuses}))
        rows.append(
            [
                RULES[rule].construct,
                f"`{rule}`",
                "<br>".join(g.where + (f" ({g.detail})" if g.detail else "") for g in by_rule[rule]),
                pg_s,
                dk_s,
                RULES[rule].duckdb,
            ]
        )
    return rows
