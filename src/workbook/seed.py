"""The seed design prompt: its SQL blocks, run as written and as a schema on either engine."""

from __future__ import annotations

import re
from dataclasses import dataclass

from . import config
from .dialect import adapt_statement
from .engines import Engine
from .errors import first_line
from .sqlsplit import Statement, split_sql

_BLOCK = re.compile(r"```sql\n(.*?)```", re.S)
_HEADING = re.compile(r"^#{2,4} (.+)$", re.M)


@dataclass(frozen=True)
class SeedStatement:
    """A statement of the seed, with the heading of the section it appears under."""

    section: str
    number: int  # 1-based across the whole seed
    statement: Statement

    @property
    def sql(self) -> str:
        return self.statement.sql

    @property
    def label(self) -> str:
        return f"seed statement {self.number} ({self.section}): {self.statement.head}"


@dataclass(frozen=True)
class SeedRun:
    """The outcome of running one seed statement."""

    seed: SeedStatement
    ok: bool
    error: str | None


def seed_text() -> str:
    """The seed prompt as shipped with the package."""
    return config.SEED_PROMPT.read_text(encoding="utf-8")


def statements() -> list[SeedStatement]:
    """Every SQL statement of the seed's ```sql blocks, in document order."""
    text = seed_text()
    heads = [(m.start(), m.group(1).strip()) for m in _HEADING.finditer(text)]
    out: list[SeedStatement] = []
    for block in _BLOCK.finditer(text):
        section = [h for pos, h in heads if pos < block.start()][-1]
        for stmt in split_sql(block.group(1)):
            out.append(SeedStatement(section, len(out) + 1, stmt))
    return out


def find(pattern: str) -> SeedStatement:
    """The first seed statement whose SQL matches the regex (case-insensitive)."""
    for s in statements():
        if re.search(pattern, s.sql, re.I):
            return s
    raise LookupError(pattern)


def queries() -> list[SeedStatement]:
    """The seed's three access-pattern queries."""
    return [s for s in statements() if s.section == "Common Query Patterns"]


def is_schema_statement(s: SeedStatement) -> bool:
    """DDL that builds the seed's schema (not its queries, transactions or sample migration)."""
    head = s.sql.lstrip().upper()
    if s.section == "Common Query Patterns" or head.startswith(("BEGIN", "COMMIT", "INSERT", "UPDATE")):
        return False
    return not (s.section == "Schema Evolution" and "schema_migrations" not in s.sql)


def run_as_written(engine: Engine) -> list[SeedRun]:
    """Run each schema statement of the seed exactly as written, in order, each on its own."""
    runs = []
    for s in filter(is_schema_statement, statements()):
        try:
            engine.execute(s.sql)
            runs.append(SeedRun(s, True, None))
        except Exception as exc:  # the evidence is the engine's own message
            runs.append(SeedRun(s, False, first_line(exc)))
    return runs


def _created_table(s: SeedStatement) -> str | None:
    m = re.match(r"\s*CREATE TABLE (\w+)", s.sql, re.I)
    return m.group(1) if m else None


def build_seed_schema(engine: Engine) -> list[SeedRun]:
    """The seed's schema as close to as written as the engine allows.

    Tables are created parents first (the seed's order fails, finding F01) and, on DuckDB,
    each statement goes through the dialect adapter. Statements that still fail are returned.
    """
    schema = [s for s in statements() if is_schema_statement(s)]
    tables = [s for s in schema if _created_table(s)]
    names = {_created_table(s) for s in tables}
    refs = {_created_table(s): set(re.findall(r"REFERENCES (\w+)", s.sql, re.I)) & names for s in tables}
    ordered: list[SeedStatement] = []
    while len(ordered) < len(tables):
        done = {_created_table(o) for o in ordered}
        ordered.append(
            next(
                s
                for s in tables
                if s not in ordered and refs[_created_table(s)] <= done | {_created_table(s)}
            )
        )
    rest = [s for s in schema if not _created_table(s)]
    runs = []
    for s in ordered + rest:
        stmts = adapt_statement(s.statement, "seed").statements if engine.name == "duckdb" else [s.statement]
        try:
            for st in stmts:
                engine.execute(st.sql)
            runs.append(SeedRun(s, True, None))
        except Exception as exc:
            runs.append(SeedRun(s, False, first_line(exc)))
    return runs


def referenced_but_never_created() -> list[tuple[str, SeedStatement]]:
    """Tables the seed's SQL reads or writes that no seed statement creates."""
    created = {_created_table(s) for s in statements()} - {None}
    pattern = re.compile(r"\b(?:INSERT\s+INTO|(?<!ON\s)UPDATE|REFERENCES|FROM|JOIN)\s+(\w+)\b(?!\s*\()", re.I)
    out = []
    for s in statements():
        body = re.sub(r"--[^\n]*", "", s.sql)
        for name in sorted(set(pattern.findall(body))):
            if name.lower() not in created:
                out.append((name, s))
    return out
