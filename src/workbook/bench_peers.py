"""`make bench-data`'s peers: the same users and projects tables from our generator, Faker and Mimesis.

A fair comparison writes the same thing on every side: the same two tables (users and projects), at
the same scale factor, with the same columns, Arrow types and nullability, the same row counts and
the same laws (role shares, sign-ups growing over time, a heavy-tailed number of projects per user,
Zipf template popularity, times inside their parents' lifetimes), and each side's output is checked
for the same violations. The peers are written as a competent user of each library would write them:
row by row with the library's own seeded providers and random generator, rows collected as dicts and
written with pyarrow; nothing is vectorised beyond what the library offers.

Both peers also draw the design's templates (a uuid and a creation time each, with authors skewed
like ours) so that `projects.template_id` references one of N template uuids as ours does, with the
same 10 % NULL; the templates themselves are not written on either side (ours draws them, and its
patterns, inside `Plan`, which is timed). `tpch_dbgen` times DuckDB's own set-based C++ generator as
an outside reference for what "fast" means; its tables are TPC-H's, not ours.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections import OrderedDict
from datetime import datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from .design.synthetic import DOMAINS, FEATURES, PARAMS, TECH, Plan, Sizes
from .synth.write import write_table

COMPARE_SF = 0.2  # 220,000 rows: Faker takes under ten seconds, ours enough rows to amortise its set-up
TPCH_SF = 1.0  # about 8.7 million rows over the eight TPC-H tables
FIXED_SF = 0.0001  # 10 users and 100 projects: what ours costs when there is almost nothing to write

T0 = datetime.fromisoformat(PARAMS.start)
T1 = datetime.fromisoformat(PARAMS.end)
SPAN = T1 - T0
ROLE_WEIGHTS = OrderedDict(
    [
        ("admin", PARAMS.admin_share),
        ("contributor", PARAMS.contributor_share),
        ("user", 1.0 - PARAMS.admin_share - PARAMS.contributor_share),
    ]
)
THEMES = ['{"theme": "light"}', '{"theme": "dark"}']

USERS_SCHEMA = pa.schema(
    [
        pa.field("id", pa.uuid(), nullable=False),
        pa.field("email", pa.string(), nullable=False),
        pa.field("name", pa.string(), nullable=False),
        pa.field("role", pa.string(), nullable=False),
        pa.field("active", pa.bool_(), nullable=False),
        pa.field("created_at", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("updated_at", pa.timestamp("us", tz="UTC"), nullable=False),
    ]
)
PROJECTS_SCHEMA = pa.schema(
    [
        pa.field("id", pa.uuid(), nullable=False),
        pa.field("name", pa.string(), nullable=False),
        pa.field("description", pa.string()),
        pa.field("owner_id", pa.uuid(), nullable=False),
        pa.field("template_id", pa.uuid()),
        pa.field("configuration", pa.json_(), nullable=False),
        pa.field("created_at", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("updated_at", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("deleted_at", pa.timestamp("us", tz="UTC")),
    ]
)


def _skewed_weights(words: list[str], exponent: float) -> OrderedDict[str, float]:
    """The weights of `power_index` (word k = floor(len * u^exponent)) for a library's weighted choice."""
    n = len(words)
    cdf = [((k + 1) / n) ** (1.0 / exponent) for k in range(n)]
    return OrderedDict(
        (w, c - (cdf[k - 1] if k else 0.0)) for k, (w, c) in enumerate(zip(words, cdf, strict=True))
    )


TECH_WEIGHTS = _skewed_weights(TECH, PARAMS.vocabulary_skew_exponent)
FEATURE_WEIGHTS = _skewed_weights(FEATURES, PARAMS.vocabulary_skew_exponent)


def _figures(rows: dict[str, int], seconds: float) -> dict:
    total = sum(rows.values())
    return {"rows": total, "tables": rows, "seconds": round(seconds, 4), "rows_per_s": round(total / seconds)}


def _write(out: Path, users: list[dict], projects: list[dict]) -> dict[str, int]:
    """Write the peers' rows to Parquet with pyarrow's defaults (Snappy, dictionaries where they pay)."""
    out.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(users, schema=USERS_SCHEMA), out / "users.parquet")
    pq.write_table(pa.Table.from_pylist(projects, schema=PROJECTS_SCHEMA), out / "projects.parquet")
    return {"users": len(users), "projects": len(projects)}


# -- ours ---------------------------------------------------------------------------------------


def ours_users_projects(sf: float, seed: int, out: Path) -> dict:
    """Our generator writing only users and projects at `sf` (the plan's drawing included in the time)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    plan = Plan(sf, seed)
    tables = {t.name: t for t in plan.tables(only=("users", "projects"))}
    rows = {name: write_table(tables[name], out / f"{name}.parquet")[0] for name in ("users", "projects")}
    return _figures(rows, time.perf_counter() - t0)


# -- Faker --------------------------------------------------------------------------------------


def faker_users_projects(sf: float, seed: int, out: Path) -> dict:
    """Faker, row by row with its seeded providers, writing the same two tables as ours."""
    from faker import Faker

    t0 = time.perf_counter()
    fake = Faker("en_US")
    fake.seed_instance(seed)
    rnd = fake.random  # the instance's seeded random.Random, for the laws no provider draws
    s = Sizes.at(sf)
    users: list[dict] = []
    for i in range(s.users):
        first, last = fake.first_name(), fake.last_name()
        shout = fake.boolean(10)
        created = T0 + SPAN * 0.9 * rnd.random() ** (1.0 / (1.0 + PARAMS.signup_growth))
        users.append(
            {
                "id": fake.uuid4(cast_to=None),
                "email": f"{first.upper() if shout else first.lower()}.{last.lower()}{i}@"
                f"{fake.random_element(DOMAINS)}",
                "name": f"{first} {last}",
                "role": fake.random_element(ROLE_WEIGHTS),
                "active": fake.boolean(round(100 * (1 - PARAMS.inactive_account_share))),
                "created_at": created,
                "updated_at": created + (T1 - created) * rnd.random() ** PARAMS.user_activity_exponent,
            }
        )
    templates = []
    for _ in range(s.templates):
        author = users[min(int(s.users * rnd.random() ** PARAMS.author_skew_exponent), s.users - 1)]
        since = author["created_at"]
        templates.append((fake.uuid4(cast_to=None), since + (T1 - since) * 0.8 * rnd.random()))
    projects: list[dict] = []
    for i in range(s.projects):
        owner = users[min(int(s.users * rnd.random() ** PARAMS.owner_skew_exponent), s.users - 1)]
        template = None
        if not fake.boolean(round(100 * PARAMS.project_without_template_share)):
            rank = int((s.templates + 1.0) ** rnd.random()) - 1  # Zipf, s = 1
            template = templates[min(max(rank, 0), s.templates - 1)]
        lo = max(owner["created_at"], template[1]) if template else owner["created_at"]
        created = lo + (T1 - lo) * rnd.random() ** PARAMS.activity_decay_exponent
        updated = created + (T1 - created) * rnd.random() ** 2
        described = fake.boolean(70)
        tech, feature = fake.random_element(TECH_WEIGHTS), fake.random_element(FEATURE_WEIGHTS)
        projects.append(
            {
                "id": fake.uuid4(cast_to=None),
                "name": f"project-{i}",
                "description": f"A {tech} project using {feature}" if described else None,
                "owner_id": owner["id"],
                "template_id": template[0] if template else None,
                "configuration": fake.random_element(THEMES) if fake.boolean(50) else "{}",
                "created_at": created,
                "updated_at": updated,
                "deleted_at": updated if fake.boolean(round(100 * PARAMS.project_deleted_share)) else None,
            }
        )
    rows = _write(Path(out), users, projects)
    return _figures(rows, time.perf_counter() - t0)


# -- Mimesis ------------------------------------------------------------------------------------


def mimesis_users_projects(sf: float, seed: int, out: Path) -> dict:
    """Mimesis, row by row with its seeded providers, writing the same two tables as ours.

    Each provider gets its own seed: providers built with one seed replay one sequence, which would
    tie the uuid bits to the name drawn in the same row.
    """
    from mimesis import Cryptographic, Locale, Person
    from mimesis.random import Random

    t0 = time.perf_counter()
    person = Person(Locale.EN, seed=seed)
    crypto = Cryptographic(seed=seed + 1)
    rnd = Random(seed + 2)  # mimesis's random.Random, with weighted_choice
    s = Sizes.at(sf)
    users: list[dict] = []
    for i in range(s.users):
        first, last = person.first_name(), person.last_name()
        shout = rnd.random() < 0.1
        created = T0 + SPAN * 0.9 * rnd.random() ** (1.0 / (1.0 + PARAMS.signup_growth))
        users.append(
            {
                "id": crypto.uuid_object(),
                "email": f"{first.upper() if shout else first.lower()}.{last.lower()}{i}@"
                f"{rnd.choice(DOMAINS)}",
                "name": f"{first} {last}",
                "role": rnd.weighted_choice(ROLE_WEIGHTS),
                "active": rnd.random() >= PARAMS.inactive_account_share,
                "created_at": created,
                "updated_at": created + (T1 - created) * rnd.random() ** PARAMS.user_activity_exponent,
            }
        )
    templates = []
    for _ in range(s.templates):
        author = users[min(int(s.users * rnd.random() ** PARAMS.author_skew_exponent), s.users - 1)]
        since = author["created_at"]
        templates.append((crypto.uuid_object(), since + (T1 - since) * 0.8 * rnd.random()))
    projects: list[dict] = []
    for i in range(s.projects):
        owner = users[min(int(s.users * rnd.random() ** PARAMS.owner_skew_exponent), s.users - 1)]
        template = None
        if rnd.random() >= PARAMS.project_without_template_share:
            rank = int((s.templates + 1.0) ** rnd.random()) - 1  # Zipf, s = 1
            template = templates[min(max(rank, 0), s.templates - 1)]
        lo = max(owner["created_at"], template[1]) if template else owner["created_at"]
        created = lo + (T1 - lo) * rnd.random() ** PARAMS.activity_decay_exponent
        updated = created + (T1 - created) * rnd.random() ** 2
        described = rnd.random() >= 0.3
        tech, feature = rnd.weighted_choice(TECH_WEIGHTS), rnd.weighted_choice(FEATURE_WEIGHTS)
        projects.append(
            {
                "id": crypto.uuid_object(),
                "name": f"project-{i}",
                "description": f"A {tech} project using {feature}" if described else None,
                "owner_id": owner["id"],
                "template_id": template[0] if template else None,
                "configuration": rnd.choice(THEMES) if rnd.random() >= 0.5 else "{}",
                "created_at": created,
                "updated_at": updated,
                "deleted_at": updated if rnd.random() < PARAMS.project_deleted_share else None,
            }
        )
    rows = _write(Path(out), users, projects)
    return _figures(rows, time.perf_counter() - t0)


# -- validity -----------------------------------------------------------------------------------

CHECKS = {
    "duplicate_user_id": "SELECT count(*) - count(DISTINCT id) FROM u",
    "duplicate_lower_email": "SELECT count(*) - count(DISTINCT lower(email)) FROM u",
    "bad_role": "SELECT count(*) FROM u WHERE role NOT IN ('admin', 'contributor', 'user')",
    "user_updated_before_created": "SELECT count(*) FROM u WHERE updated_at < created_at",
    "duplicate_project_id": "SELECT count(*) - count(DISTINCT id) FROM p",
    "duplicate_name_per_owner": "SELECT count(*) - count(DISTINCT (owner_id, name)) FROM p",
    "missing_owner": "SELECT count(*) FROM p ANTI JOIN u ON p.owner_id = u.id",
    "project_before_owner": "SELECT count(*) FROM p JOIN u ON p.owner_id = u.id "
    "WHERE p.created_at < u.created_at",
    "project_updated_before_created": "SELECT count(*) FROM p WHERE updated_at < created_at",
    "project_deleted_before_updated": "SELECT count(*) FROM p WHERE deleted_at < updated_at",
    "null_required": "SELECT count(*) FROM p WHERE id IS NULL OR name IS NULL OR owner_id IS NULL "
    "OR configuration IS NULL OR created_at IS NULL OR updated_at IS NULL",
}


def check_users_projects(folder: Path) -> dict:
    """Violation counts (all zero when valid) of users.parquet and projects.parquet in `folder`."""
    folder = Path(folder)
    with duckdb.connect() as con:
        con.execute(f"CREATE VIEW u AS SELECT * FROM read_parquet('{folder / 'users.parquet'}')")
        con.execute(f"CREATE VIEW p AS SELECT * FROM read_parquet('{folder / 'projects.parquet'}')")
        counts = {name: con.execute(sql).fetchone()[0] for name, sql in CHECKS.items()}
        null_share = con.execute("SELECT avg((description IS NULL)::int) FROM p").fetchone()[0]
    return {**counts, "description_null_share": round(null_share or 0.0, 3)}


def violations(check: dict) -> int:
    """The total of a `check_users_projects` result's violation counts (its shares left out)."""
    return sum(v for k, v in check.items() if k in CHECKS)


# -- reference and comparison -------------------------------------------------------------------


def tpch_dbgen(sf: float = TPCH_SF) -> dict:
    """DuckDB's own TPC-H generator (`CALL dbgen`) in memory, the extension loaded offline: rows and rate."""
    from . import duckext

    # Nothing may be fetched: no automatic install or load, and no outside access once tpch is loaded.
    config = {"autoinstall_known_extensions": False, "autoload_known_extensions": False}
    with duckdb.connect(config=config) as con:
        duckext.load(con, "tpch")
        con.execute("SET enable_external_access = false")
        con.execute("SET enable_progress_bar = false")  # it would print into the benchmark's JSON on stdout
        threads = con.execute("SELECT current_setting('threads')").fetchone()[0]
        t0 = time.perf_counter()
        con.execute(f"CALL dbgen(sf={float(sf)})")
        seconds = time.perf_counter() - t0
        names = [r[0] for r in con.execute("SELECT table_name FROM duckdb_tables() ORDER BY 1").fetchall()]
        tables = {n: con.execute(f'SELECT count(*) FROM "{n}"').fetchone()[0] for n in names}
    rows = sum(tables.values())
    return {
        "sf": sf,
        "rows": rows,
        "tables": tables,
        "seconds": round(seconds, 3),
        "rows_per_s": round(rows / seconds),
        "threads": threads,
    }


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def compare(sf: float = COMPARE_SF, seed: int = 42, out: Path | None = None, repeats: int = 3) -> dict:
    """Ours (median of `repeats` after a warm-up), Faker and Mimesis (one run each) at one SF, checked."""
    import tempfile

    if out is None:
        with tempfile.TemporaryDirectory(prefix="workbook-peers-") as tmp:
            return compare(sf, seed, Path(tmp), repeats)
    out = Path(out)
    _progress(f"peers: ours, users and projects at SF {sf} ({repeats} runs)...")
    cold = ours_users_projects(sf, seed, out / "ours")["seconds"]  # first use in the process: not timed
    runs = [ours_users_projects(sf, seed, out / "ours") for _ in range(repeats)]
    ours = dict(sorted(runs, key=lambda r: r["seconds"])[len(runs) // 2])  # the median run
    ours["runs_s"] = [r["seconds"] for r in runs]
    ours["cold_s"] = cold
    fixed = [ours_users_projects(FIXED_SF, seed, out / "ours-fixed")["seconds"] for _ in range(repeats)]
    ours["fixed_s"] = round(statistics.median(fixed), 4)  # the same work at SF FIXED_SF: set-up, not rows
    ours["fixed_share"] = round(ours["fixed_s"] / ours["seconds"], 3)
    _progress(f"peers: Faker at SF {sf}...")
    faker = faker_users_projects(sf, seed, out / "faker")
    _progress(f"peers: Mimesis at SF {sf}...")
    mimesis = mimesis_users_projects(sf, seed, out / "mimesis")
    _progress("peers: checking all three outputs...")
    checks = {name: check_users_projects(out / name) for name in ("ours", "faker", "mimesis")}
    return {
        "sf": sf,
        "seed": seed,
        "tables": ["users", "projects"],
        "ours": ours,
        "faker": faker,
        "mimesis": mimesis,
        "ratio_vs_faker": round(ours["rows_per_s"] / faker["rows_per_s"], 1),
        "ratio_vs_mimesis": round(ours["rows_per_s"] / mimesis["rows_per_s"], 1),
        "checks": checks,
        "valid": all(violations(c) == 0 for c in checks.values()),
        "same_rows": ours["tables"] == faker["tables"] == mimesis["tables"],
        "peer_template_id": "one of N generated template uuids (Zipf s = 1), 10 % NULL, as ours",
    }
