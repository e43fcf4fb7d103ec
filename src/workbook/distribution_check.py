"""Check a design's Citus distribution against a live PostgreSQL catalog, without Citus.

The design declares, per table, whether Citus would hash-distribute it (and by which column, in which
co-location group), replicate it to every node as a reference table, or leave it local on the
coordinator (`workbook.design.distribution`). This module reads the migrated schema from pg_catalog and
applies the rules Citus enforces when `create_distributed_table` / `create_reference_table` run and when
constraints, indexes and triggers are added afterwards. It names none of the design's tables.

The rules and where they come from (Citus documentation, docs.citusdata.com, "Creating and Modifying
Distributed Objects (DDL)", "SQL Support and Workarounds", "Common Error Messages", the GUC reference;
and where the documentation is silent, the error messages of Citus's own source, commands/
foreign_constraint.c, commands/trigger.c, commands/index.c):

* ``declared``: every table of the schema has a placement, and every placement names a table.
* ``dist-column``: a distributed table has its distribution column, NOT NULL ("cannot perform an INSERT
  with NULL in the partition column"), of a type with a default hash operator class (Citus hashes it).
* ``colocation-type``: co-located tables are distributed by columns of the same type (co-location groups
  tables "having the same distribution column type").
* ``unique-includes-dist``: on a distributed table every primary key, unique constraint, exclusion
  constraint and unique index (partial ones too) has the distribution column as a plain key column
  ("creating unique indexes on non-partition columns is currently unsupported"); an expression over it
  does not count. Reference and local tables may have any unique constraint.
* ``fk-placement``: foreign keys may run between reference tables, between reference and local tables,
  from a distributed table to a reference table, and between co-located distributed tables; never from a
  reference table to a distributed one, from a distributed table to a local one, or from a local table to
  a distributed one.
* ``fk-colocated``: a foreign key between distributed tables joins tables of one co-location group and
  holds the distribution column at the same position on both sides.
* ``fk-actions``: when a foreign key's referencing columns include the distribution column, ON DELETE
  SET NULL / SET DEFAULT and ON UPDATE SET NULL / SET DEFAULT / CASCADE are refused; from a reference
  table to a local one ON DELETE / ON UPDATE CASCADE is not supported.
* ``sequence-bigint``: a column filled from a sequence (nextval default or identity) on a distributed or
  reference table is bigint: Citus encodes the node in the high bits of values drawn on workers, which
  does not fit a smaller type.
* ``partition-levels``: a distributed partitioned table has one level of partitions ("distributing
  multi-level partitioned tables is not supported").
* ``triggers``: CREATE TRIGGER on a distributed or reference table is refused unless
  ``citus.enable_unsafe_triggers`` is on (Citus 11+; "may cause visibility and deadlock issues"); the
  trigger then runs on the worker's shard. Local tables keep their triggers.

Besides these refusals it reports caveats, things Citus accepts whose meaning changes (severity
"caveat"): a trigger function that writes other tables (it runs on the shard, and a write to a table on
another shard or to a reference table turns one row's change into a multi-node transaction); a trigger
function that reads a session setting (Citus propagates only SET LOCAL, and only with
``citus.propagate_set_commands = 'local'``; a value from set_config() stays on the coordinator); and a
table written from trigger functions whose defaults call nextval(), txid_current() or now() (evaluated on
the worker, so ordering, transaction ids and timestamps are per node, not per distributed transaction).

What is not checked here: anything that needs a running cluster (shard counts, replication factor,
query pushdown of arbitrary SQL, rebalancing), and the contents of functions other than trigger
functions. Which access patterns become cross-shard is derived from the declaration by `routing`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from .engines import Engine
from .errors import WorkbookError

Kind = Literal["distributed", "reference", "local"]
KINDS = ("distributed", "reference", "local")

RULES: dict[str, tuple[str, str]] = {
    "declared": (
        "Every table of the schema has a placement and every placement names a table.",
        "the design's own rule",
    ),
    "dist-column": (
        "A distributed table has its distribution column, NOT NULL, of a hashable type.",
        "Citus documentation: Distributed Tables; error 'cannot perform an INSERT with NULL in the partition column'",
    ),
    "colocation-type": (
        "Co-located tables are distributed by columns of the same type.",
        "Citus documentation: Co-Locating Tables (create_distributed_table colocate_with)",
    ),
    "unique-includes-dist": (
        "Every primary key, unique or exclusion constraint and unique index of a distributed table includes the distribution column.",
        "Citus documentation: Adding/Removing Constraints; Common Error Messages, 'Cannot create uniqueness constraint'",
    ),
    "fk-placement": (
        "Foreign keys run reference-reference, reference-local, distributed-reference or distributed-distributed; "
        "never reference-to-distributed, distributed-to-local or local-to-distributed.",
        "Citus documentation: Adding/Removing Constraints; commands/foreign_constraint.c",
    ),
    "fk-colocated": (
        "A foreign key between distributed tables joins co-located tables on the distribution column, at the same position on both sides.",
        "Citus documentation: Adding/Removing Constraints; commands/foreign_constraint.c",
    ),
    "fk-actions": (
        "A foreign key that includes the distribution column has no ON DELETE SET NULL/SET DEFAULT and no ON UPDATE "
        "SET NULL/SET DEFAULT/CASCADE; a reference-to-local key has no CASCADE.",
        "commands/foreign_constraint.c; Citus documentation: Adding/Removing Constraints",
    ),
    "sequence-bigint": (
        "A sequence-filled or identity column of a distributed or reference table is bigint.",
        "Citus documentation: SQL Support and Workarounds, Limitations",
    ),
    "partition-levels": (
        "A distributed partitioned table has a single level of partitions.",
        "Citus documentation: SQL Support and Workarounds, Limitations",
    ),
    "triggers": (
        "Distributed and reference tables have no triggers unless citus.enable_unsafe_triggers is on.",
        "commands/trigger.c; GUC citus.enable_unsafe_triggers (Citus 11+)",
    ),
    "trigger-writes": (
        "Caveat: a trigger function on a distributed or reference table that writes other tables runs on the shard.",
        "GUC citus.enable_unsafe_triggers: 'may cause visibility and deadlock issues'",
    ),
    "trigger-setting": (
        "Caveat: a trigger function that reads a session setting sees it on the worker only if it was set with SET LOCAL "
        "and citus.propagate_set_commands = 'local'.",
        "Citus documentation: citus.propagate_set_commands",
    ),
    "trigger-defaults": (
        "Caveat: defaults calling nextval(), txid_current() or now() in a table written by trigger functions are evaluated "
        "on the worker.",
        "Citus documentation: SQL Support and Workarounds (sequences on workers)",
    ),
}

_HASH_OPCLASS = """SELECT EXISTS (
    SELECT 1 FROM pg_opclass o JOIN pg_am am ON am.oid = o.opcmethod JOIN pg_type t ON t.oid = ?::oid
    WHERE am.amname = 'hash' AND o.opcdefault AND (
        o.opcintype = t.oid
        OR (o.opcintype = 'anyenum'::regtype AND t.typtype = 'e')
        OR (o.opcintype = 'anyarray'::regtype AND t.typcategory = 'A')
        OR EXISTS (SELECT 1 FROM pg_cast c WHERE c.castsource = t.oid AND c.casttarget = o.opcintype
                   AND c.castmethod = 'b')))"""
_WRITES = re.compile(
    r"(?<!FOR\s)\b(INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+(?:ONLY\s+)?\"?([A-Za-z_]\w*)\"?", re.I
)
_VOLATILE_DEFAULT = re.compile(r"\b(nextval|txid_current|now|clock_timestamp|current_timestamp)\b", re.I)
_DEL_ACTIONS = {"a": "NO ACTION", "r": "RESTRICT", "c": "CASCADE", "n": "SET NULL", "d": "SET DEFAULT"}


@dataclass(frozen=True)
class Placement:
    """Where one table lives on a Citus cluster, and the access-pattern reason for it."""

    table: str
    kind: Kind
    column: str | None = None  # the distribution column (distributed tables only)
    group: str | None = None  # co-location group (distributed tables only); tables of one group share shards
    why: str = ""


@dataclass(frozen=True)
class Access:
    """One access pattern: the tables it reads with the columns it filters on by equality, and what it writes."""

    pattern: str
    reads: tuple[tuple[str, tuple[str, ...]], ...] = ()
    writes: tuple[tuple[str, tuple[str, ...]], ...] = ()


@dataclass(frozen=True)
class Distribution:
    """A design's Citus layout: one placement per table, the trigger setting it assumes, its access patterns."""

    placements: tuple[Placement, ...]
    enable_unsafe_triggers: bool = False
    access: tuple[Access, ...] = ()

    def __post_init__(self) -> None:
        seen: set[str] = set()
        for p in self.placements:
            if p.table in seen:
                raise WorkbookError(f"distribution: {p.table} has two placements; give each table one")
            seen.add(p.table)
            if p.kind not in KINDS:
                raise WorkbookError(
                    f"distribution: {p.table}: kind {p.kind!r} is not one of {', '.join(KINDS)}"
                )
            if (p.kind == "distributed") != (p.column is not None):
                raise WorkbookError(
                    f"distribution: {p.table}: a distribution column goes with kind 'distributed' and only with it"
                )
            if p.group is not None and p.kind != "distributed":
                raise WorkbookError(
                    f"distribution: {p.table}: only distributed tables have a co-location group"
                )

    def placement(self, table: str) -> Placement | None:
        """The table's placement, or None when the design does not place it."""
        return next((p for p in self.placements if p.table == table), None)

    def group_of(self, table: str) -> str | None:
        """The co-location group of a distributed table (its own name when none is declared)."""
        p = self.placement(table)
        if p is None or p.kind != "distributed":
            return None
        return p.group or p.table


@dataclass(frozen=True)
class Column:
    """A column as the checks need it."""

    name: str
    type: str
    type_oid: int
    not_null: bool
    default: str | None
    identity: bool


@dataclass(frozen=True)
class UniqueKey:
    """A primary key, unique or exclusion constraint, or unique index; None stands for an expression key."""

    name: str
    kind: str  # "PRIMARY KEY" | "UNIQUE" | "EXCLUDE" | "UNIQUE INDEX"
    columns: tuple[str | None, ...]
    keys: tuple[str, ...]  # the key columns and expressions as written


@dataclass(frozen=True)
class ForeignKey:
    """A foreign key with its actions."""

    name: str
    columns: tuple[str, ...]
    ref_table: str
    ref_columns: tuple[str, ...]
    on_delete: str
    on_update: str


@dataclass(frozen=True)
class TriggerInfo:
    """A user trigger and what its function does beyond its own row."""

    name: str
    function: str
    writes: tuple[str, ...]  # other tables of the schema the function inserts into, updates or deletes from
    inserts: tuple[str, ...]  # those of them it inserts into (where column defaults are evaluated)
    reads_setting: bool  # the function calls current_setting()


@dataclass(frozen=True)
class TableInfo:
    """One table of the live schema."""

    name: str
    partitioned: bool
    columns: tuple[Column, ...]
    uniques: tuple[UniqueKey, ...]
    foreign_keys: tuple[ForeignKey, ...]
    triggers: tuple[TriggerInfo, ...]
    partitions: tuple[str, ...] = ()
    partitioned_partitions: tuple[str, ...] = ()

    def column(self, name: str) -> Column | None:
        """The named column, or None."""
        return next((c for c in self.columns if c.name == name), None)


@dataclass(frozen=True)
class Schema:
    """The tables of one schema (partitions folded into their parents) and which column types hash."""

    tables: tuple[TableInfo, ...]
    hashable: frozenset[int] = field(default_factory=frozenset)

    def table(self, name: str) -> TableInfo | None:
        """The named table, or None."""
        return next((t for t in self.tables if t.name == name), None)


@dataclass(frozen=True)
class Result:
    """One rule applied to one object: whether it holds, and if not what the design would change."""

    rule: str
    table: str
    obj: str
    ok: bool
    message: str
    change: str = ""
    severity: Literal["error", "caveat"] = "error"


@dataclass(frozen=True)
class Report:
    """Every result of a check, in rule then table order."""

    results: tuple[Result, ...]

    @property
    def violations(self) -> tuple[Result, ...]:
        """Results Citus would refuse."""
        return tuple(r for r in self.results if not r.ok and r.severity == "error")

    @property
    def caveats(self) -> tuple[Result, ...]:
        """Results Citus accepts with a changed meaning."""
        return tuple(r for r in self.results if not r.ok and r.severity == "caveat")

    def failed(self, rule: str) -> tuple[Result, ...]:
        """The failing results of one rule."""
        return tuple(r for r in self.results if r.rule == rule and not r.ok)

    def as_data(self) -> list[dict]:
        """The results as plain dictionaries (for JSON and notebooks)."""
        return [r.__dict__.copy() for r in self.results]


def read_schema(db: Engine) -> Schema:
    """The tables of the engine's current schema, read from pg_catalog (PostgreSQL only)."""
    if db.name != "postgres":
        raise WorkbookError(f"distribution check: needs a PostgreSQL catalog, got {db.name}")
    rels = db.fetchall(
        "SELECT c.oid, c.relname, c.relkind::text, c.relispartition FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = current_schema() "
        "AND c.relkind IN ('r', 'p') ORDER BY c.relname"
    )
    names = {oid: name for oid, name, _, _ in rels}
    kinds = {oid: kind for oid, _, kind, _ in rels}
    children: dict[int, list[int]] = {}
    for child, parent in db.fetchall(
        "SELECT i.inhrelid, i.inhparent FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = current_schema()"
    ):
        children.setdefault(parent, []).append(child)
    attnames: dict[int, dict[int, str]] = {}
    columns: dict[int, list[Column]] = {}
    for relid, attnum, name, typ, typoid, notnull, identity, default in db.fetchall(
        "SELECT a.attrelid, a.attnum, a.attname, format_type(a.atttypid, a.atttypmod), a.atttypid::int, "
        "a.attnotnull, a.attidentity <> '', pg_get_expr(d.adbin, d.adrelid) FROM pg_attribute a "
        "JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
        "LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum "
        "WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped "
        "ORDER BY a.attrelid, a.attnum"
    ):
        attnames.setdefault(relid, {})[attnum] = name
        columns.setdefault(relid, []).append(Column(name, typ, typoid, notnull, default, identity))
    uniques: dict[int, list[UniqueKey]] = {}
    fks: dict[int, list[ForeignKey]] = {}
    for relid, conname, contype, conkey, confrelid, confkey, deltype, updtype in db.fetchall(
        "SELECT k.conrelid, k.conname, k.contype::text, k.conkey::int[], k.confrelid, k.confkey::int[], "
        "k.confdeltype::text, k.confupdtype::text FROM pg_constraint k "
        "JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = current_schema() AND k.contype IN ('p', 'u', 'x', 'f') AND k.conparentid = 0 "
        "ORDER BY k.conrelid, k.conname"
    ):
        cols = tuple(attnames[relid][a] for a in conkey or [])
        if contype == "f":
            if confrelid not in names:  # a table outside the schema: not this design's
                continue
            ref = tuple(attnames[confrelid][a] for a in confkey or [])
            fks.setdefault(relid, []).append(
                ForeignKey(conname, cols, names[confrelid], ref, _DEL_ACTIONS[deltype], _DEL_ACTIONS[updtype])
            )
        else:
            kind = {"p": "PRIMARY KEY", "u": "UNIQUE", "x": "EXCLUDE"}[contype]
            uniques.setdefault(relid, []).append(UniqueKey(conname, kind, cols, cols))
    for relid, iname, indexrelid, nkeys, indkey in db.fetchall(
        "SELECT i.indrelid, ic.relname, i.indexrelid, i.indnkeyatts, i.indkey::int2[]::int[] FROM pg_index i "
        "JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_namespace n ON n.oid = ic.relnamespace "
        "WHERE n.nspname = current_schema() AND i.indisunique AND NOT EXISTS "
        "(SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid AND k.conrelid = i.indrelid) "
        "AND NOT EXISTS (SELECT 1 FROM pg_inherits h WHERE h.inhrelid = i.indexrelid) ORDER BY ic.relname"
    ):
        if relid not in names:
            continue
        keys = tuple(
            db.scalar("SELECT pg_get_indexdef(?::oid, ?, true)", [indexrelid, k]) for k in range(1, nkeys + 1)
        )
        cols = tuple(attnames[relid][a] if a else None for a in indkey[:nkeys])
        uniques.setdefault(relid, []).append(UniqueKey(iname, "UNIQUE INDEX", cols, keys))
    triggers: dict[int, list[TriggerInfo]] = {}
    for relid, tname, fname, src in db.fetchall(
        "SELECT t.tgrelid, t.tgname, p.proname, p.prosrc FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid "
        "JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = current_schema() AND NOT t.tgisinternal AND t.tgparentid = 0 ORDER BY t.tgname"
    ):
        found = [
            (verb.split()[0].upper(), t) for verb, t in _WRITES.findall(src or "") if t in names.values()
        ]
        writes = tuple(sorted({t for _, t in found}))
        inserts = tuple(sorted({t for verb, t in found if verb == "INSERT"}))
        triggers.setdefault(relid, []).append(
            TriggerInfo(tname, fname, writes, inserts, "current_setting(" in (src or ""))
        )
    hashable = frozenset(
        t for t in {c.type_oid for cs in columns.values() for c in cs} if db.scalar(_HASH_OPCLASS, [t])
    )
    tables = []
    for oid, name, kind, is_partition in rels:
        if is_partition:
            continue
        kids = children.get(oid, [])
        tables.append(
            TableInfo(
                name,
                kind == "p",
                tuple(columns.get(oid, [])),
                tuple(uniques.get(oid, [])),
                tuple(fks.get(oid, [])),
                tuple(triggers.get(oid, [])),
                tuple(sorted(names[k] for k in kids)),
                tuple(sorted(names[k] for k in kids if kinds[k] == "p")),
            )
        )
    return Schema(tuple(tables), hashable)


def _cols(cols: Iterable[str | None]) -> str:
    return "(" + ", ".join(c if c is not None else "<expression>" for c in cols) + ")"


def _with_first(col: str, cols: Sequence[str | None]) -> str:
    return "(" + ", ".join([col, *[c if c is not None else "<expression>" for c in cols]]) + ")"


class _Checker:
    """Applies the rules of the module docstring to one schema and one declaration."""

    def __init__(self, schema: Schema, design: Distribution) -> None:
        self.schema, self.design = schema, design
        self.results: list[Result] = []

    def add(self, rule: str, table: str, obj: str, ok: bool, message: str, change: str = "") -> None:
        severity = "caveat" if rule.startswith("trigger-") else "error"
        self.results.append(Result(rule, table, obj, ok, message, "" if ok else change, severity))

    def kind(self, table: str) -> Kind:
        p = self.design.placement(table)
        return p.kind if p is not None else "local"

    def run(self) -> Report:
        self.declared()
        for t in self.schema.tables:
            p = self.design.placement(t.name)
            if p is None:
                continue
            if p.kind == "distributed":
                self.dist_column(t, p)
                self.uniques(t, p)
                self.partition_levels(t)
            if p.kind in ("distributed", "reference"):
                self.sequences(t)
                self.triggers(t, p)
            for fk in t.foreign_keys:
                self.foreign_key(t, fk)
        self.colocation_types()
        self.trigger_defaults()
        order = list(RULES)
        return Report(tuple(sorted(self.results, key=lambda r: (order.index(r.rule), r.table, r.obj))))

    def declared(self) -> None:
        for t in self.schema.tables:
            p = self.design.placement(t.name)
            self.add(
                "declared",
                t.name,
                t.name,
                p is not None,
                f"{t.name} has no placement",
                f"{t.name}: declare it distributed (with a column), reference or local",
            )
        for p in self.design.placements:
            if self.schema.table(p.table) is None:
                self.add(
                    "declared",
                    p.table,
                    p.table,
                    False,
                    f"{p.table} is placed but is not a table of the schema",
                    f"{p.table}: remove the placement or create the table",
                )

    def dist_column(self, t: TableInfo, p: Placement) -> None:
        col = t.column(p.column or "")
        if col is None:
            parent = self._parent_with_column(t, p)
            how = f", copied from {parent}" if parent else ""
            self.add(
                "dist-column",
                t.name,
                f"{t.name}.{p.column}",
                False,
                f"{t.name} has no column {p.column} to distribute by",
                f"{t.name}: add {p.column} NOT NULL{how}, or distribute it by a column it has",
            )
            return
        self.add(
            "dist-column",
            t.name,
            f"{t.name}.{col.name}",
            col.not_null,
            f"{t.name}.{col.name} is nullable; Citus refuses a row whose distribution value is NULL",
            f"{t.name}: make {col.name} NOT NULL",
        )
        self.add(
            "dist-column",
            t.name,
            f"{t.name}.{col.name} ({col.type})",
            col.type_oid in self.schema.hashable,
            f"{t.name}.{col.name} is {col.type}, which has no hash operator class",
            f"{t.name}: distribute by a column of a hashable type",
        )

    def _parent_with_column(self, t: TableInfo, p: Placement) -> str | None:
        """'<parent>.<col> through <fk>' for a co-located parent that has the column, if one exists."""
        for fk in t.foreign_keys:
            parent = self.schema.table(fk.ref_table)
            if parent is None or self.design.group_of(fk.ref_table) != self.design.group_of(t.name):
                continue
            if parent.column(p.column or "") is not None:
                return f"{fk.ref_table}.{p.column} through {fk.name} ({', '.join(fk.columns)})"
        return None

    def uniques(self, t: TableInfo, p: Placement) -> None:
        col = p.column or ""
        for u in t.uniques:
            label = "PK" if u.kind == "PRIMARY KEY" else u.kind.lower()
            self.add(
                "unique-includes-dist",
                t.name,
                u.name,
                col in u.columns,
                f"{t.name}: {label} {u.name} {_cols(u.keys)} lacks {col}",
                f"{t.name}: make {u.name} {_with_first(col, u.keys)}, or make {t.name} a reference table",
            )

    def partition_levels(self, t: TableInfo) -> None:
        if not t.partitioned:
            return
        self.add(
            "partition-levels",
            t.name,
            t.name,
            not t.partitioned_partitions,
            f"{t.name} has partitions that are partitioned themselves: {', '.join(t.partitioned_partitions)}",
            f"{t.name}: flatten the partitions to one level",
        )

    def sequences(self, t: TableInfo) -> None:
        for c in t.columns:
            if not (c.identity or (c.default and "nextval(" in c.default)):
                continue
            self.add(
                "sequence-bigint",
                t.name,
                f"{t.name}.{c.name}",
                c.type == "bigint",
                f"{t.name}.{c.name} is a {c.type} filled from a sequence; values drawn on workers need bigint",
                f"{t.name}: make {c.name} bigint",
            )

    def foreign_key(self, t: TableInfo, fk: ForeignKey) -> None:
        src, dst = self.kind(t.name), self.kind(fk.ref_table)
        arrow = f"{fk.name} {_cols(fk.columns)} -> {fk.ref_table} {_cols(fk.ref_columns)}"
        refused = {
            ("reference", "distributed"): "a reference table cannot reference a distributed table",
            (
                "distributed",
                "local",
            ): "a distributed table can only reference distributed or reference tables",
            ("local", "distributed"): "a local table cannot reference a distributed table",
        }.get((src, dst))
        fix = {
            ("reference", "distributed"): f"make {fk.ref_table} a reference table or {t.name} distributed",
            ("distributed", "local"): f"make {fk.ref_table} a reference table",
            ("local", "distributed"): f"make {t.name} distributed and co-located with {fk.ref_table}",
        }.get((src, dst), "")
        if src != "local" or dst != "local":
            self.add(
                "fk-placement",
                t.name,
                fk.name,
                refused is None,
                f"{t.name}: {arrow}: {refused}",
                f"{t.name}: drop {fk.name} or {fix}",
            )
        if refused is not None:
            return
        if src == "distributed" and dst == "distributed":
            self._fk_colocated(t, fk, arrow)
        if src == "distributed":
            col = self.design.placement(t.name).column  # type: ignore[union-attr]
            if col in fk.columns:
                bad = [("ON DELETE", fk.on_delete)] if fk.on_delete in ("SET NULL", "SET DEFAULT") else []
                if fk.on_update in ("SET NULL", "SET DEFAULT", "CASCADE"):
                    bad.append(("ON UPDATE", fk.on_update))
                self.add(
                    "fk-actions",
                    t.name,
                    fk.name,
                    not bad,
                    f"{t.name}: {arrow} includes the distribution column {col} and has "
                    + " and ".join(f"{w} {a}" for w, a in bad),
                    f"{t.name}: make {fk.name} " + " and ".join(w for w, _ in bad) + " NO ACTION and do that "
                    "change in the write path",
                )
        if src == "reference" and dst == "local":
            bad = [
                f"ON {w} CASCADE"
                for w, a in (("DELETE", fk.on_delete), ("UPDATE", fk.on_update))
                if a == "CASCADE"
            ]
            self.add(
                "fk-actions",
                t.name,
                fk.name,
                not bad,
                f"{t.name}: {arrow} runs from a reference table to a local one with {' and '.join(bad)}",
                f"{t.name}: make {fk.name} NO ACTION or {fk.ref_table} a reference table",
            )

    def _fk_colocated(self, t: TableInfo, fk: ForeignKey, arrow: str) -> None:
        me, other = self.design.placement(t.name), self.design.placement(fk.ref_table)
        assert me is not None and other is not None
        same_group = self.design.group_of(t.name) == self.design.group_of(fk.ref_table)
        self.add(
            "fk-colocated",
            t.name,
            f"{fk.name} (co-location)",
            same_group,
            f"{t.name}: {arrow} joins tables of different co-location groups",
            f"{t.name}: co-locate {t.name} with {fk.ref_table}, or drop {fk.name}",
        )
        pos = [
            i
            for i, (a, b) in enumerate(zip(fk.columns, fk.ref_columns, strict=True))
            if a == me.column and b == other.column
        ]
        self.add(
            "fk-colocated",
            t.name,
            f"{fk.name} (columns)",
            bool(pos),
            f"{t.name}: {arrow} does not pair {me.column} with {fk.ref_table}.{other.column}",
            f"{t.name}: make {fk.name} ({me.column}, {', '.join(fk.columns)}) -> {fk.ref_table} "
            f"({other.column}, {', '.join(fk.ref_columns)}), keyed by a unique ({other.column}, "
            f"{', '.join(fk.ref_columns)}) on {fk.ref_table}",
        )

    def triggers(self, t: TableInfo, p: Placement) -> None:
        if not t.triggers:
            return
        names = ", ".join(f"{tr.name} ({tr.function})" for tr in t.triggers)
        local_only = [tr.name for tr in t.triggers if not tr.writes]
        crossing = [tr.name for tr in t.triggers if tr.writes]
        fixes = []
        if local_only:
            fixes.append(
                f"keep {', '.join(local_only)} (they write no other table) with citus.enable_unsafe_triggers = on"
            )
        if crossing:
            fixes.append(f"move {', '.join(crossing)} into the write API (they write other tables)")
        self.add(
            "triggers",
            t.name,
            names,
            self.design.enable_unsafe_triggers,
            f"{t.name} ({p.kind}) has {len(t.triggers)} trigger(s), refused while citus.enable_unsafe_triggers is off",
            f"{t.name}: " + "; ".join(fixes),
        )
        for tr in t.triggers:
            if tr.writes:
                where = ", ".join(f"{w} ({self.kind(w)})" for w in tr.writes)
                self.add(
                    "trigger-writes",
                    t.name,
                    f"{tr.name} ({tr.function})",
                    False,
                    f"{tr.function} on {p.kind} {t.name} writes {where} from the shard",
                    f"{t.name}: write {', '.join(tr.writes)} in the same transaction from the write API",
                )
            if tr.reads_setting:
                self.add(
                    "trigger-setting",
                    t.name,
                    f"{tr.name} ({tr.function})",
                    False,
                    f"{tr.function} reads current_setting() on the worker",
                    "set the value with SET LOCAL and citus.propagate_set_commands = 'local', or pass it as data",
                )

    def colocation_types(self) -> None:
        groups: dict[str, list[tuple[str, str]]] = {}
        for p in self.design.placements:
            t = self.schema.table(p.table)
            if p.kind != "distributed" or t is None or t.column(p.column or "") is None:
                continue
            groups.setdefault(self.design.group_of(p.table) or "", []).append(
                (p.table, t.column(p.column or "").type)  # type: ignore[union-attr]
            )
        for group, members in sorted(groups.items()):
            if len(members) < 2:
                continue
            types = sorted({typ for _, typ in members})
            self.add(
                "colocation-type",
                group,
                f"group {group}",
                len(types) == 1,
                f"group {group} mixes distribution column types: "
                + ", ".join(f"{tbl} {typ}" for tbl, typ in members),
                f"group {group}: give every member's distribution column one type",
            )

    def trigger_defaults(self) -> None:
        written: dict[str, set[str]] = {}
        for t in self.schema.tables:
            if self.kind(t.name) == "local":
                continue
            for tr in t.triggers:
                for w in tr.inserts:
                    written.setdefault(w, set()).add(tr.function)
        for name, functions in sorted(written.items()):
            t = self.schema.table(name)
            if t is None:
                continue
            for c in t.columns:
                if c.default and _VOLATILE_DEFAULT.search(c.default):
                    self.add(
                        "trigger-defaults",
                        name,
                        f"{name}.{c.name}",
                        False,
                        f"{name}.{c.name} DEFAULT {c.default} is evaluated on the worker when "
                        f"{', '.join(sorted(functions))} inserts into {name}",
                        f"{name}: do not rely on {c.name} being ordered or shared across nodes",
                    )


def check(db: Engine, design: Distribution) -> Report:
    """Apply Citus's rules to the engine's live schema under the design's declaration."""
    return check_schema(read_schema(db), design)


def check_schema(schema: Schema, design: Distribution) -> Report:
    """Apply Citus's rules to a schema already read."""
    return _Checker(schema, design).run()


def routing(schema: Schema, design: Distribution) -> list[dict]:
    """Where each declared access pattern runs on the cluster, from the placements and the triggers.

    A distributed table read or written with its distribution column among the equality filters is one
    shard, without it all shards; a reference table is read from the local replica and written on every
    node. Writes include the tables that the written tables' trigger functions write, transitively
    (whatever the trigger's event): one row each, so one shard of their group.
    """
    out = []
    for a in design.access:
        reads = [(t, _route(design, t, cols)) for t, cols in a.reads]
        writes = [(t, _route(design, t, cols, write=True)) for t, cols in a.writes]
        for t in _trigger_closure(schema, [t for t, _ in a.writes]):
            p = design.placement(t)
            col = p.column if p is not None and p.kind == "distributed" else None
            writes.append((t, _route(design, t, (col,) if col else (), write=True) + " (by trigger)"))
        out.append(
            {
                "pattern": a.pattern,
                "reads": [f"{t}: {r}" for t, r in reads],
                "writes": [f"{t}: {r}" for t, r in writes],
                "verdict": _verdict(design, reads, writes),
            }
        )
    return out


def _route(design: Distribution, table: str, cols: Sequence[str], write: bool = False) -> str:
    p = design.placement(table)
    if p is None or p.kind == "local":
        return "coordinator"
    if p.kind == "reference":
        return "every node" if write else "local replica"
    group = design.group_of(table)
    return f"one shard of {group}" if p.column in cols else f"all shards of {group}"


def _trigger_closure(schema: Schema, tables: Sequence[str]) -> list[str]:
    """Tables written by the triggers of `tables`, transitively, in discovery order."""
    seen, todo, out = set(tables), list(tables), []
    while todo:
        t = schema.table(todo.pop(0))
        if t is None:
            continue
        for tr in t.triggers:
            for w in tr.writes:
                if w not in seen:
                    seen.add(w)
                    out.append(w)
                    todo.append(w)
    return out


def _verdict(design: Distribution, reads: list[tuple[str, str]], writes: list[tuple[str, str]]) -> str:
    if writes:
        everywhere = sorted({t for t, r in writes if r.startswith("every node")})
        groups = {design.group_of(t) for t, _ in writes if design.group_of(t)}
        if everywhere:
            return f"multi-node transaction: {', '.join(everywhere)} written on every node (two-phase commit)"
        if len(groups) > 1 or any(r.startswith("all shards") for _, r in writes):
            return "multi-shard transaction (two-phase commit)"
        return "single shard when the rows' distribution values agree"
    if any(r.startswith("all shards") for _, r in reads):
        return "fan-out to all shards, merged on the coordinator"
    groups = {design.group_of(t) for t, _ in reads if design.group_of(t)}
    if groups:
        return "single shard" if len(groups) == 1 else "one shard per co-location group"
    return "local on any node (reference tables)"


def _md(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def render_markdown(report: Report, design: Distribution, schema: Schema | None = None) -> str:
    """The declaration, the rules with their counts, each violation and caveat with its change, as markdown."""
    lines = ["| Table | Placement | Distribution column | Co-location group | Why |", "|---|---|---|---|---|"]
    for p in design.placements:
        group = design.group_of(p.table) or ""
        lines.append(f"| {p.table} | {p.kind} | {p.column or ''} | {group} | {_md(p.why)} |")
    lines += ["", "| Rule | Checked | Failed | Source |", "|---|---:|---:|---|"]
    for rule, (text, source) in RULES.items():
        mine = [r for r in report.results if r.rule == rule]
        failed = sum(1 for r in mine if not r.ok)
        lines.append(f"| `{rule}`: {_md(text)} | {len(mine)} | {failed} | {_md(source)} |")
    for title, rows in (
        ("Refused by Citus", report.violations),
        (
            "Accepted, with a changed meaning (triggers: once citus.enable_unsafe_triggers is on)",
            report.caveats,
        ),
    ):
        lines += ["", f"**{title}** ({len(rows)})", ""]
        if not rows:
            lines.append("None.")
            continue
        lines += ["| Rule | Object | What | Change |", "|---|---|---|---|"]
        lines += [f"| `{r.rule}` | {_md(r.obj)} | {_md(r.message)} | {_md(r.change)} |" for r in rows]
    if schema is not None and design.access:
        lines += ["", "| Access pattern | Reads | Writes | Runs as |", "|---|---|---|---|"]
        for row in routing(schema, design):
            reads = "<br>".join(_md(x) for x in row["reads"]) or "-"
            writes = "<br>".join(_md(x) for x in row["writes"]) or "-"
            lines.append(f"| {_md(row['pattern'])} | {reads} | {writes} | {row['verdict']} |")
    return "\n".join(lines) + "\n"
