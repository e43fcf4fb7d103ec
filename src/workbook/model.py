"""The neutral catalog model: what either engine's live catalog says about the schema."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Column:
    """A column as the engine reports it."""

    name: str
    type: str
    nullable: bool
    default: str | None = None
    comment: str | None = None


@dataclass(frozen=True)
class Constraint:
    """A primary key, unique, foreign key or check constraint."""

    name: str
    kind: str  # "PRIMARY KEY" | "UNIQUE" | "FOREIGN KEY" | "CHECK"
    columns: tuple[str, ...]
    definition: str
    ref_table: str | None = None
    ref_columns: tuple[str, ...] = ()
    on_delete: str | None = None  # "CASCADE", "SET NULL", "NO ACTION", ...
    on_update: str | None = None
    comment: str | None = None


@dataclass(frozen=True)
class Index:
    """An index; `keys` are column names or expressions in index order."""

    name: str
    keys: tuple[str, ...]
    unique: bool
    definition: str
    method: str = "btree"
    predicate: str | None = None


@dataclass(frozen=True)
class Trigger:
    """A row trigger and the function it runs."""

    name: str
    timing: str  # "BEFORE" | "AFTER"
    events: tuple[str, ...]
    function: str


@dataclass(frozen=True)
class Table:
    """A table or view with everything hanging off it."""

    name: str
    kind: str = "table"  # "table" | "view"
    comment: str | None = None
    columns: tuple[Column, ...] = ()
    constraints: tuple[Constraint, ...] = ()
    indexes: tuple[Index, ...] = ()
    triggers: tuple[Trigger, ...] = ()

    def column(self, name: str) -> Column:
        """The named column; KeyError if absent."""
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(f"{self.name}.{name}")

    @property
    def primary_key(self) -> Constraint | None:
        """The primary key constraint, if any."""
        return next((c for c in self.constraints if c.kind == "PRIMARY KEY"), None)

    @property
    def foreign_keys(self) -> tuple[Constraint, ...]:
        """Foreign keys in name order."""
        return tuple(c for c in self.constraints if c.kind == "FOREIGN KEY")

    def named_unique_keys(self, *, partial: bool = False) -> list[tuple[str, tuple[str, ...]]]:
        """(name, columns) of every unique column set: PK, UNIQUE, plain-column unique indexes; by name.

        With `partial`, unique indexes with a predicate count too (unique among live rows, say).
        """
        keys = [(c.name, c.columns) for c in self.constraints if c.kind in ("PRIMARY KEY", "UNIQUE")]
        cols = {c.name for c in self.columns}
        keys += [
            (i.name, i.keys)
            for i in self.indexes
            if i.unique and (partial or i.predicate is None) and set(i.keys) <= cols
        ]
        return sorted(keys)

    def unique_keys(self) -> list[tuple[str, ...]]:
        """Column sets that are unique: PK, UNIQUE constraints and plain-column unique indexes."""
        return [cols for _, cols in self.named_unique_keys()]


@dataclass(frozen=True)
class Catalog:
    """All tables and views of one engine, sorted by name."""

    engine: str  # "duckdb" | "postgres"
    tables: tuple[Table, ...] = field(default_factory=tuple)
    functions: tuple[str, ...] = ()

    def table(self, name: str) -> Table:
        """The named table or view; KeyError if absent."""
        for t in self.tables:
            if t.name == name:
                return t
        raise KeyError(name)

    @property
    def base_tables(self) -> tuple[Table, ...]:
        """Tables only, no views."""
        return tuple(t for t in self.tables if t.kind == "table")

    def children(self, name: str) -> list[tuple[Table, Constraint]]:
        """(child table, foreign key) pairs that reference the named table."""
        return [(t, fk) for t in self.base_tables for fk in t.foreign_keys if fk.ref_table == name]
