"""Injection tests of every dynamic SQL path: hostile input to each argument, refused as intended, nothing changed.

A design declares its dynamic SQL paths (`workbook.design.injection`): the catalog routines that
build SQL at run time (PL/pgSQL with EXECUTE or format()) and the client paths that take a user's
text or a client's cursor. Each path says how it is called, the benign value of each argument,
the refusals it intends (SQLSTATE and constraint name, or a client-side error) and what a success
may change. This module names none of the design's tables or functions:

* `discover(db)` reads the dynamic routines from the live catalog (`pg_proc.prosrc`), and
  `check(db, declaration)` fails in one line when one has no declaration, a declared one is gone,
  or a declared argument list differs from the routine's.
* `hostile_inputs(...)` is the one list of hostile values (quotes, stacked statements, comments,
  dotted and quoted names, schema-qualified real tables, 10 000 characters, NUL and control
  characters, look-alikes, empty, NULL, ...), built against the live schema.
* `run(db, declaration)` applies every hostile value to every argument of every path, one at a
  time, each in its own transaction (committed, rolled back, or autocommitted as the path is
  used), and snapshots the schema before and after: each table's row count and checksum, and the
  schema's relations, columns, routines, triggers and policies. An outcome is a refusal that the
  path intends, or a success whose changes are the intended effect only; anything else is
  reported as unexpected or changed.
* `markdown(outcomes)` is the per-path summary for the document.

NUL: PostgreSQL text cannot hold a NUL character, and psycopg refuses a text parameter that holds
one before anything is sent (psycopg.DataError, no SQLSTATE). That is an intended refusal of every
path whose argument reaches the driver as given: nothing ran. A client path that cleans its input
first (the search text) gets the cleaned value and must succeed or refuse on its own terms.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from .engines import Engine
from .errors import WorkbookError, first_line
from .tables import md_table

MODES = ("commit", "rollback", "autocommit")
CONTROL = "control (benign values)"

# A routine is a dynamic SQL path when its PL/pgSQL body runs a string (EXECUTE) or builds one (format()).
DYNAMIC = r"\mexecute\M|\mformat\s*\("


# -- declarations ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Arg:
    """One argument of a path: its name, the SQL type it is bound to and its benign value.

    `hostile` False means the hostile values are not applied to it, and `reason` says why (for
    example: trusted SQL by the path's contract, tried instead through a companion path as an
    untrusted role). A `text[]` argument gets each hostile value as its one element.
    """

    name: str
    type: str
    default: object = None
    hostile: bool = True
    reason: str = ""

    def shape(self, value: object) -> object:
        return [value] if self.type.endswith("[]") and value is not None else value


@dataclass(frozen=True)
class Refusal:
    """An intended refusal: an engine error by SQLSTATE and constraint name, or a client-side error.

    `constraint` None means the error must carry no constraint name. `error` is an exception class
    (a client-side refusal: the workbook's one-line error, the driver's); `match` a regular
    expression its message must contain.
    """

    sqlstate: str | None = None
    constraint: str | None = None
    why: str = ""
    error: type[BaseException] | None = None
    match: str = ""

    def matches(self, exc: BaseException) -> bool:
        if self.error is not None:
            return isinstance(exc, self.error) and (not self.match or bool(re.search(self.match, str(exc))))
        state = getattr(exc, "sqlstate", None)
        if state is None or state != self.sqlstate:
            return False
        diag = getattr(exc, "diag", None)
        return (getattr(diag, "constraint_name", None) or None) == self.constraint

    def label(self) -> str:
        if self.error is not None:
            return self.error.__name__
        return f"{self.sqlstate} {self.constraint}" if self.constraint else str(self.sqlstate)


@dataclass(frozen=True)
class Effect:
    """What a success may change: these tables, relations whose names match `relations` (created).

    `check` is SQL (`:arg` parameters, one boolean) or a callable (db, values) -> bool run right
    after the call, before the commit or rollback: true when the intended effect is there. `undo`
    statements put the database back after a committed success (the next case starts from the
    same state); the state after them must equal the state before the call.
    """

    why: str
    tables: tuple[str, ...] = ()
    relations: str = ""
    check: str | Callable[[Engine, dict], bool] | None = None
    undo: tuple[str, ...] = ()


@dataclass(frozen=True)
class Path:
    """One dynamic SQL path: how it is called, its arguments, its intended refusals and effect.

    `function` is the catalog routine it calls as `name(type, ...)` (the identity `discover` reads);
    its arguments must then be the routine's input arguments, in order. A client path (user text,
    cursors) has no `function`; `reaches` names a routine it gets to indirectly (stored input).
    `call` is SQL with `:arg` parameters or a callable (db, values). `mode`: commit (an application's
    transaction), rollback (a write whose success must not outlive the case) or autocommit (a
    procedure that commits itself). `role`: run as this role (SET ROLE). `setup`: statements run
    first, in the same transaction (autocommit: the session).
    """

    name: str
    call: str | Callable[[Engine, dict], object]
    args: tuple[Arg, ...]
    refusals: tuple[Refusal, ...] = ()
    function: str | None = None
    reaches: str | None = None
    mode: str = "commit"
    role: str | None = None
    setup: tuple[str, ...] = ()
    effect: Effect | None = None  # None: a success changes nothing
    note: str = ""

    def defaults(self) -> dict[str, object]:
        return {a.name: a.shape(a.default) for a in self.args}


@dataclass(frozen=True)
class Declaration:
    """A design's dynamic SQL paths, the real tables name-shaped hostile inputs are built from,
    the session settings and fixture rows the paths rely on, and the roles that are untrusted."""

    paths: tuple[Path, ...]
    names: tuple[str, ...] = ()
    session: tuple[str, ...] = ()
    fixture: tuple[str, ...] = ()
    untrusted: tuple[str, ...] = ()
    source: str = "the design's injection declaration"


# -- discovery ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Routine:
    """A dynamic routine of the live schema: identity, kind (f function, p procedure), input arguments."""

    identity: str
    kind: str
    args: tuple[tuple[str, str], ...]


def discover(db: Engine) -> dict[str, Routine]:
    """Every PL/pgSQL routine of the current schema whose body contains EXECUTE or format(."""
    rows = db.fetchall(
        """SELECT p.proname, p.prokind::text, coalesce(p.proargnames, '{}'::text[]),
                  coalesce(p.proargmodes::text[], '{}'::text[]),
                  ARRAY(SELECT format_type(t, NULL) FROM unnest(coalesce(p.proallargtypes, p.proargtypes::oid[]))
                        WITH ORDINALITY AS a (t, n) ORDER BY n)
           FROM pg_proc AS p JOIN pg_language AS l ON l.oid = p.prolang
           WHERE p.pronamespace = current_schema()::regnamespace AND l.lanname = 'plpgsql'
             AND p.prosrc ~* ?
           ORDER BY 1, 5""",
        [DYNAMIC],
    )
    out = {}
    for name, kind, names, modes, types in rows:
        modes = list(modes) or ["i"] * len(types)
        names = list(names) + [""] * (len(types) - len(names))
        args = tuple((n, t) for n, m, t in zip(names, modes, types, strict=True) if m in ("i", "b", "v"))
        identity = f"{name}({', '.join(t for _, t in args)})"
        out[identity] = Routine(identity, kind, args)
    return out


def check(db: Engine, decl: Declaration) -> dict[str, Routine]:
    """The discovered routines; one line when one is undeclared, a declared one is gone, or arguments differ."""
    found = discover(db)
    names = [p.name for p in decl.paths]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise WorkbookError(f"injection: path(s) {', '.join(twice)} declared twice in {decl.source}")
    declared = {p.function for p in decl.paths if p.function}
    missing = sorted(set(found) - declared)
    if missing:
        raise WorkbookError(
            f"injection: dynamic SQL routine(s) {', '.join(missing)} found in the catalog have no declaration "
            f"in {decl.source}"
        )
    gone = sorted(declared - set(found))
    if gone:
        raise WorkbookError(
            f"injection: {', '.join(gone)} declared in {decl.source} is no longer a dynamic SQL routine of the catalog"
        )
    for p in decl.paths:
        if p.mode not in MODES:
            raise WorkbookError(f"injection: path {p.name}: mode {p.mode!r} is not one of {', '.join(MODES)}")
        for a in p.args:
            if not a.hostile and not a.reason:
                raise WorkbookError(
                    f"injection: path {p.name}: argument {a.name} is not tried and says not why"
                )
        if p.function:
            want = found[p.function].args
            have = tuple((a.name, a.type) for a in p.args)
            if have != want:
                raise WorkbookError(
                    f"injection: path {p.name}: declares arguments {_sig(have)}, {p.function} takes {_sig(want)}"
                )
    return found


def _sig(args: tuple[tuple[str, str], ...]) -> str:
    return "(" + ", ".join(f"{n} {t}" for n, t in args) + ")"


# -- hostile inputs -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Hostile:
    """A hostile value and the label the document shows (which never holds the run's schema name)."""

    label: str
    value: str | None


LOOKALIKE = {
    "a": "а",
    "c": "с",
    "e": "е",
    "i": "і",
    "j": "ј",
    "o": "о",
    "p": "р",
    "s": "ѕ",
    "x": "х",
    "y": "у",
}

FIXED: tuple[Hostile, ...] = (
    Hostile("empty string", ""),
    Hostile("NULL", None),
    Hostile("whitespace", " \t "),
    Hostile("single quote", "'"),
    Hostile("double quote", '"'),
    Hostile("quote, semicolon, statement", "x'; SELECT 1; --"),
    Hostile("tautology", "' OR '1'='1"),
    Hostile("tautology, comment", "' OR 1=1 --"),
    Hostile("semicolon", ";"),
    Hostile("stacked statement", "; SELECT 1; --"),
    Hostile("line comment", "-- comment"),
    Hostile("block comment", "/* comment */"),
    Hostile("unterminated block comment", "x /*"),
    Hostile("dollar quote", "$$"),
    Hostile("dollar-quoted concatenation", "$$ || current_user || $$"),
    Hostile("tagged dollar quote", "$x$'$x$"),
    Hostile("backslash", "\\"),
    Hostile("backslash quote", "\\'"),
    Hostile("percent", "%"),
    Hostile("underscore", "_"),
    Hostile("LIKE wildcards", "%_%"),
    Hostile("format() directives", "%I%L%s%1$s"),
    Hostile("positional parameter", "$1"),
    Hostile("driver placeholders", "%s ? %(x)s"),
    Hostile("10 000 characters", "a" * 10_000),
    Hostile("10 000 characters of quotes", "x'" * 5_000),
    Hostile("NUL", "a\x00b"),
    Hostile("control characters", "a\x01b\x1bc"),
    Hostile("CR LF", "a\r\nb"),
    Hostile("tab", "a\tb"),
    Hostile("DEL and C1 control", "a\x7f\x85b"),
    Hostile("emoji", "\U0001f600"),
    Hostile("catalog table", "pg_catalog.pg_class"),
    Hostile("catalog table, quoted", '"pg_catalog"."pg_class"'),
    Hostile("information schema", "information_schema.tables"),
)


def _lookalike(name: str) -> str:
    """The name with its last letter that has a Cyrillic look-alike replaced by it."""
    for i in range(len(name) - 1, -1, -1):
        if name[i] in LOOKALIKE:
            return name[:i] + LOOKALIKE[name[i]] + name[i + 1 :]
    return name + "\u0455"


def _fullwidth(name: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in name)


def _mathematical(name: str) -> str:
    """The name with its first lower-case letter in mathematical bold: compatibility-equal to it."""
    for i, c in enumerate(name):
        if "a" <= c <= "z":
            return name[:i] + chr(0x1D41A + ord(c) - ord("a")) + name[i + 1 :]
    return name + "\U0001d41a"


def hostile_inputs(names: Sequence[str], schema: str) -> list[Hostile]:
    """The hostile values: the fixed list and, for each real table of `names`, name-shaped ones:
    stacked statements against it, its name quoted, dotted, padded, upper-cased, disguised by
    look-alike, fullwidth, zero-width and bidirectional characters, and qualified with the live
    `schema` (labelled `<schema>.table`, so the document does not depend on the run's schema)."""
    out = list(FIXED)
    for n in names:
        out += [
            Hostile(f"stacked DROP TABLE {n}", f"x'; DROP TABLE {n}; --"),
            Hostile(f"stacked DELETE FROM {n}", f"x'; DELETE FROM {n}; --"),
            Hostile(f"public.{n}", f"public.{n}"),
            Hostile(f'"{n}" quoted', f'"{n}"'),
            Hostile(f"{n} with a trailing space", f"{n} "),
            Hostile(f"{n} upper case", n.upper()),
            Hostile(f"{n} with a Cyrillic look-alike", _lookalike(n)),
            Hostile(f"{n} in fullwidth letters", _fullwidth(n)),
            Hostile(f"{n} with a zero-width space", n[:1] + "\u200b" + n[1:]),
            Hostile(f"{n} behind a right-to-left override", "\u202e" + n),
            Hostile(f"{n} with a mathematical letter (NFKC-equal)", _mathematical(n)),
            Hostile(f"<schema>.{n}", f"{schema}.{n}"),
            Hostile(f'"<schema>"."{n}"', f"{_ident(schema)}.{_ident(n)}"),
        ]
    labels = [h.label for h in out]
    if len(set(labels)) != len(labels):
        raise WorkbookError("injection: two hostile inputs share a label")
    return out


# -- snapshots ------------------------------------------------------------------------------------


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


OBJECTS = """
WITH rel AS MATERIALIZED (
    SELECT c.oid, c.relname, c.relkind, c.relacl, c.relrowsecurity, c.relforcerowsecurity, c.relowner
    FROM pg_class AS c WHERE c.relnamespace = {ns}::oid)
SELECT 'relation ' || r.relname, r.relkind::text || ' ' || coalesce(r.relacl::text, '')
       || ' ' || r.relrowsecurity::text || r.relforcerowsecurity::text || ' ' || r.relowner::text
FROM rel AS r
UNION ALL
SELECT 'columns of ' || r.relname, string_agg(a.attname || ' ' || a.atttypid::text || ' ' || a.atttypmod::text
       || ' ' || a.attnotnull::text, ', ' ORDER BY a.attnum)
FROM rel AS r JOIN pg_attribute AS a ON a.attrelid = r.oid AND a.attnum > 0 AND NOT a.attisdropped
WHERE r.relkind IN ('r', 'p', 'v', 'm')
GROUP BY r.relname
UNION ALL
SELECT 'routine ' || p.proname || '(' || p.proargtypes::text || ')',
       md5(p.prosrc || ' ' || coalesce(p.proacl::text, '') || ' ' || p.prosecdef::text || ' '
           || coalesce(p.proconfig::text, '') || ' ' || p.proowner::text)
FROM pg_proc AS p WHERE p.pronamespace = {ns}::oid
UNION ALL
SELECT 'trigger ' || r.relname || '.' || t.tgname, t.tgenabled::text || ' ' || t.tgfoid::text
FROM pg_trigger AS t JOIN rel AS r ON r.oid = t.tgrelid
WHERE NOT t.tgisinternal
UNION ALL
SELECT 'policy ' || r.relname || '.' || p.polname,
       md5(coalesce(p.polqual::text, '') || ' ' || coalesce(p.polwithcheck::text, '') || ' ' || p.polroles::text
           || ' ' || p.polcmd::text || p.polpermissive::text)
FROM pg_policy AS p JOIN rel AS r ON r.oid = p.polrelid
"""


def tables(db: Engine) -> list[str]:
    """The base tables of the current schema, by name."""
    return [
        r[0]
        for r in db.fetchall(
            "SELECT relname FROM pg_class WHERE relnamespace = current_schema()::regnamespace "
            "AND relkind IN ('r', 'p') ORDER BY relname"
        )
    ]


class Snapshots:
    """Takes snapshots of the current schema: every table's row count and checksum, and every
    relation, column list, routine, trigger and policy. Sequence values are left out: nextval is
    not transactional, so a refused insert moves a sequence on without changing anything a query
    can see. The tables' query is built once per list of tables and run with the catalog's."""

    def __init__(self, db: Engine) -> None:
        self.db = db
        self.schema, ns = db.fetchall("SELECT current_schema(), current_schema()::regnamespace::oid")[0]
        self.objects = OBJECTS.format(ns=int(ns))
        self.names: list[str] | None = None
        self.tables = ""

    def take(self) -> dict[str, str]:
        rows = self.db.fetchall(self.objects)
        names = sorted(k[len("relation ") :] for k, v in rows if k.startswith("relation ") and v[:1] in "rp")
        if names != self.names:
            self.names = names
            self.tables = "\nUNION ALL\n".join(
                f"SELECT 'table ' || {_literal(n)}, count(*)::text || ' ' || "
                f"coalesce(md5(string_agg(md5(t::text), '' ORDER BY md5(t::text))), '') "
                f"FROM {_ident(self.schema)}.{_ident(n)} AS t"
                for n in names
            )
        if self.tables:
            rows += self.db.fetchall(self.tables)
        return dict(sorted((k, v or "") for k, v in rows))


def snapshot(db: Engine) -> dict[str, str]:
    """One snapshot of the current schema (see Snapshots)."""
    return Snapshots(db).take()


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def diff(before: dict[str, str], after: dict[str, str]) -> list[str]:
    """What differs between two snapshots, one entry per object: 'table x', 'relation y created', ..."""
    out = []
    for k in sorted(set(before) | set(after)):
        if k not in after:
            out.append(f"{k} removed")
        elif k not in before:
            out.append(f"{k} created")
        elif before[k] != after[k]:
            out.append(k)
    return out


def _allowed(entry: str, effect: Effect | None) -> bool:
    if effect is None:
        return False
    obj = entry.removesuffix(" created").removesuffix(" removed")
    kind, _, name = obj.partition(" ")
    if kind == "columns":
        name = name.removeprefix("of ")
    if kind == "table" and name in effect.tables:
        return True
    if effect.relations and entry.endswith(" created") and re.fullmatch(effect.relations, name):
        return kind in ("table", "relation", "columns")
    return False


# -- running --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """What one hostile value (or the control call) did to one argument of one path."""

    path: str
    arg: str  # "" for the control call
    input: str
    result: str  # refused | succeeded | unexpected error | unexpected effect
    detail: str
    changed: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return self.result in ("refused", "succeeded") and not self.changed


def _nul_refusal() -> Refusal:
    import psycopg

    return Refusal(
        None,
        why="psycopg refuses a text parameter holding NUL before sending it (PostgreSQL text cannot hold NUL)",
        error=psycopg.DataError,
        match="NUL",
    )


def _call(db: Engine, path: Path, values: dict) -> object:
    if callable(path.call):
        return path.call(db, values)
    from .access import bind

    text, params = bind(path.call, values)
    return db.query(text, params)


def _checked(db: Engine, effect: Effect, values: dict) -> bool:
    if effect.check is None:
        return True
    if callable(effect.check):
        return bool(effect.check(db, values))
    from .access import bind

    text, params = bind(effect.check, values)
    return bool(db.scalar(text, params))


def _rollback(db: Engine) -> None:
    con = getattr(db, "con", None)
    status = getattr(getattr(con, "info", None), "transaction_status", None)
    if status is not None and status.name in ("INTRANS", "INERROR"):
        db.execute("ROLLBACK")


def _case(snap: Snapshots, path: Path, arg: str, label: str, values: dict, before: dict[str, str], nul: bool):
    """Run one call; return its Outcome and the state after it."""
    db = snap.db
    mode = "rollback" if (arg == "" and path.mode == "commit") else path.mode
    exc: BaseException | None = None
    mid: dict[str, str] | None = None
    effect_ok = True
    called = False
    try:
        if mode == "autocommit":
            if path.role:
                db.execute(f"SET ROLE {_ident(path.role)}")
            try:
                for s in path.setup:
                    db.execute(s)
                _call(db, path, values)
                called = True
            finally:
                if path.role:
                    db.execute("RESET ROLE")
            mid = snap.take()
            if path.effect is not None:
                effect_ok = _checked(db, path.effect, values)
        else:
            db.execute("BEGIN")
            try:
                if path.role:
                    db.execute(f"SET LOCAL ROLE {_ident(path.role)}")
                for s in path.setup:
                    db.execute(s)
                _call(db, path, values)
                called = True
                if path.role:
                    db.execute("RESET ROLE")
                mid = snap.take()
                if path.effect is not None:
                    effect_ok = _checked(db, path.effect, values)
            except BaseException:
                _rollback(db)
                raise
            db.execute("COMMIT" if mode == "commit" else "ROLLBACK")
    except Exception as e:  # noqa: BLE001 - every error is classified below
        exc = e
        _rollback(db)
    after = snap.take()
    if exc is not None:
        refusals = path.refusals + ((_nul_refusal(),) if nul else ())
        hit = None if called else next((r for r in refusals if r.matches(exc)), None)
        changed = [d for d in diff(before, mid) if not _allowed(d, path.effect)] if mid is not None else []
        changed = tuple(dict.fromkeys(changed + diff(before, after)))
        if hit is None:
            state = getattr(exc, "sqlstate", None)
            cons = getattr(getattr(exc, "diag", None), "constraint_name", None)
            what = " ".join(x for x in (type(exc).__name__, state, cons) if x)
            if called:
                what = f"after the call, checking its effect: {what}"
            return Outcome(
                path.name, arg, label, "unexpected error", f"{what}: {first_line(exc)}", changed
            ), after
        return Outcome(path.name, arg, label, "refused", hit.label(), changed), after
    assert mid is not None
    changed = [d for d in diff(before, mid) if not _allowed(d, path.effect)]
    touched = [d for d in diff(before, mid) if _allowed(d, path.effect)]
    if mode == "rollback":
        changed += [f"{d} (after rollback)" for d in diff(before, after)]
    elif path.effect is not None and path.effect.undo:
        for s in path.effect.undo:
            db.execute(s)
        undone = snap.take()
        changed += [f"{d} (after undo)" for d in diff(before, undone)]
        after = undone
    else:
        changed += [f"{d} (at commit)" for d in diff(mid, after)]
    detail = ", ".join(touched) if touched else "nothing changed"
    result = "succeeded" if effect_ok else "unexpected effect"
    if not effect_ok:
        detail = f"the intended effect is not there ({path.effect.why}); changed: {detail}"
    return Outcome(path.name, arg, label, result, detail, tuple(changed)), after


def prepare(db: Engine, decl: Declaration) -> None:
    """The declaration's session settings, and its fixture rows in one committed transaction."""
    for s in decl.session:
        db.execute(s)
    if decl.fixture:
        with db.transaction():
            for s in decl.fixture:
                db.execute(s)


def run(
    db: Engine, decl: Declaration, *, only: Sequence[str] | None = None, timeout_ms: int = 10_000
) -> list[Outcome]:
    """Every hostile input on every tried argument of every declared path (or the paths named in
    `only`), and each path's control call. The declaration is checked against the catalog first."""
    check(db, decl)
    unknown = sorted(set(only or ()) - {p.name for p in decl.paths})
    if unknown:
        raise WorkbookError(f"injection: no path named {', '.join(unknown)} in {decl.source}")
    schema = db.scalar("SELECT current_schema()")
    inputs = hostile_inputs(decl.names, schema)
    old_timeout = db.scalar("SELECT current_setting('statement_timeout')")
    db.execute("SELECT set_config('statement_timeout', ?, false)", [str(timeout_ms)])
    out: list[Outcome] = []
    try:
        snap = Snapshots(db)
        state = snap.take()
        for path in decl.paths:
            if only is not None and path.name not in only:
                continue
            o, state = _case(snap, path, "", CONTROL, path.defaults(), state, False)
            out.append(o)
            for arg in path.args:
                if not arg.hostile:
                    continue
                for h in inputs:
                    values = {**path.defaults(), arg.name: arg.shape(h.value)}
                    nul = h.value is not None and "\x00" in h.value
                    o, state = _case(snap, path, arg.name, h.label, values, state, nul)
                    out.append(o)
    finally:
        _rollback(db)
        db.execute("RESET ROLE")
        db.execute("SELECT set_config('statement_timeout', ?, false)", [old_timeout])
    return out


def failures(outcomes: Sequence[Outcome]) -> list[str]:
    """One line per outcome that is not an intended refusal or an intended success."""
    return [
        f"injection: {o.path}: {o.arg or 'control'} = {o.input}: {o.result}: {o.detail}"
        + (f"; changed: {', '.join(o.changed)}" if o.changed else "")
        for o in outcomes
        if not o.ok
    ]


# -- exposure -------------------------------------------------------------------------------------


def exposures(db: Engine, decl: Declaration) -> list[str]:
    """Catalog paths with an argument not tried as hostile (trusted SQL) that an untrusted role may run."""
    out = []
    for p in decl.paths:
        if not p.function or p.role or all(a.hostile for a in p.args):
            continue
        oid = _regprocedure(p.function)
        who = [
            r
            for r in decl.untrusted
            if db.scalar("SELECT has_function_privilege(?, ?::regprocedure, 'EXECUTE')", [r, oid])
        ]
        if who:
            trusted = ", ".join(a.name for a in p.args if not a.hostile)
            out.append(
                f"{p.function}: {trusted} is run as SQL by contract, and {', '.join(who)} may execute it"
            )
    return sorted(set(out))


def _regprocedure(identity: str) -> str:
    name, _, rest = identity.partition("(")
    return f"{_ident(name)}({rest}"


# -- the document ---------------------------------------------------------------------------------


def summary(outcomes: Sequence[Outcome], decl: Declaration) -> list[dict[str, object]]:
    """One row per path, in declaration order: what was tried and how it ended."""
    rows = []
    for p in decl.paths:
        mine = [o for o in outcomes if o.path == p.name]
        tried = [o for o in mine if o.arg]
        control = next((o for o in mine if not o.arg), None)
        refused = Counter(o.detail for o in tried if o.result == "refused")
        rows.append(
            {
                "path": p.name,
                "routine": p.function or p.reaches or "",
                "mode": p.mode + (f" as {p.role}" if p.role else ""),
                "arguments": ", ".join(a.name for a in p.args if a.hostile),
                "not tried": ", ".join(a.name for a in p.args if not a.hostile),
                "inputs": len(tried),
                "refused": sum(refused.values()),
                "succeeded": sum(o.result == "succeeded" for o in tried),
                "unexpected": sum(o.result.startswith("unexpected") for o in tried),
                "changed": sum(bool(o.changed) for o in tried),
                "control": control.result if control else "",
                "refusals": "; ".join(f"{k} ×{v}" for k, v in sorted(refused.items())),
            }
        )
    return rows


def markdown(
    outcomes: Sequence[Outcome], decl: Declaration | None = None, exposed: Sequence[str] = ()
) -> str:
    """The per-path summary table (inputs tried, refused as intended, succeeded, unexpected, changed),
    the arguments not tried and why, any outcome not as intended, and the `exposures` given."""
    if decl is None:
        order = list(dict.fromkeys(o.path for o in outcomes))
        decl = Declaration(
            tuple(
                Path(
                    n,
                    "",
                    tuple(
                        Arg(a, "text")
                        for a in dict.fromkeys(o.arg for o in outcomes if o.path == n and o.arg)
                    ),
                    mode="",
                )
                for n in order
            )
        )
    rows = summary(outcomes, decl)
    table = md_table(
        [
            "Path",
            "Run",
            "Arguments tried",
            "Inputs tried",
            "Refused as intended",
            "Succeeded",
            "Unexpected",
            "Changed",
            "Control call",
            "Refused with (SQLSTATE constraint × n)",
        ],
        [
            [
                f"`{r['path']}`",
                r["mode"],
                r["arguments"] or "none",
                r["inputs"],
                r["refused"],
                r["succeeded"],
                r["unexpected"],
                r["changed"],
                r["control"],
                r["refusals"],
            ]
            for r in rows
        ],
    )
    notes = [f"- `{p.name}`: {p.note}" for p in decl.paths if p.note] + [
        f"- `{p.name}`: {a.name} not tried: {a.reason}" for p in decl.paths for a in p.args if not a.hostile
    ]
    bad = failures(outcomes)
    text = table
    if notes:
        text += "\n" + "\n".join(notes) + "\n"
    if exposed:
        text += (
            "\nTrusted SQL that an untrusted role may run:\n\n" + "\n".join(f"- {e}" for e in exposed) + "\n"
        )
    if bad:
        text += "\nNot as intended:\n\n" + "\n".join(f"- {b}" for b in bad) + "\n"
    return text
