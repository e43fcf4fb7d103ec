"""Synthetic data at scale: seeded, foreign-key consistent, skewed, constraint-valid and fast.

Every value is a pure function of (seed, table, row index) computed by DuckDB as set-based SQL:
`hash()` gives uniform numbers, inverse transforms give the skewed laws, and a child row's
parent is chosen by index, so its timestamps follow from the parent's without a join. Tables are
written straight to Parquet (streamed by DuckDB, never materialised in Python) under temporary
names and renamed when all are complete, with a manifest of seed, scale, row counts and sha256.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import duckdb

from . import config
from .errors import WorkbookError


# The distributions' parameters, in one place (shown in notebook 04).
@dataclass(frozen=True)
class Params:
    """Sizes per unit of scale factor and the parameters of every distribution."""

    users: int = 100_000
    templates: int = 10_000
    patterns: int = 50_000
    projects: int = 1_000_000
    applications: int = 3_000_000
    start: str = "2019-01-01 00:00:00+00"  # the data's time window (fixed: no "now")
    end: str = "2025-12-31 00:00:00+00"
    admin_share: float = 0.02
    contributor_share: float = 0.08
    inactive_account_share: float = 0.08
    user_activity_exponent: float = 3.0  # last activity = created + (end - created) * u^3: most users idle
    author_skew_exponent: float = 2.0  # template authors drawn from early users, index = N * u^2
    owner_skew_exponent: float = 3.0  # projects per user heavy-tailed: owner = N * u^3
    template_zipf_s: float = 1.0  # template popularity: rank = N^u, a Zipf law with s = 1
    project_without_template_share: float = 0.10
    published_share: float = 0.80
    template_deleted_share: float = 0.03
    pattern_deleted_share: float = 0.02
    project_deleted_share: float = 0.02
    max_versions: int = 4  # versions per template: 1 .. max, uniform
    vocabulary_skew_exponent: float = 2.0  # word = vocabulary[len * u^2]: early words common, late rare


PARAMS = Params()

FIRST = [
    "ada",
    "alan",
    "grace",
    "linus",
    "margaret",
    "dennis",
    "barbara",
    "ken",
    "frances",
    "edsger",
    "radia",
    "tim",
    "hedy",
    "john",
    "katherine",
    "guido",
    "sophie",
    "yukihiro",
    "anders",
    "bjarne",
]
LAST = [
    "lovelace",
    "turing",
    "hopper",
    "torvalds",
    "hamilton",
    "ritchie",
    "liskov",
    "thompson",
    "allen",
    "dijkstra",
    "perlman",
    "berners",
    "lamarr",
    "backus",
    "johnson",
    "rossum",
    "wilson",
    "matsumoto",
    "hejlsberg",
    "stroustrup",
]
DOMAINS = ["example.com", "example.org", "mail.example.net", "corp.example.com"]
TECH = [
    "react",
    "python",
    "node",
    "go",
    "rust",
    "java",
    "vue",
    "django",
    "rails",
    "spring",
    "flask",
    "svelte",
    "kotlin",
    "swift",
    "elixir",
    "haskell",
    "terraform",
    "kubernetes",
    "deno",
    "zig",
]
KINDS = ["app", "api", "service", "library", "cli", "worker", "site", "plugin"]
ADJECTIVES = [
    "minimal",
    "production",
    "modern",
    "secure",
    "typed",
    "serverless",
    "tested",
    "documented",
    "accessible",
    "reactive",
    "offline",
    "distributed",
    "embedded",
    "quantum",
    "homomorphic",
]
FEATURES = [
    "linting",
    "testing",
    "docker",
    "ci",
    "logging",
    "metrics",
    "auth",
    "caching",
    "i18n",
    "graphql",
    "websockets",
    "tracing",
    "feature flags",
    "sharding",
    "telemetry",
    "blockchain",
    "webassembly",
]
CATEGORIES = [
    "framework",
    "language",
    "backend",
    "frontend",
    "devops",
    "data",
    "mobile",
    "testing",
    "security",
    "infrastructure",
    "documentation",
    "machine-learning",
]

TABLES = [
    "users",
    "templates",
    "template_versions",
    "projects",
    "pattern_applications",
    "patterns",
    "audit_log",
]
LOAD_ORDER = [
    "users",
    "templates",
    "template_versions",
    "patterns",
    "projects",
    "pattern_applications",
    "audit_log",
]


@dataclass(frozen=True)
class Sizes:
    """Row counts (before per-row filters) for one scale factor."""

    users: int
    templates: int
    patterns: int
    projects: int
    applications: int

    @classmethod
    def at(cls, sf: float, p: Params = PARAMS) -> Sizes:
        def n(base: int) -> int:
            return max(1, round(base * sf))

        return cls(n(p.users), n(p.templates), n(p.patterns), n(p.projects), n(p.applications))


def parse_sf(value: object) -> float:
    """A scale factor: a finite number above zero."""
    try:
        sf = float(str(value))
    except ValueError:
        raise WorkbookError(f"SF={value}: the scale factor must be a number above 0 (e.g. 0.1)") from None
    if not math.isfinite(sf) or sf <= 0:
        raise WorkbookError(f"SF={value}: the scale factor must be a number above 0 (e.g. 0.1)")
    if sf > 1000:
        raise WorkbookError(f"SF={value}: the scale factor is capped at 1000")
    return sf


def parse_seed(value: object) -> int:
    """A seed: a non-negative integer."""
    try:
        seed = int(str(value))
    except ValueError:
        raise WorkbookError(f"SEED={value}: the seed must be an integer (e.g. 42)") from None
    if seed < 0 or seed >= 2**63:
        raise WorkbookError(f"SEED={value}: the seed must be between 0 and 2^63-1")
    return seed


def _sql_list(words: list[str]) -> str:
    return "[" + ", ".join("'" + w.replace("'", "''") + "'" for w in words) + "]"


def _macros(seed: int, s: Sizes, p: Params) -> list[str]:
    """DuckDB macros: uniform numbers, ids and the attributes children need from parents."""
    span = f"(epoch_us(TIMESTAMPTZ '{p.end}') - epoch_us(TIMESTAMPTZ '{p.start}'))"
    t0 = f"epoch_us(TIMESTAMPTZ '{p.start}')"
    return [
        # u(tag, i): uniform in [0, 1), a pure function of (seed, tag, i)
        f"CREATE MACRO u(tag, i) AS hash(i, {seed}, tag) / 18446744073709551616.0",
        f"CREATE MACRO uid(tag, i) AS printf('%016x%016x', hash(i, {seed}, tag, 'id1'), hash(tag, i, {seed}, 'id2'))::UUID",
        "CREATE MACRO pick(words, tag, i, e) AS words[1 + floor(len(words) * pow(u(tag, i), e))::BIGINT]",
        "CREATE MACRO ts(us) AS make_timestamptz(us::BIGINT)",
        "CREATE MACRO initcap(w) AS upper(w[1]) || w[2:]",
        f"CREATE MACRO end_us() AS {t0} + {span}",
        # users
        f"CREATE MACRO user_created_us(i) AS {t0} + floor(u('uc', i) * {span} * 0.9)",
        # templates
        f"CREATE MACRO template_author(i) AS floor({s.users} * pow(u('ta', i), {p.author_skew_exponent}))::BIGINT",
        "CREATE MACRO template_created_us(i) AS user_created_us(template_author(i)) "
        "+ floor(u('tc', i) * (end_us() - user_created_us(template_author(i))) * 0.8)",
        f"CREATE MACRO template_versions(i) AS 1 + floor(u('tk', i) * {p.max_versions})::BIGINT",
        "CREATE MACRO template_major(i) AS 1 + floor(u('tm', i) * 3)::BIGINT",
        "CREATE MACRO version_created_us(i, j) AS template_created_us(i) "
        "+ floor((end_us() - template_created_us(i)) * 0.5 * j / template_versions(i))",
        # patterns: pattern q belongs to template q % N_t
        f"CREATE MACRO pattern_template(q) AS q % {s.templates}",
        "CREATE MACRO pattern_created_us(q) AS template_created_us(pattern_template(q)) "
        "+ floor(u('pc', q) * (end_us() - template_created_us(pattern_template(q))) * 0.5)",
        f"CREATE MACRO patterns_of(t) AS CASE WHEN t < {s.patterns} THEN ({s.patterns} - 1 - t) // {s.templates} + 1 ELSE 0 END",
        # projects
        f"CREATE MACRO project_owner(i) AS floor({s.users} * pow(u('po', i), {p.owner_skew_exponent}))::BIGINT",
        f"CREATE MACRO project_template(i) AS CASE WHEN u('pn', i) < {p.project_without_template_share} THEN NULL "
        f"ELSE least(floor(pow({s.templates}, u('pz', i)))::BIGINT - 1, {s.templates - 1}) END",
        "CREATE MACRO project_floor_us(i) AS greatest(user_created_us(project_owner(i)), "
        "coalesce(template_created_us(project_template(i)), 0))",
        "CREATE MACRO project_created_us(i) AS project_floor_us(i) + floor(u('pc', i) * (end_us() - project_floor_us(i)))",
    ]


def _attributes(s: Sizes, p: Params) -> list[str]:
    """Per-entity attributes children need (id, parent index, creation time), computed once."""
    return [
        f"""CREATE TEMP TABLE u_attr AS SELECT i, uid('u', i) AS id, user_created_us(i) AS created_us
            FROM range({s.users}) AS r(i)""",
        f"""CREATE TEMP TABLE t_attr AS SELECT i, uid('t', i) AS id, template_author(i) AS author,
            template_created_us(i) AS created_us FROM range({s.templates}) AS r(i)""",
        f"""CREATE TEMP TABLE q_attr AS SELECT q, uid('q', q) AS id, pattern_template(q) AS template,
            pattern_created_us(q) AS created_us FROM range({s.patterns}) AS r(q)""",
        f"""CREATE TEMP TABLE p_attr AS
            WITH base AS (SELECT i, project_owner(i) AS owner, project_template(i) AS template FROM range({s.projects}) AS r(i)),
            floor_ AS (
                SELECT base.*, uo.id AS owner_id, tt.id AS template_id,
                       greatest(uo.created_us, coalesce(tt.created_us, 0)) AS floor_us
                FROM base JOIN u_attr AS uo ON uo.i = base.owner LEFT JOIN t_attr AS tt ON tt.i = base.template
            )
            SELECT i, uid('p', i) AS id, owner, owner_id, template, template_id,
                   floor_us + floor(u('pc', i) * (end_us() - floor_us))::BIGINT AS created_us
            FROM floor_""",
    ]


def _queries(s: Sizes, p: Params) -> dict[str, str]:
    """One SELECT per table; pattern_applications first, since patterns count it."""
    vocab = {
        k: _sql_list(v)
        for k, v in dict(
            first=FIRST,
            last=LAST,
            domains=DOMAINS,
            tech=TECH,
            kinds=KINDS,
            adj=ADJECTIVES,
            feat=FEATURES,
            cat=CATEGORIES,
        ).items()
    }
    e = p.vocabulary_skew_exponent
    schema = """'{"variables": [{"name": "project_name", "type": "string"}], "files": ["README.md"]}'"""
    apps_candidates = round(s.applications / (1 - p.project_without_template_share))
    return {
        "users": f"""
            SELECT uid('u', i) AS id,
                   (CASE WHEN u('ec', i) < 0.1 THEN upper(pick({vocab["first"]}, 'fn', i, 1)) ELSE pick({vocab["first"]}, 'fn', i, 1) END)
                     || '.' || pick({vocab["last"]}, 'ln', i, 1) || i || '@' || pick({vocab["domains"]}, 'dm', i, 1) AS email,
                   initcap(pick({vocab["first"]}, 'fn', i, 1)) || ' ' || initcap(pick({vocab["last"]}, 'ln', i, 1)) AS name,
                   CASE WHEN u('r', i) < {p.admin_share} THEN 'admin'
                        WHEN u('r', i) < {p.admin_share + p.contributor_share} THEN 'contributor' ELSE 'user' END AS role,
                   u('a', i) >= {p.inactive_account_share} AS active,
                   ts(user_created_us(i)) AS created_at,
                   ts(user_created_us(i) + floor((end_us() - user_created_us(i)) * pow(u('uu', i), {p.user_activity_exponent}))) AS updated_at
            FROM range({s.users}) AS r(i) ORDER BY i""",
        "templates": f"""
            SELECT uid('t', i) AS id,
                   pick({vocab["tech"]}, 'tt', i, {e}) || '-' || pick({vocab["kinds"]}, 'tn', i, 1) || '-' || i AS name,
                   'A ' || pick({vocab["adj"]}, 'td1', i, {e}) || ' ' || pick({vocab["tech"]}, 'tt', i, {e}) || ' '
                     || pick({vocab["kinds"]}, 'tn', i, 1) || ' starter with ' || pick({vocab["feat"]}, 'tf1', i, {e})
                     || ' and ' || pick({vocab["feat"]}, 'tf2', i, {e}) AS description,
                   pick({vocab["cat"]}, 'tg', i, {e}) AS category,
                   template_major(i) || '.' || (template_versions(i) - 1) || '.0' AS version,
                   uid('u', template_author(i)) AS author_id,
                   {schema}::JSON AS schema,
                   u('tp', i) < {p.published_share} AS published,
                   ts(template_created_us(i)) AS created_at,
                   ts(version_created_us(i, template_versions(i) - 1)) AS updated_at,
                   CASE WHEN u('td', i) < {p.template_deleted_share}
                        THEN ts(version_created_us(i, template_versions(i) - 1) + floor(u('tdd', i) * (end_us() - version_created_us(i, template_versions(i) - 1))))
                   END AS deleted_at
            FROM range({s.templates}) AS r(i) ORDER BY i""",
        "template_versions": f"""
            SELECT uid('v', i * {p.max_versions} + j) AS id, uid('t', i) AS template_id,
                   template_major(i) || '.' || j || '.0' AS version,
                   json_object('version', j, 'files', 1 + j) AS content,
                   CASE WHEN j = 0 THEN 'Initial version' ELSE 'Changes for ' || pick({vocab["feat"]}, 'vf', i * 8 + j, {e}) END AS changelog,
                   ts(version_created_us(i, j)) AS created_at,
                   uid('u', template_author(i)) AS created_by
            FROM range({s.templates}) AS r(i), range({p.max_versions}) AS v(j)
            WHERE j < template_versions(i) ORDER BY i, j""",
        "projects": f"""
            SELECT a.id, 'project-' || a.i AS name,
                   CASE WHEN u('pd', a.i) < 0.7 THEN 'A ' || pick({vocab["tech"]}, 'pt1', a.i, {e}) || ' project using '
                        || pick({vocab["feat"]}, 'pf', a.i, {e}) END AS description,
                   a.owner_id, a.template_id,
                   CASE WHEN u('pg', a.i) < 0.5 THEN '{{}}' ELSE json_object('theme', pick(['light', 'dark'], 'pth', a.i, 1)) END::JSON AS configuration,
                   ts(a.created_us) AS created_at,
                   ts(a.created_us + floor((end_us() - a.created_us) * pow(u('pu', a.i), 2))) AS updated_at,
                   CASE WHEN u('px', a.i) < {p.project_deleted_share} THEN ts(end_us()) END AS deleted_at
            FROM p_attr AS a""",
        "pattern_applications": f"""
            WITH c AS (
                SELECT i, floor({s.projects} * u('ap', i))::BIGINT AS p FROM range({apps_candidates}) AS r(i)
            ), b AS (
                SELECT c.i, pa.id AS project_id, pa.owner_id, pa.created_us AS project_us,
                       pa.template + floor(patterns_of(pa.template) * u('ak', c.i))::BIGINT * {s.templates} AS q
                FROM c JOIN p_attr AS pa ON pa.i = c.p
                WHERE pa.template IS NOT NULL AND patterns_of(pa.template) > 0
            ), d AS (
                SELECT b.*, qa.id AS pattern_id, greatest(b.project_us, qa.created_us) AS floor_us
                FROM b JOIN q_attr AS qa ON qa.q = b.q
            )
            SELECT uid('a', i) AS id, project_id, pattern_id,
                   CASE WHEN u('ab', i) < 0.95 THEN owner_id END AS applied_by,
                   '{{}}'::JSON AS configuration,
                   ts(floor_us + floor(u('aa', i) * (end_us() - floor_us))::BIGINT) AS applied_at
            FROM d""",
        "patterns": f"""
            WITH usage AS (
                SELECT pattern_id, count(*) AS n FROM read_parquet($apps) GROUP BY pattern_id
            )
            SELECT uid('q', q) AS id,
                   pick({vocab["feat"]}, 'qn', q, {e}) || '-' || q AS name,
                   'Adds ' || pick({vocab["feat"]}, 'qn', q, {e}) || ' to a ' || pick({vocab["tech"]}, 'qt', q, {e}) || ' project' AS description,
                   uid('t', pattern_template(q)) AS template_id,
                   CASE WHEN u('qc', q) < 0.5 THEN '{{}}' ELSE json_object('strict', u('qs', q) < 0.5) END::JSON AS configuration,
                   coalesce(usage.n, 0)::INTEGER AS usage_count,
                   ts(pattern_created_us(q)) AS created_at,
                   ts(pattern_created_us(q)) AS updated_at,
                   CASE WHEN u('qd', q) < {p.pattern_deleted_share} THEN ts(end_us()) END AS deleted_at
            FROM range({s.patterns}) AS r(q) LEFT JOIN usage ON usage.pattern_id = uid('q', q)
            ORDER BY q""",
        "audit_log": f"""
            SELECT uid('l', i) AS id, 'templates' AS table_name, uid('t', i) AS record_id, 'INSERT' AS operation,
                   NULL::JSON AS old_values, json_object('name', 'template ' || i) AS new_values,
                   uid('u', template_author(i)) AS changed_by, ts(template_created_us(i)) AS changed_at
            FROM range({s.templates}) AS r(i) ORDER BY i""",
    }


def sha256(path: Path) -> str:
    """The sha256 of a file."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _connect(
    threads: int | None = None, memory_limit: str = "2GB", temp: Path | None = None
) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(config={"autoinstall_known_extensions": False})
    try:
        con.execute("SET enable_progress_bar = false")
    except (
        duckdb.Error
    ):  # inside Jupyter without ipywidgets DuckDB refuses to touch the setting; it is off there
        pass
    con.execute(f"SET memory_limit = '{memory_limit}'")
    con.execute("SET preserve_insertion_order = true")
    con.execute("SET TimeZone = 'UTC'")
    if threads:
        con.execute(f"SET threads = {threads}")
    if temp is not None:
        con.execute(f"SET temp_directory = '{temp}'")
    return con


@dataclass
class Manifest:
    """What a generation run produced."""

    seed: int
    sf: float
    generator: str = "workbook.synth/1"
    duckdb: str = duckdb.__version__
    rows: dict[str, int] = field(default_factory=dict)
    sha256: dict[str, str] = field(default_factory=dict)
    params: dict = field(default_factory=lambda: asdict(PARAMS))

    def dumps(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True) + "\n"


def generate(
    sf: float,
    seed: int,
    out: Path,
    progress: Callable[[str, int, float], None] | None = None,
    p: Params = PARAMS,
) -> tuple[Manifest, dict[str, float]]:
    """Write one Parquet file per table and manifest.json into `out`; returns the manifest and timings."""
    sf, seed = parse_sf(sf), parse_seed(seed)
    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise WorkbookError(f"{out}: the target folder is not writable ({exc.strerror})") from None
    sizes = Sizes.at(sf, p)
    work = out / f".partial-{os.getpid()}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    con = _connect(temp=work / "spill")
    timings: dict[str, float] = {}
    manifest = Manifest(seed, sf)
    try:
        for m in _macros(seed, sizes, p):
            con.execute(m)
        t0 = time.perf_counter()
        for a in _attributes(sizes, p):
            con.execute(a)
        timings["attributes"] = time.perf_counter() - t0
        queries = _queries(sizes, p)
        for table in TABLES:
            t0 = time.perf_counter()
            target = work / f"{table}.parquet"
            sql = queries[table].replace("$apps", f"'{work / 'pattern_applications.parquet'}'")
            con.execute(
                f"COPY ({sql}) TO '{target}' (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 122880)"
            )
            rows = con.execute(f"SELECT count(*) FROM read_parquet('{target}')").fetchone()[0]
            timings[table] = time.perf_counter() - t0
            manifest.rows[table] = rows
            if progress:
                progress(table, rows, timings[table])
        for table in TABLES:
            manifest.sha256[table] = sha256(work / f"{table}.parquet")
        (work / "manifest.json").write_text(manifest.dumps())
        # All files are complete: move them into place, the manifest last.
        for table in TABLES:
            os.replace(work / f"{table}.parquet", out / f"{table}.parquet")
        os.replace(work / "manifest.json", out / "manifest.json")
    except OSError as exc:
        raise WorkbookError(
            f"{out}: writing the data failed ({exc.strerror or exc}); nothing was replaced"
        ) from None
    except duckdb.Error as exc:
        msg = str(exc).splitlines()[0]
        if "No space left" in msg or "disk" in msg.lower():
            raise WorkbookError(f"{out}: the disk filled up while writing; nothing was replaced") from None
        raise WorkbookError(f"generating the data failed: {msg}") from None
    finally:
        con.close()
        shutil.rmtree(work, ignore_errors=True)
    return manifest, timings


def read_manifest(folder: Path) -> Manifest:
    """The manifest of a generated folder, after checking every file's sha256 is as recorded."""
    path = Path(folder) / "manifest.json"
    if not path.is_file():
        raise WorkbookError(f"{folder}: no manifest.json: run 'make data' first")
    raw = json.loads(path.read_text())
    m = Manifest(
        raw["seed"], raw["sf"], raw["generator"], raw["duckdb"], raw["rows"], raw["sha256"], raw["params"]
    )
    return m


def _check_empty(counts: dict[str, int], where: str) -> None:
    full = {t: n for t, n in counts.items() if n}
    if full:
        listing = ", ".join(f"{t} ({n} rows)" for t, n in sorted(full.items()))
        raise WorkbookError(f"{where} already holds data: {listing}; load into an empty, migrated database")


def load_duckdb(db, folder: Path, progress: Callable[[str, int], None] | None = None) -> dict[str, int]:
    """Insert every table's Parquet file into a migrated DuckDB database, all or nothing."""
    folder = Path(folder)
    m = read_manifest(folder)
    _check_empty({t: db.scalar(f"SELECT count(*) FROM {t}") for t in LOAD_ORDER}, "the DuckDB database")
    table = LOAD_ORDER[0]
    try:
        with db.transaction():
            for table in LOAD_ORDER:
                db.execute(
                    f"INSERT INTO {table} BY NAME SELECT * FROM read_parquet('{folder / (table + '.parquet')}')"
                )
                if progress:
                    progress(table, m.rows[table])
    except duckdb.Error as exc:
        raise WorkbookError(
            f"loading {table} failed, nothing was loaded: {str(exc).splitlines()[0]}"
        ) from None
    return {t: db.scalar(f"SELECT count(*) FROM {t}") for t in LOAD_ORDER}


PG_EPOCH_US = 946_684_800_000_000  # 2000-01-01 in Unix microseconds: PostgreSQL's timestamp origin
NULL_FIELD = "'\\xFF\\xFF\\xFF\\xFF'::BLOB"


def _be(expr: str, bits: int) -> str:
    """DuckDB SQL for a signed integer as big-endian two's complement bytes."""
    mod = 1 << bits
    return f"unhex(printf('%0{bits // 4}x', (({expr})::HUGEINT + {mod}) % {mod}))"


def _field(column: str, pg_type: str) -> str:
    """DuckDB SQL for one field of PostgreSQL's binary COPY format: int32 length, then the value."""
    c = f'"{column}"'
    if pg_type == "uuid":
        value = f"unhex(replace({c}::VARCHAR, '-', ''))"
        body = f"'\\x00\\x00\\x00\\x10'::BLOB || {value}"
    elif pg_type == "text":
        body = f"{_be(f'strlen({c})', 32)} || encode({c})"
    elif pg_type == "jsonb":  # version byte 1, then the JSON text
        body = f"{_be(f'strlen({c}::VARCHAR) + 1', 32)} || '\\x01'::BLOB || encode({c}::VARCHAR)"
    elif pg_type == "timestamp with time zone":
        body = f"'\\x00\\x00\\x00\\x08'::BLOB || {_be(f'epoch_us({c}) - {PG_EPOCH_US}', 64)}"
    elif pg_type == "integer":
        body = f"'\\x00\\x00\\x00\\x04'::BLOB || {_be(c, 32)}"
    elif pg_type == "boolean":
        body = f"'\\x00\\x00\\x00\\x01'::BLOB || CASE WHEN {c} THEN '\\x01'::BLOB ELSE '\\x00'::BLOB END"
    else:
        raise WorkbookError(f"column {column}: no binary COPY encoding for PostgreSQL type {pg_type}")
    return f"CASE WHEN {c} IS NULL THEN {NULL_FIELD} ELSE {body} END"


def binary_rows_sql(path: Path, columns: list[tuple[str, str]]) -> str:
    """A DuckDB query giving each Parquet row as one PostgreSQL binary COPY tuple (a BLOB)."""
    fields = " || ".join(_field(name, pg_type) for name, pg_type in columns)
    return f"SELECT {_be(len(columns), 16)} || {fields} AS tuple FROM read_parquet('{path}')"


COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00"
COPY_TRAILER = b"\xff\xff"


def _tuple_chunks(reader):
    """The bytes of each Arrow batch of encoded tuples, read on a worker thread while PostgreSQL ingests."""
    import queue
    import threading

    q: queue.Queue = queue.Queue(maxsize=4)
    done = object()

    def produce() -> None:
        try:
            for batch in reader:  # DuckDB computes the batch without holding the GIL
                arr = batch.column(0)
                offsets = memoryview(arr.buffers()[1]).cast(
                    "q" if arr.type.equals(__import__("pyarrow").large_binary()) else "i"
                )
                start, end = offsets[arr.offset], offsets[arr.offset + len(arr)]
                q.put((len(arr), bytes(memoryview(arr.buffers()[2])[start:end])))
        except BaseException as exc:  # handed to the consumer
            q.put(exc)
        q.put(done)

    worker = threading.Thread(target=produce, daemon=True)
    worker.start()
    while (item := q.get()) is not done:
        if isinstance(item, BaseException):
            raise item
        yield item
    worker.join()


def load_postgres(
    db,
    folder: Path,
    progress: Callable[[str, int], None] | None = None,
    batch_rows: int = 100_000,
    timings: dict[str, float] | None = None,
) -> dict[str, int]:
    """COPY every table into a migrated PostgreSQL schema in one transaction.

    Keys, foreign keys and secondary indexes are dropped first and rebuilt after the data is in
    (a sorted build beats row-by-row maintenance, and re-adding each key and foreign key validates
    every row), user triggers are off during the load, COPY uses FREEZE, then ANALYZE runs. Rows
    stream from DuckDB, which encodes each row in PostgreSQL's binary COPY format (no text parsing
    on the server) batch by batch on a second thread; nothing holds a whole table.
    """
    import psycopg

    folder = Path(folder)
    m = read_manifest(folder)
    _check_empty({t: db.scalar(f"SELECT count(*) FROM {t}") for t in LOAD_ORDER}, "the PostgreSQL schema")
    schema = db.scalar("SELECT current_schema()")
    src = _connect(threads=2, memory_limit="1GB")
    step = "preparing"
    try:
        with db.transaction():
            db.execute("SET LOCAL maintenance_work_mem = '512MB'")
            db.execute("SET LOCAL max_parallel_maintenance_workers = 2")
            keys = db.fetchall(
                "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid), contype::text FROM pg_constraint "
                "WHERE contype IN ('p', 'u', 'f') AND connamespace = ?::regnamespace "
                "ORDER BY CASE contype WHEN 'f' THEN 1 ELSE 0 END, conname",
                [schema],
            )
            idx = db.fetchall(
                "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i "
                "JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = ? AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid) "
                "ORDER BY 1",
                [schema],
            )
            for table, name, _, _ in reversed(keys):  # foreign keys first, then the keys they use
                db.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
            for name, _ in idx:
                db.execute(f"DROP INDEX {name}")
            db.execute(f"TRUNCATE {', '.join(LOAD_ORDER)}")  # empty already; lets COPY FREEZE skip hint bits
            for table in LOAD_ORDER:
                db.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
            clock = time.perf_counter()
            for table in LOAD_ORDER:
                step = f"COPY {table}"
                path = folder / f"{table}.parquet"
                names = [
                    r[0] for r in src.execute(f"DESCRIBE SELECT * FROM read_parquet('{path}')").fetchall()
                ]
                types = dict(
                    db.fetchall(
                        "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
                        "WHERE attrelid = ?::regclass AND attnum > 0 AND NOT attisdropped",
                        [table],
                    )
                )
                reader = src.execute(binary_rows_sql(path, [(n, types[n]) for n in names])).to_arrow_reader(
                    batch_rows
                )
                cols = ", ".join(f'"{n}"' for n in names)
                with db.con.cursor().copy(
                    f"COPY {table} ({cols}) FROM STDIN (FORMAT binary, FREEZE)"
                ) as copy:
                    copy.write(COPY_HEADER)
                    for rows, data in _tuple_chunks(reader):
                        copy.write(data)
                        if progress:
                            progress(table, rows)
                    copy.write(COPY_TRAILER)
            if timings is not None:
                timings["copy"] = time.perf_counter() - clock
                clock = time.perf_counter()
            for table, name, ddl, kind in keys:
                step = f"{'validating foreign key' if kind == 'f' else 'rebuilding key'} {name}"
                db.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {ddl}')
            for name, ddl in idx:
                step = f"rebuilding index {name}"
                db.execute(ddl)
            for table in LOAD_ORDER:
                db.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")
    except psycopg.Error as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise WorkbookError(f"{step} failed, nothing was loaded: {first}") from None
    finally:
        src.close()
    if timings is not None:
        timings["rebuild_keys_and_indexes"] = time.perf_counter() - clock
        clock = time.perf_counter()
    for table in LOAD_ORDER:
        db.execute(f"ANALYZE {table}")
    if timings is not None:
        timings["analyze"] = time.perf_counter() - clock
    counts = {t: db.scalar(f"SELECT count(*) FROM {t}") for t in LOAD_ORDER}
    for t in LOAD_ORDER:
        if counts[t] != m.rows[t]:
            raise WorkbookError(f"{t}: loaded {counts[t]} rows, the manifest says {m.rows[t]}")
    return counts


def default_folder(sf: float, seed: int) -> Path:
    """Where `make data` writes: data/synthetic/sf<SF>-seed<SEED>."""
    return config.DATA_DIR / "synthetic" / f"sf{sf:g}-seed{seed}"
