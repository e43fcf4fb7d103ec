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
from .errors import WorkbookError, first_line


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


_PARTIAL = ".partial-"


def _process_gone(pid: int) -> bool:
    """True when no process `pid` runs any more (a zombie counts as gone: it can write nothing)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, owned by someone else
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state in ("Z", "X")


def _remove_stale_partials(out: Path) -> None:
    """Delete `.partial-<pid>` folders left in `out` by runs that were killed; never a live run's."""
    for entry in out.glob(_PARTIAL + "*"):
        pid = entry.name[len(_PARTIAL) :]
        if not pid.isdigit() or not entry.is_dir() or entry.is_symlink():
            continue
        if int(pid) == os.getpid() or _process_gone(int(pid)):
            shutil.rmtree(entry, ignore_errors=True)


def _fsync_dir(folder: Path) -> None:
    """Make the folder's renames and deletions durable, in the order they were made."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def generate(
    sf: float,
    seed: int,
    out: Path,
    progress: Callable[[str, int, float], None] | None = None,
    p: Params = PARAMS,
) -> tuple[Manifest, dict[str, float]]:
    """Write one Parquet file per table and manifest.json into `out`; returns the manifest and timings.

    Everything is written into `out/.partial-<pid>` first. Only when every file and the manifest are
    complete does the folder change, in this order: the old manifest.json is deleted (from then on the
    folder has no manifest and every loader refuses it), the data files are renamed into place, and
    the new manifest.json is renamed in last. A kill at any point therefore leaves either the old
    complete run, a folder without a manifest, or the new complete run; and since loaders check every
    file's sha256 against the manifest, a folder never loads as a mix of two runs. Stale
    `.partial-<pid>` folders of processes that no longer run are deleted first.
    """
    sf, seed = parse_sf(sf), parse_seed(seed)
    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise WorkbookError(f"{out}: the target folder is not writable ({exc.strerror})") from None
    _remove_stale_partials(out)
    sizes = Sizes.at(sf, p)
    work = out / f"{_PARTIAL}{os.getpid()}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    con = _connect(temp=work / "spill")
    timings: dict[str, float] = {}
    manifest = Manifest(seed, sf)
    changed = False  # whether the folder itself has been touched yet
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
        with open(work / "manifest.json", "w") as f:
            f.write(manifest.dumps())
            f.flush()
            os.fsync(f.fileno())
        # All files are complete. The folder stops being a complete run before any of its files
        # changes (no manifest: refused), and becomes one again only with the new manifest.
        changed = True
        try:
            os.unlink(out / "manifest.json")
        except FileNotFoundError:
            pass
        _fsync_dir(out)
        for table in TABLES:
            os.replace(work / f"{table}.parquet", out / f"{table}.parquet")
        os.replace(work / "manifest.json", out / "manifest.json")
        _fsync_dir(out)
    except OSError as exc:
        if changed:
            raise WorkbookError(
                f"{out}: writing the data failed ({exc.strerror or exc}); the folder has no manifest.json "
                "now and is refused until 'data generate' completes for it"
            ) from None
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


_MANIFEST_KEYS = ("seed", "sf", "generator", "duckdb", "rows", "sha256", "params")
_HEX = frozenset("0123456789abcdef")


def _fingerprint(path: Path) -> tuple[int, ...]:
    """Identity and last change of a file: any rename over it or write to it changes this."""
    st = os.stat(path)
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def _parse_manifest(path: Path) -> Manifest:
    """manifest.json as a Manifest, after checking its shape; one line naming the file otherwise."""
    folder = path.parent
    if not folder.is_dir():
        raise WorkbookError(f"{folder}: no such folder: run 'make data' (or 'workbook data generate') first")
    if not path.exists():
        raise WorkbookError(
            f"{path}: missing, so {folder} holds no complete generated data (a 'data generate' that was "
            "interrupted leaves it so): run 'make data' (or 'workbook data generate') for it"
        )
    try:
        raw = json.loads(path.read_bytes().decode("utf-8"))
    except OSError as exc:
        raise WorkbookError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise WorkbookError(f"{path}: not a JSON manifest (not UTF-8 at byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise WorkbookError(
            f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); regenerate the folder"
        ) from None
    if not isinstance(raw, dict):
        raise WorkbookError(f"{path}: not a manifest: a JSON object was expected, found {type(raw).__name__}")
    lacking = [k for k in _MANIFEST_KEYS if k not in raw]
    if lacking:
        raise WorkbookError(f"{path}: lacks the key(s) {', '.join(lacking)}; regenerate the folder")
    for key in ("rows", "sha256"):
        if not isinstance(raw[key], dict):
            raise WorkbookError(f"{path}: '{key}' must be an object of table names")
        listed = set(raw[key])
        if listed != set(TABLES):
            missing = [t for t in TABLES if t not in listed]
            extra = sorted(listed - set(TABLES))
            parts = ([f"lacks {', '.join(missing)}"] if missing else []) + (
                [f"has unknown {', '.join(extra)}"] if extra else []
            )
            raise WorkbookError(
                f"{path}: '{key}' must list exactly the tables {', '.join(TABLES)}: it {' and '.join(parts)}"
            )
    for table in TABLES:
        n, digest = raw["rows"][table], raw["sha256"][table]
        if not isinstance(n, int) or isinstance(n, bool) or n < 0:
            raise WorkbookError(f"{path}: rows.{table} must be a row count (an integer >= 0), found {n!r}")
        if not isinstance(digest, str) or len(digest) != 64 or not set(digest) <= _HEX:
            raise WorkbookError(f"{path}: sha256.{table} must be 64 lowercase hex digits, found {digest!r}")
    return Manifest(
        raw["seed"], raw["sf"], raw["generator"], raw["duckdb"], raw["rows"], raw["sha256"], raw["params"]
    )


def _verify(
    folder: Path, progress: Callable[[int], None] | None = None
) -> tuple[Manifest, dict[Path, tuple[int, ...]]]:
    """The manifest, after checking every file is present and has its recorded sha256.

    Returns the files' fingerprints as well, so a loader can check just before it commits that no
    file was replaced or written since it was checked.
    """
    folder = Path(folder)
    path = folder / "manifest.json"
    m = _parse_manifest(path)
    files = [folder / f"{t}.parquet" for t in LOAD_ORDER]
    for f in files:  # every file present before any is read
        if not f.is_file():
            raise WorkbookError(
                f"{f}: missing (manifest.json lists it); the folder is incomplete: regenerate it"
            )
    try:
        seen = {path: _fingerprint(path)}
        for table, f in zip(LOAD_ORDER, files, strict=True):
            seen[f] = _fingerprint(f)
            h = hashlib.sha256()
            with open(f, "rb") as fh:
                for chunk in iter(lambda fh=fh: fh.read(1 << 20), b""):
                    h.update(chunk)
                    if progress:
                        progress(len(chunk))
            if h.hexdigest() != m.sha256[table]:
                raise WorkbookError(
                    f"{f}: sha256 {h.hexdigest()[:16]}… is not the {m.sha256[table][:16]}… that manifest.json "
                    "records: the file is damaged or from another run; regenerate the folder"
                )
    except OSError as exc:
        raise WorkbookError(f"{exc.filename or folder}: cannot read: {exc.strerror or exc}") from None
    return m, seen


def _check_unchanged(seen: dict[Path, tuple[int, ...]]) -> None:
    """Refuse (inside the load transaction) when a checked file was replaced or written since."""
    for f, fp in seen.items():
        try:
            now = _fingerprint(f)
        except OSError:
            now = None
        if now != fp:
            raise WorkbookError(
                f"{f}: changed while it was being loaded (another 'data generate' into the folder?); "
                "nothing was loaded"
            )


def read_manifest(folder: Path, progress: Callable[[int], None] | None = None) -> Manifest:
    """The manifest of a generated folder, after checking every file's sha256 is as recorded.

    Refuses, in one line naming the file, a missing or malformed manifest.json, one that does not
    list exactly the tables in TABLES, and a missing or changed Parquet file. `progress` gets the
    number of bytes hashed, chunk by chunk.
    """
    return _verify(folder, progress)[0]


def _check_ready(db, where: str, migrations: Path | None) -> None:
    """Refuse a database that is not migrated to the end, or that already holds data."""
    from . import migrate

    todo = migrate.pending(db, migrate.discover(migrations or config.MIGRATIONS_DIR))
    if todo:
        names = todo[0].name if len(todo) == 1 else f"{todo[0].name} to {todo[-1].name}"
        target = f" --database {db.path}" if getattr(db, "path", ":memory:") != ":memory:" else ""
        engine = "" if db.name == "duckdb" else " --engine postgres"
        raise WorkbookError(
            f"{where} is not fully migrated: {len(todo)} migration(s) pending ({names}); "
            f"run 'workbook migrate{engine}{target}' first ('workbook data load' does it for you)"
        )
    counts = {}
    for t in LOAD_ORDER:
        try:
            counts[t] = db.scalar(f"SELECT count(*) FROM {t}")
        except Exception as exc:  # a table dropped by hand after migrating
            raise WorkbookError(
                f"{where}: table {t} cannot be read ({first_line(exc)}); migrate a fresh database"
            ) from None
    _check_empty(counts, where)


def _check_empty(counts: dict[str, int], where: str) -> None:
    full = {t: n for t, n in counts.items() if n}
    if full:
        listing = ", ".join(f"{t} ({n} rows)" for t, n in sorted(full.items()))
        raise WorkbookError(f"{where} already holds data: {listing}; load into an empty, migrated database")


def load_duckdb(
    db,
    folder: Path,
    progress: Callable[[str, int], None] | None = None,
    migrations: Path | None = None,
) -> dict[str, int]:
    """Insert every table's Parquet file into a migrated DuckDB database, all or nothing.

    Every file is checked against the manifest (presence and sha256) before anything is loaded; each
    table's row count is checked against the manifest inside the transaction, and no file may change
    until the commit. After the commit a CHECKPOINT writes the data into the database file.
    """
    folder = Path(folder)
    m, seen = _verify(folder)
    _check_ready(db, "the DuckDB database", migrations)
    step = "CHECKPOINT before loading"
    try:
        # Make the schema durable in the database file before the long transaction starts.
        db.execute("CHECKPOINT")
        with db.transaction():
            for table in LOAD_ORDER:
                path = folder / f"{table}.parquet"
                step = f"loading {table} from {path}"
                db.execute(f"INSERT INTO {table} BY NAME SELECT * FROM read_parquet('{path}')")
                n = db.scalar(f"SELECT count(*) FROM {table}")
                if n != m.rows[table]:
                    raise WorkbookError(
                        f"{path}: holds {n} rows, manifest.json says {m.rows[table]}; nothing was loaded"
                    )
                if progress:
                    progress(table, n)
            _check_unchanged(seen)
            step = "COMMIT"
    except duckdb.Error as exc:
        raise WorkbookError(f"{step} failed, nothing was loaded: {first_line(exc)}") from None
    try:  # the rows are committed (in the WAL); write them into the database file
        db.execute("CHECKPOINT")
    except duckdb.Error as exc:
        raise WorkbookError(
            f"CHECKPOINT after loading failed: {first_line(exc)}; the rows are committed and the next open "
            "replays them from the write-ahead log"
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
    migrations: Path | None = None,
) -> dict[str, int]:
    """COPY every table into a migrated PostgreSQL schema in one transaction.

    Keys, foreign keys and secondary indexes are dropped first and rebuilt after the data is in
    (a sorted build beats row-by-row maintenance, and re-adding each key and foreign key validates
    every row), user triggers are off during the load, COPY uses FREEZE, then ANALYZE runs. Rows
    stream from DuckDB, which encodes each row in PostgreSQL's binary COPY format (no text parsing
    on the server) batch by batch on a second thread; nothing holds a whole table.

    Every file is checked against the manifest (presence and sha256) before anything is loaded, and
    each table's row count is checked right after its COPY, inside the transaction, so a mismatch
    (or a file changed during the load) rolls everything back.
    """
    import psycopg

    folder = Path(folder)
    m, seen = _verify(folder)
    _check_ready(db, "the PostgreSQL schema", migrations)
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
            # A bulk load into an empty schema is the one write that bypasses the triggers (audit,
            # updated_at, usage_count): the rows arrive as they were generated, history included.
            for table in LOAD_ORDER:
                db.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
            db.execute(f"TRUNCATE {', '.join(LOAD_ORDER)}")  # empty already; lets COPY FREEZE skip hint bits
            clock = time.perf_counter()
            for table in LOAD_ORDER:
                path = folder / f"{table}.parquet"
                step = f"COPY {table} from {path}"
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
                unknown = [n for n in names if n not in types]
                if unknown:
                    raise WorkbookError(
                        f"{path}: column(s) {', '.join(unknown)} are not columns of table {table}; "
                        "nothing was loaded"
                    )
                reader = src.execute(binary_rows_sql(path, [(n, types[n]) for n in names])).to_arrow_reader(
                    batch_rows
                )
                cols = ", ".join(f'"{n}"' for n in names)
                cur = db.con.cursor()
                with cur.copy(f"COPY {table} ({cols}) FROM STDIN (FORMAT binary, FREEZE)") as copy:
                    copy.write(COPY_HEADER)
                    for rows, data in _tuple_chunks(reader):
                        copy.write(data)
                        if progress:
                            progress(table, rows)
                    copy.write(COPY_TRAILER)
                if cur.rowcount != m.rows[table]:
                    raise WorkbookError(
                        f"{path}: holds {cur.rowcount} rows, manifest.json says {m.rows[table]}; nothing was loaded"
                    )
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
            _check_unchanged(seen)
            step = "COMMIT"
    except (psycopg.Error, duckdb.Error) as exc:
        raise WorkbookError(f"{step} failed, nothing was loaded: {first_line(exc)}") from None
    finally:
        src.close()
    if timings is not None:
        timings["rebuild_keys_and_indexes"] = time.perf_counter() - clock
        clock = time.perf_counter()
    for table in LOAD_ORDER:
        db.execute(f"ANALYZE {table}")
    if timings is not None:
        timings["analyze"] = time.perf_counter() - clock
    return {t: db.scalar(f"SELECT count(*) FROM {t}") for t in LOAD_ORDER}


def default_folder(sf: float, seed: int) -> Path:
    """Where `make data` writes: data/synthetic/sf<SF>-seed<SEED>."""
    return config.DATA_DIR / "synthetic" / f"sf{sf:g}-seed{seed}"
