"""Derive DuckDB's form of the PostgreSQL migrations, recording every adaptation as a gap row.

The migrations are written once, in PostgreSQL. Each construct DuckDB lacks has a named rule
here; a rule rewrites or skips the construct and records a `Gap`. The dialect-gap table in the
document is the list of gaps this module produced while it ran, never a hand-typed list.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import sqlglot
from sqlglot import exp
from sqlglot.errors import ErrorLevel, SqlglotError

from .errors import WorkbookError
from .sqlsplit import Statement, split_sql


@dataclass(frozen=True)
class Rule:
    """A named adaptation: what DuckDB lacks, what it does instead, whether it is emulated."""

    name: str
    construct: str
    duckdb: str
    emulated: str  # "yes" | "partly" | "no"


RULES: dict[str, Rule] = {
    r.name: r
    for r in [
        Rule(
            "fk-referential-action",
            "ON DELETE CASCADE / SET NULL, ON UPDATE CASCADE",
            "rejects referential actions; the foreign key is kept without them (NO ACTION: "
            "deleting a referenced parent fails)",
            "no",
        ),
        Rule(
            "partial-index",
            "partial index (CREATE INDEX ... WHERE)",
            "has no index predicates; a non-unique partial index becomes a full index",
            "partly",
        ),
        Rule(
            "gin-full-text-index",
            "GIN index on to_tsvector (full-text search)",
            "has no GIN indexes or tsvector; the index is skipped (full-text search uses the fts "
            "extension's BM25 index, built at query time; the workbook loads fts offline from its pinned package)",
            "no",
        ),
        Rule(
            "index-sort-order",
            "descending index key (DESC)",
            "ART indexes store no sort order; the key is indexed ascending",
            "partly",
        ),
        Rule(
            "plpgsql-function",
            "PL/pgSQL function or procedure",
            "has no procedural language; the function is skipped",
            "no",
        ),
        Rule(
            "trigger",
            "row trigger (CREATE TRIGGER)",
            "has no triggers; the trigger is skipped",
            "no",
        ),
        Rule(
            "sql-function-as-macro",
            "LANGUAGE sql function",
            "has no CREATE FUNCTION; the single SELECT expression becomes a scalar MACRO",
            "yes",
        ),
        Rule(
            "sql-function-not-translatable",
            "LANGUAGE sql function that a macro cannot hold (reads tables, several statements or "
            "expressions, positional or moded parameters)",
            "has no CREATE FUNCTION, and a scalar macro would change what this body means; the function "
            "is not created, so anything that calls it fails on DuckDB",
            "no",
        ),
        Rule(
            "jsonb-type",
            "JSONB column type",
            "stores JSON as text (type JSON); no binary normalisation or jsonb operators",
            "yes",
        ),
        Rule(
            "jsonb-functions",
            "`jsonb_typeof(x)`, the `?` key-exists operator, the `->` operator",
            "rewritten as `lower(json_type(x))`, `json_exists(x, '$.key')` and `json_extract(x, '$.key')`; "
            "json_type names differ for scalars (`VARCHAR` vs `string`), object and array agree",
            "yes",
        ),
        Rule(
            "posix-regex",
            "POSIX regular expression operators ~ and ~*",
            "rewritten as regexp_matches(x, pattern[, 'i']) (RE2 syntax)",
            "yes",
        ),
        Rule(
            "constraint-comment",
            "COMMENT ON CONSTRAINT",
            "has no comments on constraints; the statement is skipped (the rule's words live in PostgreSQL's catalog)",
            "no",
        ),
        Rule(
            "plpgsql-block",
            "DO block (anonymous PL/pgSQL)",
            "has no procedural language; the block is skipped",
            "no",
        ),
        Rule(
            "roles-and-privileges",
            "CREATE ROLE, GRANT, REVOKE, ALTER ... OWNER TO",
            "has no roles or privileges; the statement is skipped (whoever opens the file may do anything)",
            "no",
        ),
        Rule(
            "add-column-not-null",
            "ALTER TABLE ... ADD COLUMN ... NOT NULL",
            "cannot add a column with a constraint, nor set NOT NULL on a table with an index; the column "
            "is added nullable and its default fills it (the write API never writes NULL there)",
            "partly",
        ),
        Rule(
            "drop-constraint",
            "ALTER TABLE ... DROP CONSTRAINT",
            "cannot drop a constraint (not implemented); the statement is skipped and the constraint keeps "
            "holding on DuckDB",
            "no",
        ),
        Rule(
            "index-on-maintained-column",
            "index on a column that the design's triggers rewrite on every write (`updated_at`, `usage_count`)",
            "executes an UPDATE of an indexed column as delete + insert, which its foreign keys refuse while "
            "other rows reference the row (disagreement E1); the write API rewrites these columns on every "
            "write, so the index is not kept on DuckDB",
            "no",
        ),
        Rule(
            "tsvector-column",
            "a tsvector column (full-text document, generated)",
            "has no tsvector type; the column is left out (DuckDB's full-text search builds its own fts index "
            "from name and description)",
            "no",
        ),
        Rule(
            "drop-index-never-created",
            "DROP INDEX of an index that DuckDB never got",
            "never created the index (an earlier rule skipped it), so there is nothing to drop; the "
            "statement is skipped",
            "yes",
        ),
        Rule(
            "add-constraint",
            "ALTER TABLE ... ADD CONSTRAINT (CHECK, UNIQUE, FOREIGN KEY) on an existing table",
            "cannot add a constraint to an existing table (not implemented); the statement is skipped, so the "
            "constraint does not hold on DuckDB (the runner and the write API only write values it allows)",
            "no",
        ),
        Rule(
            "concurrent-index",
            "CREATE / DROP INDEX CONCURRENTLY (in a no-transaction file)",
            "has no concurrent index builds and one writer per file; CONCURRENTLY is dropped and the index is "
            "built inside the file's transaction (nothing else can write meanwhile)",
            "yes",
        ),
        Rule(
            "array-type",
            "array column (text[])",
            "stores arrays as LIST (VARCHAR[]); ARRAY[...] constructors translate, PostgreSQL's '{}' literal "
            "does not (the migrations write ARRAY[]::text[])",
            "yes",
        ),
        Rule(
            "gin-array-index",
            "GIN index on an array column",
            "has no GIN indexes; the index is skipped and an array containment test reads every row",
            "no",
        ),
        Rule(
            "postgres-setting",
            "SET [LOCAL] of a PostgreSQL server setting (lock_timeout, statement_timeout) or a custom one "
            "(workbook.actor_id)",
            "has no lock or statement timeouts (one writer per file, nothing to wait for) and no audit triggers "
            "to read an actor; the statement is skipped",
            "no",
        ),
        Rule(
            "row-level-security",
            "row-level security: ALTER TABLE ... ENABLE / FORCE ROW LEVEL SECURITY, CREATE POLICY",
            "has no row-level security; the statement is skipped (whoever opens the file sees every row)",
            "no",
        ),
        Rule(
            "function-security",
            "ALTER FUNCTION ... SECURITY DEFINER / SET search_path (a function that runs as its owner)",
            "has no roles and no PL/pgSQL functions; the statement is skipped",
            "no",
        ),
        Rule(
            "view-security-invoker",
            "ALTER VIEW ... SET (security_invoker = true)",
            "has no view options and no roles (a view always reads as whoever opens the file); the statement "
            "is skipped",
            "no",
        ),
        Rule(
            "constraint-names",
            "named constraints (CONSTRAINT name ...)",
            "accepts but discards constraint names and generates its own; the catalog maps them "
            "back by key columns and expression from these migrations",
            "yes",
        ),
    ]
}


PG_ONLY_SETTINGS = {
    "lock_timeout",
    "statement_timeout",
    "idle_in_transaction_session_timeout",
    "maintenance_work_mem",
}


@dataclass(frozen=True)
class Gap:
    """One adaptation made while deriving DuckDB's form: rule, and where it applied."""

    rule: str
    where: str
    detail: str = ""  # what exactly was lost, when the rule alone does not say

    @property
    def construct(self) -> str:
        return RULES[self.rule].construct

    @property
    def duckdb(self) -> str:
        return RULES[self.rule].duckdb

    @property
    def emulated(self) -> str:
        return RULES[self.rule].emulated


@dataclass(frozen=True)
class NamedConstraint:
    """A constraint name the migration gave, with what identifies it in DuckDB's catalog."""

    table: str
    name: str
    kind: str
    columns: tuple[str, ...]
    check: str | None = None  # DuckDB SQL of a CHECK expression
    ref_table: str | None = None
    on_delete: str | None = None
    on_update: str | None = None


@dataclass
class Adapted:
    """DuckDB statements derived from a script, plus the gaps and constraint names found."""

    statements: list[Statement] = field(default_factory=list)
    gaps: list[Gap] = field(default_factory=list)
    names: list[NamedConstraint] = field(default_factory=list)

    def extend(self, other: Adapted) -> None:
        self.statements += other.statements
        self.gaps += other.gaps
        self.names += other.names


@dataclass
class Context:
    """What the migrations before the current statement established, for rules that need it.

    Only earlier statements count, so a database migrated file by file gets the same DuckDB form
    as one migrated in one go.
    """

    # table -> non-unique index name -> key columns, as created on DuckDB
    indexes: dict[str, dict[str, tuple[str, ...]]] = field(default_factory=dict)
    # (table, column) pairs that triggers rewrite on every write
    maintained: set[tuple[str, str]] = field(default_factory=set)
    # trigger function -> (columns it assigns in NEW, (table, column) pairs it UPDATEs)
    writes: dict[str, tuple[frozenset[str], frozenset[tuple[str, str]]]] = field(default_factory=dict)
    # indexes of the migrations that DuckDB does not have (skipped or dropped by a rule)
    skipped: set[str] = field(default_factory=set)
    # (table, column) pairs of array type
    arrays: set[tuple[str, str]] = field(default_factory=set)


_NEW_ASSIGN = re.compile(r"\bNEW\.(\w+)\s*:=", re.I)
_UPDATE_SET = re.compile(r"\bUPDATE\s+(\w+)\s+SET\s+(\w+)\s*=", re.I)


_LANGUAGE = re.compile(r"\bLANGUAGE\s+(\w+)", re.I)
_FUNC_HEAD = re.compile(
    r"^\s*CREATE\s+(?:OR\s+REPLACE\s+)?FUNCTION\s+(\w+)\s*\((.*?)\)\s*RETURNS", re.I | re.S
)
_BODY = re.compile(r"\$(\w*)\$(.*)\$\1\$", re.S)


def _where(source: str, stmt: Statement, obj: str) -> str:
    return f"{source}:{stmt.line} {obj}"


def _rewrite_json_and_regex(node: exp.Expression, hits: set[str]) -> exp.Expression:
    """Rewrite jsonb functions and regex operators inside one expression tree."""

    def fn(n: exp.Expression) -> exp.Expression:
        if isinstance(n, exp.Anonymous) and str(n.this).lower() == "jsonb_typeof":
            hits.add("jsonb-functions")
            return exp.Lower(this=exp.Anonymous(this="json_type", expressions=list(n.expressions)))
        if isinstance(n, exp.JSONBContainsTopKey):
            hits.add("jsonb-functions")
            key = n.expression.name
            return exp.Anonymous(this="json_exists", expressions=[n.this, exp.Literal.string(f'$."{key}"')])
        if isinstance(n, exp.JSONExtract):
            hits.add("jsonb-functions")
            return exp.Anonymous(this="json_extract", expressions=[n.this, n.expression])
        if isinstance(n, (exp.RegexpLike, exp.RegexpILike)):
            hits.add("posix-regex")
        if isinstance(n, exp.DataType) and n.this == exp.DataType.Type.JSONB:
            hits.add("jsonb-type")
        return n

    for _ in range(4):  # a replaced node's children are visited on the next pass
        before = node.sql("postgres")
        node = node.transform(fn)
        if node.sql("postgres") == before:
            break
    return node


def _columns(node: exp.Expression) -> tuple[str, ...]:
    return tuple(c.name for c in node.find_all(exp.Identifier, exp.Column) if isinstance(c, exp.Identifier))


def _adapt_create_table(tree: exp.Create, stmt: Statement, source: str, out: Adapted) -> exp.Create:
    table = tree.this.this.name if isinstance(tree.this, exp.Schema) else tree.this.name
    hits: set[str] = set()
    schema = tree.this
    for cons in list(schema.find_all(exp.Constraint)):
        name = cons.this.name
        body = cons.expressions[0] if cons.expressions else None
        if isinstance(body, exp.PrimaryKey):
            cols = tuple(e.name for e in body.expressions)
            out.names.append(NamedConstraint(table, name, "PRIMARY KEY", cols))
        elif isinstance(body, exp.UniqueColumnConstraint):
            cols = tuple(e.name for e in body.this.expressions) if body.this else ()
            out.names.append(NamedConstraint(table, name, "UNIQUE", cols))
        elif isinstance(body, exp.ForeignKey):
            ref = body.args.get("reference")
            cols = tuple(e.name for e in body.expressions)
            ref_table = ref.this.this.name if ref is not None and isinstance(ref.this, exp.Schema) else None
            options = [str(o).upper() for o in (ref.args.get("options") if ref is not None else None) or []]
            on_delete = next((o[len("ON DELETE ") :] for o in options if o.startswith("ON DELETE ")), None)
            on_update = next((o[len("ON UPDATE ") :] for o in options if o.startswith("ON UPDATE ")), None)
            if on_delete or on_update:
                out.gaps.append(Gap("fk-referential-action", _where(source, stmt, name)))
                ref.set("options", None)
            out.names.append(
                NamedConstraint(table, name, "FOREIGN KEY", cols, None, ref_table, on_delete, on_update)
            )
        elif isinstance(body, exp.CheckColumnConstraint):
            check = _rewrite_json_and_regex(body.this, hits)
            body.set("this", check)
            cols = tuple(sorted({c.name for c in check.find_all(exp.Column)}))
            out.names.append(NamedConstraint(table, name, "CHECK", cols, check.sql("duckdb")))
    for col in schema.find_all(exp.ColumnDef):
        for ref in col.find_all(exp.Reference):
            if ref.args.get("options"):
                out.gaps.append(Gap("fk-referential-action", _where(source, stmt, f"{table}.{col.name}")))
                ref.set("options", None)
    if any(n.table == table for n in out.names):
        out.gaps.append(Gap("constraint-names", _where(source, stmt, table)))
    for col in schema.find_all(exp.ColumnDef):
        kind = col.args.get("kind")
        if isinstance(kind, exp.DataType) and kind.this == exp.DataType.Type.JSONB:
            out.gaps.append(Gap("jsonb-type", _where(source, stmt, f"{table}.{col.name}")))
    for rule in sorted(hits - {"jsonb-type"}):
        out.gaps.append(Gap(rule, _where(source, stmt, table)))
    return tree


# A macro holds one expression: the SELECT may have nothing but its select list.
_MACRO_SELECT_ARGS = {"expressions", "kind"}
_PARAM = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s+[A-Za-z_][\w ().,\[\]]*$")
_PARAM_MODES = {"in", "out", "inout", "variadic"}


def _split_params(text: str) -> list[str]:
    """A function's parameter list split on top-level commas (numeric(10, 2) stays whole)."""
    parts, depth, buf = [], 0, []
    for ch in text:
        depth += (ch == "(") - (ch == ")")
        if ch == "," and depth == 0:
            parts.append("".join(buf))
            buf = []
        else:
            buf.append(ch)
    parts.append("".join(buf))
    return [p for p in parts if p.strip()]


def _macro_obstacle(params: list[str], bodies: list[exp.Expression | None]) -> str | None:
    """Why a LANGUAGE sql function cannot become a scalar macro faithfully (None: it can)."""
    for p in params:
        m = _PARAM.match(p)
        if not m or m.group(1).lower() in _PARAM_MODES or re.search(r"\bDEFAULT\b|=", p, re.I):
            return f"parameter '{p.strip()}' is not a plain 'name type'"
    if len(bodies) != 1 or bodies[0] is None:
        return f"the body has {len(bodies)} statements"
    select = bodies[0]
    if not isinstance(select, exp.Select):
        return f"the body is a {type(select).__name__.upper()}, not a SELECT"
    extra = sorted(k for k, v in select.args.items() if v and k not in _MACRO_SELECT_ARGS)
    if extra:
        return "the body's SELECT has " + ", ".join(k.rstrip("_").upper() for k in extra)
    if len(select.expressions) != 1:
        return f"the body selects {len(select.expressions)} expressions"
    if any(
        n is not select for n in select.find_all(exp.Placeholder, exp.Parameter, exp.Subquery, exp.Select)
    ):
        return "the body uses positional parameters or a subquery"
    return None


def _adapt_function(stmt: Statement, source: str, out: Adapted, pg_name: str | None = None) -> None:
    head = _FUNC_HEAD.match(stmt.sql)
    lang = _LANGUAGE.search(stmt.sql)
    name = head.group(1) if head else (pg_name or "function")
    if not head or not lang or lang.group(1).lower() != "sql":
        out.gaps.append(Gap("plpgsql-function", _where(source, stmt, name)))
        return
    params = _split_params(head.group(2))
    body = _BODY.search(stmt.sql)
    try:
        bodies = sqlglot.parse(body.group(2), read="postgres") if body else []
    except SqlglotError as exc:
        reason = f"its body does not parse: {str(exc).splitlines()[0]}"
        out.gaps.append(Gap("sql-function-not-translatable", _where(source, stmt, name), reason))
        return
    bodies = [b for b in bodies if b is not None]
    reason = _macro_obstacle(params, bodies)
    if reason:
        out.gaps.append(Gap("sql-function-not-translatable", _where(source, stmt, name), reason))
        return
    hits: set[str] = set()
    expr = _rewrite_json_and_regex(bodies[0].expressions[0], hits)
    names = [_PARAM.match(p).group(1) for p in params]
    replace = "OR REPLACE " if re.match(r"^\s*CREATE\s+OR\s+REPLACE\b", stmt.sql, re.I) else ""
    macro = f"CREATE {replace}MACRO {name}({', '.join(names)}) AS {_duckdb_sql(expr, source, stmt)}"
    out.statements.append(Statement(macro, stmt.line))
    out.gaps.append(Gap("sql-function-as-macro", _where(source, stmt, name)))
    for rule in sorted(hits):
        out.gaps.append(Gap(rule, _where(source, stmt, name)))


def _duckdb_sql(tree: exp.Expression, source: str, stmt: Statement) -> str:
    """DuckDB SQL for a tree; anything sqlglot could only write lossily is an error, never a warning."""
    try:
        return tree.sql("duckdb", unsupported_level=ErrorLevel.RAISE)
    except SqlglotError as exc:
        raise WorkbookError(
            f"{source}:{stmt.line}: the DuckDB adapter cannot write this statement faithfully "
            f"({str(exc).splitlines()[0]}): {stmt.head}"
        ) from None


def _adapt_index(
    tree: exp.Create, stmt: Statement, source: str, out: Adapted, ctx: Context
) -> exp.Create | None:
    index = tree.this
    name = index.name
    params = index.args.get("params")
    using = params.args.get("using") if params else None
    if using is not None and str(using.name if hasattr(using, "name") else using).lower() == "gin":
        keys = [c.name for c in (params.args.get("columns") or []) if c.name]
        array = (
            any((index.args["table"].name, k) in ctx.arrays for k in keys)
            if index.args.get("table")
            else False
        )
        out.gaps.append(
            Gap("gin-array-index" if array else "gin-full-text-index", _where(source, stmt, name))
        )
        ctx.skipped.add(name)
        return None
    if tree.args.get("concurrently"):
        tree.set("concurrently", False)
        out.gaps.append(Gap("concurrent-index", _where(source, stmt, name)))
    table = index.args["table"].name if index.args.get("table") is not None else ""
    keys = tuple(c.name for c in (params.args.get("columns") or []) if c.name) if params else ()
    if not tree.args.get("unique"):
        if any((table, k) in ctx.maintained for k in keys):
            out.gaps.append(Gap("index-on-maintained-column", _where(source, stmt, name)))
            ctx.skipped.add(name)
            return None
        ctx.indexes.setdefault(table, {})[name] = keys
    if any(isinstance(c, exp.Ordered) and c.args.get("desc") for c in (params.args.get("columns") or [])):
        out.gaps.append(Gap("index-sort-order", _where(source, stmt, name)))
    where = params.args.get("where") if params else None
    if where is not None:
        out.gaps.append(Gap("partial-index", _where(source, stmt, name)))
        if tree.args.get("unique"):
            ctx.skipped.add(name)
            return None
        params.set("where", None)
    return tree


def _drop_add_column_not_null(tree: exp.Alter, stmt: Statement, source: str, out: Adapted) -> None:
    """ADD COLUMN ... NOT NULL: DuckDB gets the column without the NOT NULL."""
    table = tree.this.name
    for action in tree.args.get("actions") or []:
        if not isinstance(action, exp.ColumnDef):
            continue
        for cons in list(action.args.get("constraints") or []):
            if isinstance(cons.args.get("kind"), exp.NotNullColumnConstraint):
                cons.pop()
                out.gaps.append(Gap("add-column-not-null", _where(source, stmt, f"{table}.{action.name}")))


def _tsvector_columns(node) -> list[str]:  # noqa: ANN001 - a pglast AlterTableStmt
    """The tsvector columns an ALTER TABLE ... ADD COLUMN adds."""
    out = []
    for cmd in node.cmds or ():
        d = getattr(cmd, "def_", None)
        names = [n.sval for n in (getattr(getattr(d, "typeName", None), "names", None) or ())]
        if names and names[-1] == "tsvector":
            out.append(d.colname)
    return out


def _record_arrays(node, stmt: Statement, source: str, out: Adapted, ctx: Context) -> None:  # noqa: ANN001
    """Remember array columns (a GIN index on one is an array index) and record their gap row."""
    from pglast import ast

    table = node.relation.relname
    defs = (
        [getattr(c, "def_", None) for c in node.cmds or ()]
        if isinstance(node, ast.AlterTableStmt)
        else list(node.tableElts or ())
    )
    for d in defs:
        if isinstance(d, ast.ColumnDef) and d.typeName is not None and d.typeName.arrayBounds:
            ctx.arrays.add((table, d.colname))
            out.gaps.append(Gap("array-type", _where(source, stmt, f"{table}.{d.colname}")))


def _pg_statement(sql: str):  # noqa: ANN202 - a pglast node
    """The statement's node by PostgreSQL's own parser (None if it does not parse)."""
    from pglast import parser

    try:
        return parser.parse_sql(sql)[0].stmt
    except parser.ParseError:
        return None


def _record_trigger_function(node, ctx: Context) -> None:  # noqa: ANN001
    """Remember which columns a trigger function writes (NEW.x := ..., UPDATE t SET x = ...)."""
    returns = [n.sval for n in node.returnType.names] if node.returnType is not None else []
    if returns[-1:] != ["trigger"]:
        return
    body = next((o.arg for o in node.options or () if o.defname == "as"), None)
    text = " ".join(getattr(b, "sval", "") for b in (body or ()))
    ctx.writes[node.funcname[-1].sval] = (
        frozenset(c.lower() for c in _NEW_ASSIGN.findall(text)),
        frozenset((t.lower(), c.lower()) for t, c in _UPDATE_SET.findall(text)),
    )


def _adapt_trigger(node, stmt: Statement, source: str, out: Adapted, ctx: Context) -> None:  # noqa: ANN001
    """Skip the trigger; drop DuckDB indexes on the columns it starts rewriting on every write."""
    out.gaps.append(Gap("trigger", _where(source, stmt, node.trigname)))
    table = node.relation.relname
    own, others = ctx.writes.get(node.funcname[-1].sval, (frozenset(), frozenset()))
    before_update = node.timing == 2 and node.events & 16  # TRIGGER_TYPE_BEFORE, TRIGGER_TYPE_UPDATE
    new = ({(table, c) for c in own} if before_update else set()) | set(others)
    ctx.maintained |= new
    for t, col in sorted(new):
        for name, keys in sorted(ctx.indexes.get(t, {}).items()):
            if col in keys:
                del ctx.indexes[t][name]
                ctx.skipped.add(name)
                out.statements.append(Statement(f"DROP INDEX IF EXISTS {name}", stmt.line))
                out.gaps.append(Gap("index-on-maintained-column", _where(source, stmt, name)))


def adapt_statement(stmt: Statement, source: str, ctx: Context | None = None) -> Adapted:
    """Derive DuckDB statements for one PostgreSQL statement of `source` (a file name)."""
    from pglast import ast

    ctx = ctx if ctx is not None else Context()
    out = Adapted()
    sql = stmt.sql
    node = _pg_statement(sql)
    if isinstance(node, ast.DoStmt):
        out.gaps.append(Gap("plpgsql-block", _where(source, stmt, "DO")))
        return out
    if isinstance(node, ast.CreatePolicyStmt):
        out.gaps.append(Gap("row-level-security", _where(source, stmt, node.policy_name)))
        return out
    if (
        isinstance(node, ast.AlterTableStmt)
        and node.cmds
        and all(
            getattr(c, "subtype", None) is not None
            and c.subtype.name
            in (
                "AT_EnableRowSecurity",
                "AT_ForceRowSecurity",
                "AT_DisableRowSecurity",
                "AT_NoForceRowSecurity",
            )
            for c in node.cmds
        )
    ):
        out.gaps.append(Gap("row-level-security", _where(source, stmt, node.relation.relname)))
        return out
    if isinstance(node, ast.AlterFunctionStmt):
        out.gaps.append(Gap("function-security", _where(source, stmt, node.func.objname[-1].sval)))
        return out
    if (
        isinstance(node, ast.AlterTableStmt)
        and node.objtype.name == "OBJECT_VIEW"
        and all(
            getattr(c, "subtype", None) is not None and c.subtype.name == "AT_SetRelOptions"
            for c in node.cmds
        )
    ):
        out.gaps.append(Gap("view-security-invoker", _where(source, stmt, node.relation.relname)))
        return out
    if isinstance(
        node, (ast.CreateRoleStmt, ast.GrantStmt, ast.GrantRoleStmt, ast.AlterOwnerStmt, ast.AlterRoleStmt)
    ):
        what = sql.split()[0].upper() + " " + sql.split()[1].upper()
        out.gaps.append(Gap("roles-and-privileges", _where(source, stmt, what)))
        return out
    if (
        isinstance(node, ast.AlterTableStmt)
        and len(node.cmds) == 1
        and getattr(node.cmds[0], "subtype", None) is not None
        and node.cmds[0].subtype.name == "AT_DropConstraint"
    ):  # combined with other commands it goes to DuckDB as written, which refuses it loudly
        out.gaps.append(Gap("drop-constraint", _where(source, stmt, node.cmds[0].name)))
        return out
    if (
        isinstance(node, ast.AlterTableStmt)
        and node.cmds
        and all(
            getattr(c, "subtype", None) is not None and c.subtype.name == "AT_AddConstraint"
            for c in node.cmds
        )
        and all(c.def_.contype.name != "CONSTR_PRIMARY" for c in node.cmds)
    ):
        for c in node.cmds:
            out.gaps.append(
                Gap("add-constraint", _where(source, stmt, c.def_.conname or node.relation.relname))
            )
        return out
    if isinstance(node, (ast.AlterTableStmt, ast.CreateStmt)):
        _record_arrays(node, stmt, source, out, ctx)
    if isinstance(node, ast.DropStmt) and node.concurrent and node.removeType.name == "OBJECT_INDEX":
        names = [obj[-1].sval for obj in node.objects]
        if not all(n in ctx.skipped for n in names):
            for n in names:
                out.gaps.append(Gap("concurrent-index", _where(source, stmt, n)))
            exists = " IF EXISTS" if node.missing_ok else ""
            out.statements.append(Statement(f"DROP INDEX{exists} {', '.join(names)}", stmt.line))
            for idx in ctx.indexes.values():
                for n in names:
                    idx.pop(n, None)
            return out
    if isinstance(node, ast.VariableSetStmt) and (
        (node.name or "").lower() in PG_ONLY_SETTINGS or "." in (node.name or "")
    ):
        out.gaps.append(Gap("postgres-setting", _where(source, stmt, node.name)))
        return out
    if isinstance(node, ast.CreateTrigStmt):
        _adapt_trigger(node, stmt, source, out, ctx)
        return out
    if isinstance(node, ast.DropStmt) and node.removeType.name == "OBJECT_INDEX":
        names = [obj[-1].sval for obj in node.objects]
        if names and all(n in ctx.skipped for n in names):
            for n in names:
                out.gaps.append(Gap("drop-index-never-created", _where(source, stmt, n)))
            return out
        for idx in ctx.indexes.values():
            for n in names:
                idx.pop(n, None)
    if isinstance(node, ast.CreateFunctionStmt):
        _record_trigger_function(node, ctx)
    if isinstance(node, ast.CreateFunctionStmt) and node.is_procedure:
        out.gaps.append(Gap("plpgsql-function", _where(source, stmt, node.funcname[-1].sval)))
        return out
    if re.match(r"^\s*CREATE\s+(OR\s+REPLACE\s+)?FUNCTION\b", sql, re.I):
        pg_name = node.funcname[-1].sval if isinstance(node, ast.CreateFunctionStmt) else None
        _adapt_function(stmt, source, out, pg_name)
        return out
    if isinstance(node, ast.AlterTableStmt) and _tsvector_columns(node):
        for col in _tsvector_columns(node):
            out.gaps.append(Gap("tsvector-column", _where(source, stmt, f"{node.relation.relname}.{col}")))
            ctx.skipped.add(f"{node.relation.relname}.{col}")
        return out
    if (
        cm := re.match(r"^\s*COMMENT\s+ON\s+COLUMN\s+(\w+)\.(\w+)", sql, re.I)
    ) and f"{cm.group(1)}.{cm.group(2)}" in ctx.skipped:
        return out  # the column itself is a gap row
    if cc := re.match(r"^\s*COMMENT\s+ON\s+CONSTRAINT\s+(\w+)", sql, re.I):
        out.gaps.append(Gap("constraint-comment", _where(source, stmt, cc.group(1))))
        return out
    try:
        tree = sqlglot.parse_one(sql, read="postgres")
    except SqlglotError as exc:
        raise WorkbookError(
            f"{source}:{stmt.line}: the DuckDB adapter cannot parse this statement "
            f"({str(exc).splitlines()[0]}): {stmt.head}"
        ) from None
    if isinstance(tree, exp.Command):  # a command sqlglot does not model: DuckDB judges it as written
        out.statements.append(stmt)
        return out
    if isinstance(tree, exp.Create) and tree.kind == "TABLE":
        tree = _adapt_create_table(tree, stmt, source, out)
    elif isinstance(tree, exp.Create) and tree.kind == "INDEX":
        tree = _adapt_index(tree, stmt, source, out, ctx)
        if tree is None:
            return out
    else:
        if isinstance(tree, exp.Alter):
            _drop_add_column_not_null(tree, stmt, source, out)
        hits: set[str] = set()
        tree = _rewrite_json_and_regex(tree, hits)
        for rule in sorted(hits):
            target = tree.find(exp.Table)
            out.gaps.append(Gap(rule, _where(source, stmt, target.name if target else "statement")))
    out.statements.append(Statement(_duckdb_sql(tree, source, stmt), stmt.line))
    return out


def adapt_script(text: str, source: str, ctx: Context | None = None) -> Adapted:
    """Derive DuckDB's form of a whole PostgreSQL script (after the scripts `ctx` has seen)."""
    ctx = ctx if ctx is not None else Context()
    out = Adapted()
    for stmt in split_sql(text, source):
        out.extend(adapt_statement(stmt, source, ctx))
    return out
