"""Replay is the proof of an audit trail: every audited table rebuilt from audit_log alone.

Each audit row holds the row's image after the change (new_values; none for a DELETE). Taking the
changes of each (table, record) in audit order (seq) and keeping the last image gives the table as
the audit log says it is; it must equal the live table exactly. After a migration that adds or
drops a column, an image written before it has the old columns: replay reads it with the current
ones (a dropped column is ignored, an added one takes its default), so old history keeps working.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from .engines import Engine


def _json(value: object) -> object:
    return json.loads(value) if isinstance(value, str) else value


def audited_tables(migrations=None, audit_function: str | None = None) -> list[str]:  # noqa: ANN001
    """Tables with a row trigger that runs the design's audit function, from the migrations."""
    from . import migrate, triggers
    from .design import AUDIT_FUNCTION

    fn = audit_function or AUDIT_FUNCTION
    found = triggers.declared(migrations if migrations is not None else migrate.discover())
    return sorted({t.table for t in found if t.function == fn and t.row})


def _image(db: Engine, table: str) -> str:
    """The row image as the audit trail records it: generated columns left out (they are derived)."""
    if db.name != "postgres":
        return "to_json(t)"
    derived = [
        r[0]
        for r in db.fetchall(
            "SELECT attname FROM pg_attribute WHERE attrelid = ?::regclass AND attgenerated <> '' AND NOT attisdropped",
            [table],
        )
    ]
    if not derived:
        return "to_jsonb(t)"
    return "to_jsonb(t) - ARRAY[" + ", ".join("'" + d.replace("'", "''") + "'" for d in derived) + "]::text[]"


def live(db: Engine, tables: list[str]) -> dict[str, dict[str, dict]]:
    """Every row of `tables` as its image (to_jsonb on PostgreSQL, to_json on DuckDB), by id."""
    return {
        table: {
            str(rid): _json(img)
            for rid, img in db.fetchall(f'SELECT CAST(id AS TEXT), {_image(db, table)} FROM "{table}" t')
        }
        for table in tables
    }


def rebuild(db: Engine, tables: list[str]) -> dict[str, dict[str, dict]]:
    """The tables as audit_log alone says they are: each record's last image, deleted ones gone."""
    state: dict[str, dict[str, dict]] = {t: {} for t in tables}
    for table, rid, op, new in db.fetchall(
        "SELECT table_name, CAST(record_id AS TEXT), operation, new_values FROM audit_log ORDER BY seq"
    ):
        if table not in state:
            continue
        if op == "DELETE":
            state[table].pop(rid, None)
        else:
            state[table][rid] = _json(new)
    return state


def _defaults(db: Engine, table: str, columns: list[str]) -> dict[str, object]:
    """The image of each column's default, for history written before the column existed."""
    out = {}
    for col in columns:
        if db.name == "postgres":
            expr = db.scalar(
                "SELECT pg_get_expr(d.adbin, d.adrelid) FROM pg_attrdef d JOIN pg_attribute a "
                "ON a.attrelid = d.adrelid AND a.attnum = d.adnum WHERE d.adrelid = ?::regclass AND a.attname = ?",
                [table, col],
            )
            out[col] = json.loads(db.scalar(f"SELECT CAST(to_jsonb({expr}) AS TEXT)")) if expr else None
        else:
            expr = db.scalar(
                "SELECT column_default FROM information_schema.columns "
                "WHERE table_schema = current_schema() AND table_name = ? AND column_name = ?",
                [table, col],
            )
            out[col] = json.loads(db.scalar(f"SELECT CAST(to_json({expr}) AS TEXT)")) if expr else None
    return out


@dataclass(frozen=True)
class Mismatch:
    """One way the rebuilt tables differ from the live ones."""

    table: str
    record_id: str
    live: dict | None
    replayed: dict | None

    def __str__(self) -> str:
        if self.live is None:
            return f"{self.table} {self.record_id}: in the audit log but not in the table"
        if self.replayed is None:
            return f"{self.table} {self.record_id}: in the table but not in the audit log"
        cols = sorted(k for k in self.live if self.live.get(k) != self.replayed.get(k))
        return f"{self.table} {self.record_id}: differs in {', '.join(cols)}"


def compare(db: Engine, tables: list[str] | None = None) -> list[Mismatch]:
    """Every difference between the live tables and their replay from audit_log (empty: exact)."""
    tables = tables or audited_tables()
    now, replayed = live(db, tables), rebuild(db, tables)
    out = []
    for table in tables:
        current = now[table]
        columns = list(next(iter(current.values()))) if current else []
        added = None
        for rid in sorted(current.keys() | replayed[table].keys()):
            a, b = current.get(rid), replayed[table].get(rid)
            if a is not None and b is not None and set(a) != set(b):
                missing = [c for c in columns if c not in b]
                if missing and added is None:
                    added = _defaults(db, table, missing)
                b = {c: b[c] if c in b else (added or {}).get(c) for c in columns}
            if a != b:
                out.append(Mismatch(table, rid, a, b))
    return out


_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}")
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)


def audit_content(db: Engine) -> list[tuple]:
    """audit_log in order, comparable across engines: ids and transactions numbered by first
    appearance, times replaced by '<time>' (the engines differ in both, and in nothing else)."""
    ids: dict[str, str] = {}
    txids: dict[object, str] = {}

    def canon(value: object) -> object:
        if isinstance(value, dict):
            return {k: canon(v) for k, v in sorted(value.items())}
        if isinstance(value, list):
            return [canon(v) for v in value]
        if isinstance(value, str) and _UUID.match(value):
            return ids.setdefault(value.lower(), f"<id {len(ids) + 1}>")
        if isinstance(value, str) and _TIME.match(value):
            return "<time>"
        return value

    out = []
    for table, rid, op, old, new, actor, txid in db.fetchall(
        "SELECT table_name, CAST(record_id AS TEXT), operation, old_values, new_values, "
        "CAST(changed_by AS TEXT), txid FROM audit_log ORDER BY seq"
    ):
        tx = txids.setdefault(txid, f"<tx {len(txids) + 1}>")
        out.append((table, canon(rid), op, canon(_json(old)), canon(_json(new)), canon(actor), tx))
    return out
