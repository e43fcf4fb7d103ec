"""Read the live catalog of either engine into the neutral model of `model.py`."""

from __future__ import annotations

import ast

import sqlglot
from sqlglot import exp

from . import migrate as mig
from .dialect import NamedConstraint
from .engines import Engine
from .model import Catalog, Column, Constraint, Index, Table


def normalise_expr(sql: str, dialect: str = "duckdb") -> str:
    """A canonical text for an expression, so that engine and migration forms compare equal."""
    try:
        tree = sqlglot.parse_one(sql, read=dialect)
    except sqlglot.errors.ParseError:
        return " ".join(sql.lower().split())

    for node in list(tree.walk()):
        if isinstance(node, exp.Identifier):
            node.set("quoted", False)
            node.set("this", node.name.lower())
    for paren in list(tree.find_all(exp.Paren)):
        paren.replace(paren.this)
    if isinstance(tree, exp.Paren):
        tree = tree.this
    return tree.sql("duckdb").lower()


def _applied_names(engine: Engine) -> list[NamedConstraint]:
    """Constraint names declared by the applied migrations (DuckDB discards them)."""
    done = {int(a.version) for a in mig.applied(engine)}
    names: list[NamedConstraint] = []
    for m in mig.discover():
        if int(m.version) in done:
            names += m.adapted().names
    return names


def _as_list(value: object) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [str(v) for v in ast.literal_eval(value)]
    return [str(v) for v in value]  # type: ignore[union-attr]


def _duckdb_constraints(engine: Engine, table: str, declared: list[NamedConstraint]) -> list[Constraint]:
    rows = engine.fetchall(
        "SELECT constraint_type, constraint_column_names, expression, referenced_table, "
        "referenced_column_names, constraint_name, constraint_text FROM duckdb_constraints() "
        "WHERE schema_name = 'main' AND table_name = ? AND constraint_type <> 'NOT NULL' "
        "ORDER BY constraint_index",
        [table],
    )
    mine = [d for d in declared if d.table == table]
    out: list[Constraint] = []
    seen: set[tuple] = set()
    for kind, cols, expr, ref_table, ref_cols, engine_name, text in rows:
        cols_t = tuple(dict.fromkeys(_as_list(cols)))
        key = (kind, cols_t, expr, ref_table)
        if key in seen:
            continue
        seen.add(key)
        name, on_delete, on_update = engine_name, None, None
        for d in mine:
            if d.kind != kind:
                continue
            if kind == "CHECK":
                hit = normalise_expr(d.check or "") == normalise_expr(expr or "")
            else:
                hit = set(d.columns) == set(cols_t) and (kind != "FOREIGN KEY" or d.ref_table == ref_table)
            if hit:
                name = d.name
                mine.remove(d)
                break
        definition = f"CHECK ({expr})" if kind == "CHECK" else text
        out.append(
            Constraint(
                name,
                kind,
                cols_t,
                definition,
                ref_table or None,
                tuple(_as_list(ref_cols)),
                on_delete,
                on_update,
            )
        )
    return out


def _duckdb(engine: Engine) -> Catalog:
    declared = _applied_names(engine)
    tables: list[Table] = []
    objects = engine.fetchall(
        "SELECT table_name, 'table', comment FROM duckdb_tables() WHERE schema_name = 'main' "
        "UNION ALL SELECT view_name, 'view', comment FROM duckdb_views() "
        "WHERE schema_name = 'main' AND NOT internal ORDER BY 1"
    )
    for name, kind, comment in objects:
        cols = tuple(
            Column(n, t, bool(nullable), d, c)
            for n, t, nullable, d, c in engine.fetchall(
                "SELECT column_name, data_type, is_nullable, column_default, comment FROM duckdb_columns() "
                "WHERE schema_name = 'main' AND table_name = ? ORDER BY column_index",
                [name],
            )
        )
        constraints: tuple[Constraint, ...] = ()
        indexes: tuple[Index, ...] = ()
        if kind == "table":
            constraints = tuple(_duckdb_constraints(engine, name, declared))
            indexes = tuple(
                Index(iname, index_keys(sql), bool(unique), sql.rstrip(";"))
                for iname, unique, sql in engine.fetchall(
                    "SELECT index_name, is_unique, sql FROM duckdb_indexes() "
                    "WHERE schema_name = 'main' AND table_name = ? ORDER BY index_name",
                    [name],
                )
            )
        tables.append(Table(name, kind, comment or None, cols, constraints, indexes))
    functions = tuple(
        r[0]
        for r in engine.fetchall(
            "SELECT DISTINCT function_name FROM duckdb_functions() WHERE schema_name = 'main' "
            "AND NOT internal ORDER BY 1"
        )
    )
    return Catalog("duckdb", tuple(tables), functions)


def index_keys(sql: str, dialect: str = "duckdb") -> tuple[str, ...]:
    """Key columns or expressions of a CREATE INDEX statement, in order, lower-case and unquoted."""
    tree = sqlglot.parse_one(sql, read=dialect)
    params = tree.this.args.get("params")
    keys = []
    for col in params.args.get("columns") or []:
        node = col.this if isinstance(col, exp.Ordered) else col
        keys.append(normalise_expr(node.sql(dialect), dialect))
    return tuple(keys)


def read_catalog(engine: Engine) -> Catalog:
    """The live catalog of the engine's default schema."""
    if engine.name == "duckdb":
        return _duckdb(engine)
    from .pgcatalog import read_postgres

    return read_postgres(engine)
