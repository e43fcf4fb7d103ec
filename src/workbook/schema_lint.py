"""A schema lint over the live PostgreSQL catalog: every hit joined with the design's reviewed reason.

The rules are those of tbls' `lint` and SchemaCrawler's linters, read from `pg_catalog` of the
engine's schema (`current_schema()`, nothing else) after the design's migrations have run: what the
database holds, not what a file says. `run` lists the hits, `review` joins each with its reason from a
declaration keyed by (rule, object), and `check` refuses a hit without a reason and a reason without a
hit, in one line, so the table of hits in the document never lies. A reason that begins "TO FIX:"
accepts a defect for now and says which migration should fix it.

Objects are named without the schema (it is a private one per engine): a table or view as `table`,
a column as `table.column`, a constraint or index as `table.name`.

This module names none of the design's tables; the reasons are passed in (this design's:
`workbook.design.schema_lint.REASONS`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from pglast import ast, parse_sql
from pglast.enums.primnodes import BoolExprType, NullTestType

from . import tables
from .engines import Engine
from .errors import WorkbookError

# Where this design's reasons live, for the messages that ask for one.
REASONS_IN = "src/workbook/design/schema_lint.py"
TO_FIX = "TO FIX:"  # how a reason begins that accepts a defect until a migration fixes it

FK_WITHOUT_INDEX = "fk-without-index"
NO_PRIMARY_KEY = "table-without-primary-key"
MISSING_COMMENT = "missing-comment"
REDUNDANT_INDEX = "redundant-index"
UNNAMED = "unnamed-constraint"
NULLABLE_UNIQUE = "nullable-column-in-unique-key"
VARCHAR = "varchar-length"

RULES: dict[str, str] = {
    FK_WITHOUT_INDEX: "A foreign key whose columns (in any order) are not the leading key columns of a valid, "
    "non-partial btree or hash index on its table: a delete or key update of the parent scans the child.",
    NO_PRIMARY_KEY: "A table (plain or partitioned; partitions follow their parent) without a PRIMARY KEY.",
    MISSING_COMMENT: "A table, view or materialized view, or a column of a table, without a COMMENT (or with "
    "a blank one); views' columns are not required, they are the columns of the tables they read.",
    REDUNDANT_INDEX: "An index whose keys (column or expression, operator class, collation, order) are a "
    "leading prefix of another valid index on the table with the same method and predicate, whose "
    "INCLUDE columns that index also holds, and which enforces nothing the other does not (prefixes only "
    "for btree; other methods exact duplicates only). Of exact duplicates, the one kept is the primary "
    "key, else one backing a constraint, else the first by name.",
    UNNAMED: "A constraint or index whose name does not begin with its kind's prefix (pk_ primary key, "
    "fk_ foreign key, uq_ unique constraint or unique index, ck_ check, ex_ exclusion, ix_ other index), "
    "or has PostgreSQL's default form (the table's name, then _pkey, _fkey, _key, _check, _excl or _idx). NOT NULL constraints "
    "(catalogued with generated names since PostgreSQL 18) are column properties and not checked.",
    NULLABLE_UNIQUE: "A unique constraint or unique index (not NULLS NOT DISTINCT) with a key that can be "
    "NULL: rows with a NULL there never conflict. A column counts as not null when it is NOT NULL, of a "
    "NOT NULL domain, or the index's predicate requires `col IS NOT NULL`; an expression counts as "
    "nullable when a column it reads is (functions taken as strict; COALESCE only when every argument is).",
    VARCHAR: "A column of a table typed character varying(n) or character(n) (directly, as an array, or "
    "through a domain): the convention is text with a CHECK on char_length.",
}

# The same rules in the tools they come from.
PEERS: dict[str, str] = {
    FK_WITHOUT_INDEX: "tbls requireForeignKeyIndex; SchemaCrawler LinterForeignKeyWithNoIndexes",
    NO_PRIMARY_KEY: "SchemaCrawler LinterTableWithNoPrimaryKey",
    MISSING_COMMENT: "tbls requireTableComment, requireColumnComment; SchemaCrawler LinterTableWithNoRemarks",
    REDUNDANT_INDEX: "SchemaCrawler LinterRedundantIndexes",
    UNNAMED: "the house convention (STYLE.md; alembic's naming_convention pk, fk, uq, ck, ix)",
    NULLABLE_UNIQUE: "SchemaCrawler LinterNullColumnsInIndex",
    VARCHAR: "squawk prefer-text-field",
}

_PREFIX = {"p": "pk_", "f": "fk_", "u": "uq_", "c": "ck_", "x": "ex_"}
_KIND = {"p": "primary key", "f": "foreign key", "u": "unique constraint", "c": "check", "x": "exclusion"}
# PostgreSQL's default names (ChooseConstraintName / ChooseIndexName) end in these.
_SUFFIX = {"p": "_pkey", "f": "_fkey", "u": "_key", "c": "_check", "x": "_excl", "i": "_idx"}
_FK_METHODS = ("btree", "hash")  # methods that answer the equality lookups a foreign key's actions make
_TABLES = ("r", "p", "f")
_VIEWS = ("v", "m")


@dataclass(frozen=True, order=True)
class Hit:
    """One rule broken by one object: the rule's name, the object and what was found."""

    rule: str
    object: str
    detail: str


@dataclass(frozen=True)
class Reviewed:
    """A hit with its reason; `status` is explained, to fix, unexplained (no reason) or stale (no hit)."""

    rule: str
    object: str
    detail: str
    status: str
    reason: str


# -- the catalog ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Column:
    table: str
    name: str
    not_null: bool
    type: str
    comment: str | None
    char_length: bool  # varchar(n) / char(n), directly, as an array or through a domain


@dataclass(frozen=True)
class _Index:
    oid: int
    table_oid: int
    table: str
    name: str
    method: str
    unique: bool
    primary: bool
    exclusion: bool
    valid: bool
    nulls_not_distinct: bool
    nkeys: int
    attnums: tuple[int, ...]  # every column, keys then INCLUDE; 0 for an expression
    keys: tuple[tuple, ...]  # per key column: (attnum or expression text, opclass, collation, options)
    texts: tuple[str, ...]  # per column: as pg_get_indexdef shows it
    predicate: str | None
    constraint: str | None  # the constraint it backs, if any


@dataclass
class _Schema:
    relations: dict[int, tuple[str, str, bool, str | None]] = field(
        default_factory=dict
    )  # oid: name, kind, part, comment
    columns: dict[tuple[int, int], _Column] = field(default_factory=dict)  # (table oid, attnum)
    constraints: list[tuple] = field(default_factory=list)  # (table oid, table, name, type, conkey, def)
    indexes: list[_Index] = field(default_factory=list)


_IN_SCHEMA = "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = current_schema()"


def _read(db: Engine) -> _Schema:
    """The relations, columns, constraints and indexes of the engine's current schema."""
    if db.name != "postgres":
        raise WorkbookError(f"schema lint reads PostgreSQL's catalog: engine {db.name!r} is not PostgreSQL")
    s = _Schema()
    for oid, name, kind, part, comment in db.fetchall(
        "SELECT c.oid, c.relname, c.relkind::text, c.relispartition, obj_description(c.oid, 'pg_class') "
        f"FROM pg_class c {_IN_SCHEMA} AND c.relkind IN ('r', 'p', 'f', 'v', 'm')"
    ):
        s.relations[oid] = (name, kind, part, comment)
    for relid, attnum, table, name, not_null, typ, comment, char_length in db.fetchall(
        "SELECT a.attrelid, a.attnum, c.relname, a.attname, a.attnotnull OR b.typnotnull, "
        "format_type(a.atttypid, a.atttypmod), col_description(a.attrelid, a.attnum), "
        "(CASE WHEN t.typcategory = 'A' THEN t.typelem ELSE t.oid END) IN ('varchar'::regtype, 'bpchar'::regtype) "
        "  AND (CASE WHEN b.typtype = 'd' THEN b.typtypmod ELSE a.atttypmod END) > 0 "
        "FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
        "JOIN pg_type b ON b.oid = a.atttypid "  # the column's type; for a domain, t is its base type
        "JOIN pg_type t ON t.oid = CASE WHEN b.typtype = 'd' THEN b.typbasetype ELSE b.oid END "
        f"{_IN_SCHEMA} AND c.relkind IN ('r', 'p', 'f', 'v', 'm') AND a.attnum > 0 AND NOT a.attisdropped"
    ):
        s.columns[relid, attnum] = _Column(table, name, bool(not_null), typ, comment, bool(char_length))
    s.constraints = [
        tuple(row)
        for row in db.fetchall(
            "SELECT k.conrelid, c.relname, k.conname, k.contype::text, k.conkey, pg_get_constraintdef(k.oid) "
            "FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid "
            f"{_IN_SCHEMA} AND k.contype IN ('p', 'u', 'f', 'c', 'x') ORDER BY c.relname, k.conname"
        )
    ]
    for row in db.fetchall(
        "SELECT i.indexrelid, i.indrelid, c.relname, ic.relname, am.amname, i.indisunique, i.indisprimary, "
        "i.indisexclusion, i.indisvalid, i.indnullsnotdistinct, i.indnkeyatts, i.indkey::int2[], "
        "i.indclass::oid[], i.indcollation::oid[], i.indoption::int2[], "
        "ARRAY(SELECT pg_get_indexdef(i.indexrelid, k, true) FROM generate_series(1, i.indnatts) AS k "
        "      ORDER BY k), "
        "pg_get_expr(i.indpred, i.indrelid, true), "
        "(SELECT k.conname FROM pg_constraint k WHERE k.conindid = i.indexrelid AND k.conrelid = i.indrelid "
        "   AND k.contype IN ('p', 'u', 'x')) "
        "FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid JOIN pg_class ic ON ic.oid = i.indexrelid "
        f"JOIN pg_am am ON am.oid = ic.relam {_IN_SCHEMA}"
    ):
        oid, relid, table, name, method, unique, primary, excl, valid, nnd, nkeys = row[:11]
        attnums, opclass, collation, options, texts, predicate, constraint = row[11:]
        keys = tuple((attnums[k] or texts[k], opclass[k], collation[k], options[k]) for k in range(nkeys))
        s.indexes.append(
            _Index(
                oid, relid, table, name, method, bool(unique), bool(primary), bool(excl), bool(valid),
                bool(nnd), nkeys, tuple(attnums), keys, tuple(texts), predicate, constraint,
            )
        )  # fmt: skip
    s.indexes.sort(key=lambda i: (i.table, i.name))
    return s


# -- the rules -----------------------------------------------------------------------------------------


def _cols(s: _Schema, relid: int, attnums: Sequence[int]) -> str:
    return ", ".join(s.columns[relid, n].name for n in attnums)


def _why_not_fk_support(i: _Index) -> str | None:
    """Why an index leading with a foreign key's columns cannot serve its lookups (None: it can).

    A foreign key's actions and checks query the child by its columns alone (`WHERE fk = $1`), so a
    partial index, whose predicate that query never implies, is never chosen for them.
    """
    if i.predicate is not None:
        return f"partial, WHERE {i.predicate}"
    if not i.valid:
        return "invalid"
    if i.method not in _FK_METHODS:
        return f"{i.method}, not btree"
    return None


def _fk_without_index(s: _Schema) -> list[Hit]:
    hits = []
    for relid, table, name, contype, conkey, definition in s.constraints:
        if contype != "f":
            continue
        need = set(conkey)
        leading = {
            i.name: _why_not_fk_support(i)
            for i in s.indexes
            if i.table_oid == relid and i.nkeys >= len(need) and set(i.attnums[: len(need)]) == need
        }
        if all(leading.values()):
            cols = _cols(s, relid, conkey)
            near = "; ".join(f"{n}: {why}" for n, why in leading.items())
            detail = f"{definition}: no index leads with ({cols})" + (f" ({near})" if near else "")
            hits.append(Hit(FK_WITHOUT_INDEX, f"{table}.{name}", detail))
    return hits


def _without_primary_key(s: _Schema) -> list[Hit]:
    with_pk = {relid for relid, _t, _n, contype, _k, _d in s.constraints if contype == "p"}
    return [
        Hit(NO_PRIMARY_KEY, name, "no PRIMARY KEY constraint")
        for relid, (name, kind, part, _c) in s.relations.items()
        if kind in ("r", "p") and not part and relid not in with_pk
    ]


def _blank(comment: str | None) -> bool:
    return comment is None or not comment.strip()


def _missing_comment(s: _Schema) -> list[Hit]:
    hits = []
    for relid, (name, kind, part, comment) in s.relations.items():
        if part:
            continue  # a partition is described by its parent
        what = "view" if kind in _VIEWS else "table"
        if _blank(comment):
            hits.append(Hit(MISSING_COMMENT, name, f"{what} without a COMMENT"))
        if kind in _TABLES:
            hits += [
                Hit(MISSING_COMMENT, f"{name}.{col.name}", f"column ({col.type}) without a COMMENT")
                for (rel, _n), col in s.columns.items()
                if rel == relid and _blank(col.comment)
            ]
    return hits


def _covers(a: _Index, b: _Index) -> bool:
    """True when index `b` makes `a` unnecessary: same table, method and predicate, a's keys lead b's."""
    if a.oid == b.oid or a.table_oid != b.table_oid or a.method != b.method or a.predicate != b.predicate:
        return False
    if (
        not (a.valid and b.valid)
        or a.exclusion
        or len(a.keys) > len(b.keys)
        or b.keys[: len(a.keys)] != a.keys
    ):
        return False
    if a.method != "btree" and a.keys != b.keys:
        return False  # a multicolumn hash, GIN or GiST index is not read by its leading columns alone
    if not {n for n in a.attnums[a.nkeys :]} <= set(b.attnums):
        return False  # a's INCLUDE columns allow index-only scans that b cannot give
    if a.unique:  # a enforces uniqueness over its keys: only the same rule over the same keys covers it
        return b.unique and a.keys == b.keys and (b.nulls_not_distinct or not a.nulls_not_distinct)
    return True


def _keep_rank(i: _Index) -> tuple:
    return (not i.primary, i.constraint is None, i.name)


def _redundant_index(s: _Schema) -> list[Hit]:
    hits = []
    for a in s.indexes:
        covering = [
            b for b in s.indexes if _covers(a, b) and not (_covers(b, a) and _keep_rank(a) < _keep_rank(b))
        ]
        if covering:
            b = min(covering, key=_keep_rank)
            same = "duplicates" if a.keys == b.keys else "is a leading prefix of"
            hits.append(
                Hit(
                    REDUNDANT_INDEX,
                    f"{a.table}.{a.name}",
                    f"({', '.join(a.texts[: a.nkeys])}) {same} {b.name} ({', '.join(b.texts[: b.nkeys])})"
                    + (f" WHERE {a.predicate}" if a.predicate else ""),
                )
            )
    return hits


def _bad_name(name: str, table: str, prefix: str, suffix: str) -> str | None:
    if not name.startswith(prefix):
        return f"does not begin with {prefix}"
    if name.startswith(f"{table}_") and name.endswith(suffix):
        return f"has PostgreSQL's default form {table}_..{suffix}"
    return None


def _unnamed(s: _Schema) -> list[Hit]:
    hits = []
    for _relid, table, name, contype, _k, _d in s.constraints:
        why = _bad_name(name, table, _PREFIX[contype], _SUFFIX[contype])
        if why:
            hits.append(Hit(UNNAMED, f"{table}.{name}", f"{_KIND[contype]} {name} {why}"))
    for i in s.indexes:
        if i.constraint is not None:
            continue  # named with its constraint, checked above
        prefix, kind = ("uq_", "unique index") if i.unique else ("ix_", "index")
        why = _bad_name(i.name, i.table, prefix, _SUFFIX["i"])
        if why:
            hits.append(Hit(UNNAMED, f"{i.table}.{i.name}", f"{kind} {i.name} {why}"))
    return hits


def _parse_expr(text: str) -> ast.Node | None:
    try:
        return parse_sql(f"SELECT {text}")[0].stmt.targetList[0].val
    except Exception:  # noqa: BLE001 - an expression pglast cannot read is judged by its columns
        return None


def _not_null_in(predicate: str | None) -> set[str]:
    """Columns the predicate requires to be non-null (top-level AND conjuncts `col IS NOT NULL`)."""
    if predicate is None:
        return set()
    todo, found = [_parse_expr(f"({predicate})")], set()
    while todo:
        node = todo.pop()
        if isinstance(node, ast.BoolExpr) and node.boolop == BoolExprType.AND_EXPR:
            todo += list(node.args)
        elif (
            isinstance(node, ast.NullTest)
            and node.nulltesttype == NullTestType.IS_NOT_NULL
            and isinstance(node.arg, ast.ColumnRef)
        ):
            found.add(getattr(node.arg.fields[-1], "sval", None))
    return found


def _nullable_expr(node: object, nullable: set[str]) -> bool:
    """Whether an expression can be NULL, taking every function as strict and COALESCE as what it is."""
    if isinstance(node, ast.ColumnRef):
        return getattr(node.fields[-1], "sval", None) in nullable
    if isinstance(node, ast.A_Const):
        return bool(node.isnull)
    if isinstance(node, ast.CoalesceExpr):
        return all(_nullable_expr(arg, nullable) for arg in node.args)
    if isinstance(node, ast.Node):
        return any(_nullable_expr(getattr(node, name), nullable) for name in node)
    if isinstance(node, tuple | list):
        return any(_nullable_expr(value, nullable) for value in node)
    return False


def _nullable_unique(s: _Schema) -> list[Hit]:
    hits = []
    for i in s.indexes:
        if not i.unique or i.primary or i.nulls_not_distinct:
            continue
        required = _not_null_in(i.predicate)
        nullable = {
            c.name for (rel, _n), c in s.columns.items() if rel == i.table_oid and not c.not_null
        } - required
        found = []
        for k in range(i.nkeys):
            if i.attnums[k]:
                if s.columns[i.table_oid, i.attnums[k]].name in nullable:
                    found.append(i.texts[k])
            else:
                expr = _parse_expr(i.texts[k])
                if expr is None or _nullable_expr(expr, nullable):
                    found.append(i.texts[k])
        if found:
            what = "unique constraint" if i.constraint else "unique index"
            hits.append(
                Hit(NULLABLE_UNIQUE, f"{i.table}.{i.name}", f"{what} ({', '.join(i.texts[: i.nkeys])}): "
                    f"{', '.join(found)} can be NULL")
            )  # fmt: skip
    return hits


def _varchar(s: _Schema) -> list[Hit]:
    return [
        Hit(VARCHAR, f"{c.table}.{c.name}", f"{c.type}: use text with a CHECK on char_length")
        for (rel, _n), c in s.columns.items()
        if c.char_length and s.relations[rel][1] in _TABLES and not s.relations[rel][2]
    ]


_CHECKS = {
    FK_WITHOUT_INDEX: _fk_without_index,
    NO_PRIMARY_KEY: _without_primary_key,
    MISSING_COMMENT: _missing_comment,
    REDUNDANT_INDEX: _redundant_index,
    UNNAMED: _unnamed,
    NULLABLE_UNIQUE: _nullable_unique,
    VARCHAR: _varchar,
}
_ORDER = {rule: n for n, rule in enumerate(RULES)}


def _sort_key(item: Hit | Reviewed) -> tuple:
    return (_ORDER.get(item.rule, len(_ORDER)), item.rule, item.object, item.detail)


def run(db: Engine, rules: Sequence[str] | None = None) -> list[Hit]:
    """Every hit of the rules (default: all) on the engine's schema, by rule (in RULES order) and object."""
    unknown = sorted(set(rules or ()) - set(RULES))
    if unknown:
        raise WorkbookError(f"schema lint: unknown rule {unknown[0]!r} (rules: {', '.join(RULES)})")
    s = _read(db)
    hits = {h for rule in rules or RULES for h in _CHECKS[rule](s)}
    return sorted(hits, key=_sort_key)


# -- review --------------------------------------------------------------------------------------------


def review(hits: Sequence[Hit], reasons: Mapping[tuple[str, str], str]) -> list[Reviewed]:
    """Each hit with its reason (or "unexplained"), and each reason that matches no hit as "stale"."""
    out = []
    for h in hits:
        reason = reasons.get((h.rule, h.object))
        if reason is None:
            out.append(Reviewed(h.rule, h.object, h.detail, "unexplained", ""))
        else:
            status = "to fix" if reason.startswith(TO_FIX) else "explained"
            out.append(Reviewed(h.rule, h.object, h.detail, status, reason))
    seen = {(h.rule, h.object) for h in hits}
    out += [Reviewed(r, o, "", "stale", reason) for (r, o), reason in reasons.items() if (r, o) not in seen]
    return sorted(out, key=_sort_key)


def problems(reviewed: Sequence[Reviewed], source: str = REASONS_IN) -> list[str]:
    """One line per unexplained hit, stale reason, unknown rule or malformed reason."""
    lines = []
    for r in reviewed:
        key = f"({r.rule!r}, {r.object!r})"
        if r.status == "unexplained":
            lines.append(
                f"schema lint rule {r.rule} on {r.object} has no reviewed reason in {source}: {r.detail}; "
                f"fix the schema with a migration, or add {key} with a one-line reason"
            )
        elif r.status == "stale" and r.rule not in RULES:
            lines.append(f"{source}: {key} names no schema lint rule (rules: {', '.join(RULES)})")
        elif r.status == "stale":
            lines.append(f"{source}: {key} matches no schema lint hit: remove the stale reason")
        elif not r.reason.strip() or "\n" in r.reason.strip():
            lines.append(f"{source}: {key}: the reason must be one non-empty line")
    return lines


def check(db: Engine, reasons: Mapping[tuple[str, str], str], *, source: str = REASONS_IN) -> list[Reviewed]:
    """The lint reviewed against `reasons`; a WorkbookError, in one line, when any hit is unexplained
    or any reason stale."""
    reviewed = review(run(db), reasons)
    found = problems(reviewed, source)
    if found:
        more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
        raise WorkbookError(found[0] + more)
    return reviewed


def markdown(reviewed: Sequence[Reviewed]) -> str:
    """The hits as a markdown table: rule, object, what was found, the reason or the fix."""
    rows = [
        (
            r.rule,
            f"`{r.object}`",
            r.detail or "(no hit)",
            r.reason if r.status != "unexplained" else "unexplained",
        )
        for r in sorted(reviewed, key=_sort_key)
    ]
    return tables.md_table(("Rule", "Object", "Found", "Reason or fix"), rows)


def rules_markdown() -> str:
    """The rules as a markdown table: name, what it finds, and the peer tools' names for it."""
    return tables.md_table(("Rule", "Finds", "Peers"), [(name, RULES[name], PEERS[name]) for name in RULES])
