"""Read PostgreSQL's live catalog (pg_catalog) for the engine's schema into the neutral model."""

from __future__ import annotations

from .catalog import index_keys, normalise_expr
from .engines import Engine
from .model import Catalog, Column, Constraint, Index, Table, Trigger

_ACTIONS = {"a": "NO ACTION", "r": "RESTRICT", "c": "CASCADE", "n": "SET NULL", "d": "SET DEFAULT"}
_KINDS = {"p": "PRIMARY KEY", "u": "UNIQUE", "f": "FOREIGN KEY", "c": "CHECK"}


def _columns_of(engine: Engine, relid: int) -> tuple[Column, ...]:
    rows = engine.fetchall(
        "SELECT a.attname, format_type(a.atttypid, a.atttypmod), NOT a.attnotnull, "
        "pg_get_expr(d.adbin, d.adrelid), col_description(a.attrelid, a.attnum) "
        "FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum "
        "WHERE a.attrelid = ? AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
        [relid],
    )
    return tuple(Column(n, t, bool(nullable), d, c) for n, t, nullable, d, c in rows)


def _names(engine: Engine, relid: int, attnums: list[int] | None) -> tuple[str, ...]:
    if not attnums:
        return ()
    rows = dict(engine.fetchall("SELECT attnum, attname FROM pg_attribute WHERE attrelid = ?", [relid]))
    return tuple(rows[n] for n in attnums)


def read_postgres(engine: Engine) -> Catalog:
    """The live catalog of the engine's current schema."""
    schema = engine.scalar("SELECT current_schema()")
    objects = engine.fetchall(
        "SELECT c.oid, c.relname, CASE c.relkind WHEN 'v' THEN 'view' ELSE 'table' END, "
        "obj_description(c.oid, 'pg_class') FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = ? AND c.relkind IN ('r', 'v', 'p') ORDER BY c.relname",
        [schema],
    )
    tables = []
    for relid, name, kind, comment in objects:
        constraints = []
        for (
            conname,
            contype,
            conkey,
            confrelid,
            confkey,
            deltype,
            updtype,
            condef,
            ccomment,
        ) in engine.fetchall(
            "SELECT conname, contype::text, conkey, confrelid, confkey, confdeltype::text, confupdtype::text, "
            "pg_get_constraintdef(oid), obj_description(oid, 'pg_constraint') FROM pg_constraint WHERE conrelid = ? AND contype IN ('p','u','f','c') "
            "ORDER BY conname",
            [relid],
        ):
            ref_table = None
            if contype == "f":
                ref_table = engine.scalar("SELECT relname FROM pg_class WHERE oid = ?", [confrelid])
            constraints.append(
                Constraint(
                    conname,
                    _KINDS[contype],
                    _names(engine, relid, conkey),
                    condef,
                    ref_table,
                    _names(engine, confrelid, confkey) if contype == "f" else (),
                    _ACTIONS.get(deltype) if contype == "f" else None,
                    _ACTIONS.get(updtype) if contype == "f" else None,
                    ccomment,
                )
            )
        indexes = []
        for iname, unique, method, indexdef, predicate in engine.fetchall(
            "SELECT ic.relname, i.indisunique, am.amname, pg_get_indexdef(i.indexrelid), "
            "pg_get_expr(i.indpred, i.indrelid) FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid "
            "JOIN pg_am am ON am.oid = ic.relam WHERE i.indrelid = ? "
            "AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid AND k.conrelid = i.indrelid) "
            "ORDER BY ic.relname",
            [relid],
        ):
            indexes.append(
                Index(
                    iname,
                    index_keys(indexdef, "postgres"),
                    bool(unique),
                    indexdef.replace(f"{schema}.", ""),
                    method,
                    normalise_expr(predicate, "postgres") if predicate else None,
                )
            )
        triggers = []
        for tname, tgtype, fname in engine.fetchall(
            "SELECT t.tgname, t.tgtype, p.proname FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid "
            "WHERE t.tgrelid = ? AND NOT t.tgisinternal ORDER BY t.tgname",
            [relid],
        ):
            events = tuple(e for bit, e in ((4, "INSERT"), (16, "UPDATE"), (8, "DELETE")) if tgtype & bit)
            triggers.append(Trigger(tname, "BEFORE" if tgtype & 2 else "AFTER", events, fname))
        tables.append(
            Table(
                name,
                kind,
                comment,
                _columns_of(engine, relid),
                tuple(constraints),
                tuple(indexes),
                tuple(triggers),
            )
        )
    functions = tuple(
        r[0]
        for r in engine.fetchall(
            "SELECT DISTINCT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
            "WHERE n.nspname = ? ORDER BY 1",
            [schema],
        )
    )
    return Catalog("postgres", tuple(tables), functions)
