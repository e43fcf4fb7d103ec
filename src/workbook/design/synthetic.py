"""The design's synthetic data: sizes, vocabularies, the law of every column and how tables depend.

This module declares what the data of *this* design looks like; `workbook.synth` runs it (draws the
random streams, writes Parquet, loads the engines) and names none of these tables. Every random
value comes from its own stream, `streams.unit(table, column, rows)`, so draws that are meant to be
independent are independent by construction; the dependencies that are meant (a child is created
inside its parents' lifetimes, a description repeats its template's technology, usage counts count
applications) are written out below, each once.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field

import numpy as np

from ..synth.columns import Column, Table
from ..synth.shape import Holds, Independent, Within
from ..synth.streams import Streams, power, power_index, zipf_rank


@dataclass(frozen=True)
class Params:
    """Sizes per unit of scale factor and the parameters of every distribution (shown in notebook 07)."""

    users: int = 100_000
    templates: int = 10_000
    patterns: int = 50_000
    projects: int = 1_000_000
    applications: int = 3_000_000
    start: str = "2019-01-01 00:00:00+00"  # the data's time window (fixed: no "now")
    end: str = "2025-12-31 00:00:00+00"
    signup_growth: float = 1.0  # sign-ups per unit of time grow as t^growth: spread over the whole window
    admin_share: float = 0.02
    contributor_share: float = 0.08
    inactive_account_share: float = 0.08  # independent of sign-up time and of everything else
    user_activity_exponent: float = 3.0  # last change = created + (end - created) * u^3: most users idle
    activity_decay_exponent: float = 2.0  # a child comes soon after its parents: offset = window * u^2
    author_skew_exponent: float = 2.0  # template authors: user = N * u^2, a few prolific authors
    owner_skew_exponent: float = 3.0  # projects per user heavy-tailed: owner = N * u^3
    template_zipf_s: float = 1.0  # template popularity: P(rank r) ~ r^-s over all templates
    pattern_skew_exponent: float = 2.0  # within a template, pattern k = n * u^2: the first is most applied
    project_without_template_share: float = 0.10
    published_share: float = 0.80  # the same in every category ...
    published_share_by_category: dict[str, float] = field(default_factory=dict)  # ... unless stated here
    template_deleted_share: float = 0.03
    pattern_deleted_share: float = 0.02  # besides the patterns of deleted templates, deleted with them
    project_deleted_share: float = 0.02
    applied_by_share: float = 0.95  # the rest were applied by a user since deleted (applied_by NULL)
    max_versions: int = 4  # versions per template: 1 .. max, uniform
    vocabulary_skew_exponent: float = 2.0  # word = vocabulary[len * u^2]: early words common, late rare


PARAMS = Params()

FIRST = (
    "ada alan grace linus margaret dennis barbara ken frances edsger radia tim hedy john katherine guido "
    "sophie yukihiro anders bjarne"
).split()
LAST = (
    "lovelace turing hopper torvalds hamilton ritchie liskov thompson allen dijkstra perlman berners lamarr "
    "backus johnson rossum wilson matsumoto hejlsberg stroustrup"
).split()
DOMAINS = ["example.com", "example.org", "mail.example.net", "corp.example.com"]
TECH = (
    "react python node go rust java vue django rails spring flask svelte kotlin swift elixir haskell "
    "terraform kubernetes deno zig"
).split()
KINDS = "app api service library cli worker site plugin".split()
ADJECTIVES = (
    "minimal production modern secure typed serverless tested documented accessible reactive offline "
    "distributed embedded quantum homomorphic"
).split()
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
CATEGORIES = (
    "framework language backend frontend devops data mobile testing security infrastructure documentation "
    "machine-learning"
).split()
ROLES = ["admin", "contributor", "user"]
SCHEMA = '{"variables": [{"name": "project_name", "type": "string"}], "files": ["README.md"]}'

# The tables in load order (parents first); the Parquet files and the manifest list exactly these.
TABLES = (
    "users",
    "templates",
    "template_versions",
    "patterns",
    "projects",
    "pattern_applications",
    "audit_log",
)


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


def _epoch_us(text: str) -> int:
    from datetime import datetime

    return int(datetime.fromisoformat(text).timestamp()) * 1_000_000


def _between(lo: np.ndarray, hi: np.ndarray, u: np.ndarray) -> np.ndarray:
    """lo + (hi - lo) * u in whole microseconds (never above hi - 1 when hi > lo)."""
    return lo + ((hi - lo) * u).astype(np.int64)


class Plan:
    """The entity attributes that other tables need, drawn once, and every table's columns."""

    def __init__(self, sf: float, seed: int, p: Params = PARAMS) -> None:
        self.p, self.s = p, Sizes.at(sf, p)
        self.r = Streams(seed)
        self.t0, self.t1 = _epoch_us(p.start), _epoch_us(p.end)
        self._users()
        self._templates()
        self._patterns()
        self._projects()  # pattern applications are drawn by tables(), after the tables that need none

    # -- entities -------------------------------------------------------------------------------

    def _users(self) -> None:
        p, s, r = self.p, self.s, self.r
        i = np.arange(s.users)
        span = self.t1 - self.t0
        # Sign-up density grows as t^growth over 90 % of the window (the last sign-ups still get time).
        self.user_created = self.t0 + (
            power(r.unit("users", "created_at", i), 1.0 / (1.0 + p.signup_growth)) * span * 0.9
        ).astype(np.int64)

    def _templates(self) -> None:
        p, s, r = self.p, self.s, self.r
        i = np.arange(s.templates)
        self.author = power_index(r.unit("templates", "author_id", i), s.users, p.author_skew_exponent)
        a_created = self.user_created[self.author]
        self.template_created = _between(
            a_created, a_created + (self.t1 - a_created) * 4 // 5, r.unit("templates", "created_at", i)
        )
        self.versions = 1 + r.below("templates", "versions", i, p.max_versions)
        self.major = 1 + r.below("templates", "major", i, 3)
        last = self.version_created(i, self.versions - 1)
        deleted = r.unit("templates", "deleted", i) < p.template_deleted_share
        self.template_deleted = np.where(
            deleted, _between(last, np.full_like(last, self.t1), r.unit("templates", "deleted_at", i)), -1
        )
        self.template_until = np.where(
            deleted, self.template_deleted, self.t1
        )  # the template's lifetime ends

    def version_created(self, i: np.ndarray, j: np.ndarray) -> np.ndarray:
        """Version j of template i: spread over the first half of the template's remaining window."""
        tc = self.template_created[i]
        return tc + ((self.t1 - tc) // 2 * j // self.versions[i])

    def _patterns(self) -> None:
        p, s, r = self.p, self.s, self.r
        q = np.arange(s.patterns)
        self.pattern_template = q % s.templates
        t = self.pattern_template
        tc, until = self.template_created[t], self.template_until[t]
        self.pattern_created = _between(tc, tc + (until - tc) // 2, r.unit("patterns", "created_at", q))
        own = r.unit("patterns", "deleted", q) < p.pattern_deleted_share
        own_at = _between(
            self.pattern_created,
            np.full_like(self.pattern_created, self.t1),
            r.unit("patterns", "deleted_at", q),
        )
        with_template = self.template_deleted[t] >= 0
        self.pattern_deleted = np.where(with_template, self.template_deleted[t], np.where(own, own_at, -1))
        self.pattern_until = np.where(self.pattern_deleted >= 0, self.pattern_deleted, self.t1)
        self.patterns_of = np.bincount(t, minlength=s.templates)  # template t has patterns t, t + T, ...

    def _projects(self) -> None:
        p, s, r = self.p, self.s, self.r
        i = np.arange(s.projects)
        self.owner = power_index(r.unit("projects", "owner_id", i), s.users, p.owner_skew_exponent)
        rank = zipf_rank(r.unit("projects", "template_id", i), s.templates, p.template_zipf_s)
        none = r.unit("projects", "no_template", i) < p.project_without_template_share
        owner_since = self.user_created[self.owner]
        # A template deleted before the owner signed up cannot be the one they chose: no template.
        none |= self.template_until[rank] <= np.maximum(owner_since, self.template_created[rank])
        self.project_template = np.where(none, -1, rank)
        t = np.maximum(self.project_template, 0)
        lo = np.maximum(owner_since, np.where(none, 0, self.template_created[t]))
        hi = np.where(none, self.t1, self.template_until[t])
        self.project_created = _between(
            lo, hi, power(r.unit("projects", "created_at", i), p.activity_decay_exponent)
        )
        self.project_updated = _between(
            self.project_created, np.full_like(lo, self.t1), power(r.unit("projects", "updated_at", i), 2.0)
        )
        deleted = r.unit("projects", "deleted", i) < p.project_deleted_share
        self.project_deleted = np.where(deleted, self.project_updated, -1)  # soft delete is the last change
        self.project_until = np.where(deleted, self.project_updated, self.t1)
        live = (self.project_template >= 0) & ~deleted
        self.template_projects = np.bincount(
            self.project_template[live], minlength=s.templates
        )  # V0017's count

    def _applications(self) -> None:
        p, s = self.p, self.s
        # Candidates pick a project uniformly; those whose project has no template (or a template
        # without patterns) apply nothing, so the candidate count is scaled to give about s.applications.
        n = round(s.applications / (1 - p.project_without_template_share))
        step = 1 << 18  # in steps, so the temporaries stay small and are reused; two threads share them
        with ThreadPoolExecutor(2) as pool:
            parts = list(
                pool.map(self._application_step, [np.arange(a, min(a + step, n)) for a in range(0, n, step)])
            )
        at = np.concatenate([part[3] for part in parts])
        order = _by_time(at)  # kept in the order they are written (by time): writing reads them front to back
        self.app_at = at[order]
        del at
        for name, k in (("app", 0), ("app_project", 1), ("app_pattern", 2)):
            setattr(self, name, np.concatenate([part[k] for part in parts])[order])
        del parts
        self.app_owner = self.owner[self.app_project]
        self.usage = np.bincount(self.app_pattern, minlength=s.patterns)
        last = self.pattern_created.copy()
        np.maximum.at(last, self.app_pattern, self.app_at)  # the usage trigger touches updated_at
        self.pattern_updated = np.where(
            self.pattern_deleted >= 0, np.maximum(self.pattern_deleted, last), last
        )

    def _application_step(self, c: np.ndarray) -> tuple[np.ndarray, ...]:
        """Candidates `c`: the ones that apply a pattern, with their project, pattern and time."""
        p, s, r = self.p, self.s, self.r
        project = r.below("pattern_applications", "project_id", c, s.projects)
        t = self.project_template[project]
        k = self.patterns_of[np.maximum(t, 0)]
        keep = (t >= 0) & (k > 0)
        c, project, t, k = c[keep], project[keep], t[keep], k[keep]
        pick = power(r.unit("pattern_applications", "pattern_id", c), p.pattern_skew_exponent)
        pick *= k
        pattern = t + np.minimum(pick.astype(np.int64), k - 1) * s.templates
        lo = np.maximum(self.project_created[project], self.pattern_created[pattern])
        hi = np.minimum(self.project_until[project], self.pattern_until[pattern])
        live = hi > lo  # a pattern deleted before the project was made cannot have been applied to it
        c, lo, hi = c[live], lo[live], hi[live]
        return (
            c,
            project[live],
            pattern[live],
            _between(lo, hi, r.unit("pattern_applications", "applied_at", c)),
        )

    # -- tables ---------------------------------------------------------------------------------

    def tables(self, only: Iterable[str] | None = None) -> Iterator[Table]:
        """The design's tables (or `only` those), each as soon as what it needs is drawn.

        Pattern applications are drawn while the first table is written, and only when a table that
        needs them (pattern_applications, patterns) is asked for.
        """
        wanted = set(TABLES if only is None else only)
        p, s, r = self.p, self.s, self.r
        e = p.vocabulary_skew_exponent

        def uid(table):
            return lambda rows: r.uuid4(table, "id", rows)

        def word(words, table, column, exponent=1.0):
            def values(rows):
                return words, power_index(r.unit(table, column, rows), len(words), exponent)

            return values

        users = {
            "id": Column("uuid", uid("users")),
            "email": Column("text", self._email),
            "name": Column("text", self._name),
            "role": Column("text", self._role),
            "active": Column(
                "boolean", lambda rows: r.unit("users", "active", rows) >= p.inactive_account_share
            ),
            "created_at": Column("timestamptz", lambda rows: self.user_created[rows]),
            "updated_at": Column("timestamptz", self._user_updated),
        }
        templates = {
            "id": Column("uuid", uid("templates")),
            "name": Column("text", self._template_name),
            "description": Column("text", self._template_description),
            "category": Column("text", self._category),
            "version": Column("text", lambda rows: ("{}.{}.0", self.major[rows], self.versions[rows] - 1)),
            "author_id": Column("uuid", lambda rows: r.uuid4("users", "id", self.author[rows])),
            "schema": Column("json", lambda rows: SCHEMA),
            "published": Column("boolean", self._published),
            "project_count": Column("integer", lambda rows: self.template_projects[rows]),
            "created_at": Column("timestamptz", lambda rows: self.template_created[rows]),
            "updated_at": Column(
                "timestamptz",
                lambda rows: np.maximum(
                    self.version_created(rows, self.versions[rows] - 1), self.template_deleted[rows]
                ),
            ),
            "deleted_at": Column("timestamptz", lambda rows: self.template_deleted[rows], nullable=True),
        }
        # Template versions: row v = template * max_versions + j, for j < versions(template).
        vt = np.repeat(np.arange(s.templates), self.versions)
        vj = np.arange(len(vt)) - np.repeat(np.cumsum(self.versions) - self.versions, self.versions)
        self.vrow = vt * p.max_versions + vj
        versions = {
            "id": Column("uuid", lambda rows: r.uuid4("template_versions", "id", self.vrow[rows])),
            "template_id": Column("uuid", lambda rows: r.uuid4("templates", "id", vt[rows])),
            "version": Column("text", lambda rows: ("{}.{}.0", self.major[vt[rows]], vj[rows])),
            "content": Column(
                "json", lambda rows: ('{{"version": {}, "files": {}}}', vj[rows], vj[rows] + 1)
            ),
            "changelog": Column("text", lambda rows: self._changelog(rows, vt, vj)),
            "created_at": Column("timestamptz", lambda rows: self.version_created(vt[rows], vj[rows])),
            "created_by": Column("uuid", lambda rows: r.uuid4("users", "id", self.author[vt[rows]])),
        }
        patterns = {
            "id": Column("uuid", uid("patterns")),
            "name": Column("text", lambda rows: ("{}-{}", word(FEATURES, "patterns", "name", e)(rows), rows)),
            "description": Column(
                "text",
                lambda rows: (
                    "Adds {} to a {} project",
                    word(FEATURES, "patterns", "name", e)(rows),
                    word(TECH, "patterns", "tech", e)(rows),
                ),
            ),
            "template_id": Column(
                "uuid", lambda rows: r.uuid4("templates", "id", self.pattern_template[rows])
            ),
            "configuration": Column(
                "json",
                lambda rows: (
                    ["{}", '{"strict": true}', '{"strict": false}'],
                    np.where(
                        r.unit("patterns", "configured", rows) < 0.5,
                        0,
                        1 + (r.unit("patterns", "strict", rows) >= 0.5),
                    ),
                ),
            ),
            "usage_count": Column("integer", lambda rows: self.usage[rows]),
            "created_at": Column("timestamptz", lambda rows: self.pattern_created[rows]),
            "updated_at": Column("timestamptz", lambda rows: self.pattern_updated[rows]),
            "deleted_at": Column("timestamptz", lambda rows: self.pattern_deleted[rows], nullable=True),
        }
        projects = {
            "id": Column("uuid", uid("projects")),
            "name": Column("text", lambda rows: ("project-{}", rows)),
            "description": Column("text", self._project_description, nullable=True),
            "owner_id": Column("uuid", lambda rows: r.uuid4("users", "id", self.owner[rows])),
            "template_id": Column(
                "uuid",
                lambda rows: (
                    r.uuid4("templates", "id", np.maximum(self.project_template[rows], 0)),
                    self.project_template[rows] < 0,
                ),
                nullable=True,
            ),
            "configuration": Column(
                "json",
                lambda rows: (
                    ["{}", '{"theme": "light"}', '{"theme": "dark"}'],
                    np.where(
                        r.unit("projects", "configured", rows) < 0.5,
                        0,
                        1 + (r.unit("projects", "theme", rows) >= 0.5),
                    ),
                ),
            ),
            "created_at": Column("timestamptz", lambda rows: self.project_created[rows]),
            "updated_at": Column("timestamptz", lambda rows: self.project_updated[rows]),
            "deleted_at": Column("timestamptz", lambda rows: self.project_deleted[rows], nullable=True),
        }
        apps = {
            "id": Column("uuid", lambda rows: r.uuid4("pattern_applications", "id", self.app[rows])),
            "project_id": Column("uuid", lambda rows: r.uuid4("projects", "id", self.app_project[rows])),
            "pattern_id": Column("uuid", lambda rows: r.uuid4("patterns", "id", self.app_pattern[rows])),
            "applied_by": Column(
                "uuid",
                lambda rows: (
                    r.uuid4("users", "id", self.app_owner[rows]),
                    r.unit("pattern_applications", "applied_by", self.app[rows]) >= p.applied_by_share,
                ),
                nullable=True,
            ),
            "configuration": Column("json", lambda rows: "{}"),
            "applied_at": Column("timestamptz", lambda rows: self.app_at[rows]),
        }
        audit = {
            "id": Column("uuid", uid("audit_log")),
            "table_name": Column("text", lambda rows: "templates"),
            "record_id": Column("uuid", lambda rows: r.uuid4("templates", "id", rows)),
            "operation": Column("text", lambda rows: "INSERT"),
            "old_values": Column("json", lambda rows: None, nullable=True),
            "new_values": Column("json", lambda rows: ('{{"name": "{}"}}', self._template_name(rows))),
            "changed_by": Column("uuid", lambda rows: r.uuid4("users", "id", self.author[rows])),
            "changed_at": Column("timestamptz", lambda rows: self.template_created[rows]),
        }
        if "projects" in wanted:
            yield Table("projects", _by_time(self.project_created), projects)
        if wanted & {"pattern_applications", "patterns"}:
            self._applications()  # while projects are being written
        if "pattern_applications" in wanted:
            yield Table("pattern_applications", np.arange(len(self.app)), apps)  # already in time order
        if "users" in wanted:
            yield Table("users", _by_time(self.user_created), users)
        if "templates" in wanted:
            yield Table("templates", _by_time(self.template_created), templates)
        if "template_versions" in wanted:
            yield Table("template_versions", _by_time(self.version_created(vt, vj)), versions)
        if "audit_log" in wanted:
            yield Table("audit_log", _by_time(self.template_created), audit)
        if "patterns" in wanted:
            yield Table("patterns", _by_time(self.pattern_created), patterns)

    # -- text columns ---------------------------------------------------------------------------

    def _first(self, rows):
        return power_index(self.r.unit("users", "first_name", rows), len(FIRST), 1.0)

    def _last(self, rows):
        return power_index(self.r.unit("users", "last_name", rows), len(LAST), 1.0)

    def _email(self, rows):
        shout = self.r.unit("users", "email_case", rows) < 0.1  # 10 % type their name in capitals
        first = (FIRST + [w.upper() for w in FIRST], self._first(rows) + shout * len(FIRST))
        domain = (DOMAINS, self.r.below("users", "domain", rows, len(DOMAINS)))
        return "{}.{}{}@{}", first, (LAST, self._last(rows)), rows, domain

    def _name(self, rows):
        return (
            "{} {}",
            ([w.title() for w in FIRST], self._first(rows)),
            ([w.title() for w in LAST], self._last(rows)),
        )

    def _role(self, rows):
        u = self.r.unit("users", "role", rows)
        p = self.p
        return ROLES, np.where(u < p.admin_share, 0, np.where(u < p.admin_share + p.contributor_share, 1, 2))

    def _user_updated(self, rows):
        c = self.user_created[rows]
        u = power(self.r.unit("users", "updated_at", rows), self.p.user_activity_exponent)
        return _between(c, np.full_like(c, self.t1), u)

    def _tech(self, rows):
        return TECH, power_index(
            self.r.unit("templates", "tech", rows), len(TECH), self.p.vocabulary_skew_exponent
        )

    def _kind(self, rows):
        return KINDS, self.r.below("templates", "kind", rows, len(KINDS))

    def _template_name(self, rows):
        return "{}-{}-{}", self._tech(rows), self._kind(rows), rows

    def _template_description(self, rows):
        e = self.p.vocabulary_skew_exponent
        r = self.r
        return (
            "A {} {} {} starter with {} and {}",
            (ADJECTIVES, power_index(r.unit("templates", "adjective", rows), len(ADJECTIVES), e)),
            self._tech(rows),  # the description names the template's own technology
            self._kind(rows),
            (FEATURES, power_index(r.unit("templates", "feature1", rows), len(FEATURES), e)),
            (FEATURES, power_index(r.unit("templates", "feature2", rows), len(FEATURES), e)),
        )

    def _category_index(self, rows):
        return power_index(
            self.r.unit("templates", "category", rows), len(CATEGORIES), self.p.vocabulary_skew_exponent
        )

    def _category(self, rows):
        return CATEGORIES, self._category_index(rows)

    def _published(self, rows):
        share = np.array(
            [self.p.published_share_by_category.get(c, self.p.published_share) for c in CATEGORIES]
        )
        return self.r.unit("templates", "published", rows) < share[self._category_index(rows)]

    def _changelog(self, rows, vt, vj):
        f = power_index(
            self.r.unit("template_versions", "changelog", self.vrow[rows]),
            len(FEATURES),
            self.p.vocabulary_skew_exponent,
        )
        words = ["Initial version"] + [f"Changes for {w}" for w in FEATURES]
        return words, np.where(vj[rows] == 0, 0, 1 + f)

    def _project_description(self, rows):
        r, e = self.r, self.p.vocabulary_skew_exponent
        text = (
            "A {} project using {}",
            (TECH, power_index(r.unit("projects", "tech", rows), len(TECH), e)),
            (FEATURES, power_index(r.unit("projects", "feature", rows), len(FEATURES), e)),
        )
        return text, r.unit("projects", "described", rows) >= 0.7  # 30 % have no description


def _by_time(created: np.ndarray) -> np.ndarray:
    """Row order in the file: creation time, ties by index, so the same on every CPU.

    The fast (unstable) sort may order equal times differently on different machines; equal times
    are rare at microsecond resolution, and each run of them is put back in index order.
    """
    order = np.argsort(created)
    ranked = created[order]
    ties = np.flatnonzero(ranked[1:] == ranked[:-1])
    if len(ties):
        starts = ties[np.r_[True, np.diff(ties) > 1]]
        for a in starts:
            b = a + 1
            while b < len(ranked) and ranked[b] == ranked[a]:
                b += 1
            order[a:b] = np.sort(order[a:b])
    return order


@dataclass(frozen=True)
class DataSpec:
    """What `workbook.synth` needs of a design: its tables in load order, parameters and plan."""

    tables: tuple[str, ...]
    params: Params
    checks: tuple = ()

    def plan(self, sf: float, seed: int) -> Iterator[Table]:
        """The design's tables for one run, each yielded as soon as it can be written."""
        return Plan(sf, seed, self.params).tables()

    def sizes(self, sf: float) -> Sizes:
        return Sizes.at(sf, self.params)

    def describe(self) -> dict:
        return asdict(self.params)


# The shape the data must have, checked on every build (notebook 07) and in tests -----------------

CHECKS = [
    Independent(
        "owner activity × template popularity",
        "Heavy owners use templates as everyone does (the popularity law), not one template each.",
        """WITH o AS (SELECT owner_id, ntile(4) OVER (ORDER BY count(*), owner_id) AS b FROM projects GROUP BY 1),
                t AS (SELECT template_id, ntile(4) OVER (ORDER BY count(*), template_id) AS b
                      FROM projects WHERE template_id IS NOT NULL GROUP BY 1)
           SELECT o.b, t.b, count(*) FROM projects p JOIN o USING (owner_id) JOIN t USING (template_id) GROUP BY ALL""",
    ),
    Independent(
        "template category × published",
        "The published share is the same in every category (unless published_share_by_category says otherwise).",
        "SELECT category, published, count(*) FROM templates GROUP BY ALL",
    ),
    Independent(
        "template name prefix × published",
        "Whether a template is published does not depend on its technology.",
        "SELECT split_part(name, '-', 1), published, count(*) FROM templates GROUP BY ALL",
    ),
    Independent(
        "user sign-up year × active",
        "Inactive accounts are spread over the whole window, not bunched in one period.",
        "SELECT year(created_at), active, count(*) FROM users GROUP BY ALL",
    ),
    Independent(
        "user role × active",
        "Role and account status are drawn independently.",
        "SELECT role, active, count(*) FROM users GROUP BY ALL",
    ),
    Independent(
        "application: pattern rank in its template × applied by a deleted user",
        "applied_by is NULL (a user since deleted) as often for every pattern.",
        """WITH q AS (SELECT id, row_number() OVER (PARTITION BY template_id ORDER BY usage_count DESC, id) AS k FROM patterns)
           SELECT least(q.k, 3), a.applied_by IS NULL, count(*) FROM pattern_applications a JOIN q ON q.id = a.pattern_id
           GROUP BY ALL""",
    ),
    Within(
        "template popularity: Zipf slope",
        "Projects per template fall as rank^-s (s = template_zipf_s): the log-log slope over the top tenth of ranks.",
        """WITH c AS (SELECT count(*) AS n FROM projects WHERE template_id IS NOT NULL GROUP BY template_id),
                r AS (SELECT ln(n) AS y, ln(row_number() OVER (ORDER BY n DESC)) AS x, count(*) OVER () AS k FROM c)
           SELECT regr_slope(y, x) FROM r WHERE exp(x) <= greatest(k / 10, 10)""",
        -1.25,
        -0.75,
    ),
    Within(
        "heaviest owner's templates vs independence",
        "The owner with most projects uses as many distinct templates as independent draws from the popularity law give.",
        """WITH m AS (SELECT template_id, count(*) / sum(count(*)) OVER () AS p FROM projects
                      WHERE template_id IS NOT NULL GROUP BY 1),
                h AS (SELECT owner_id, count(template_id) AS n, count(DISTINCT template_id) AS d
                      FROM projects GROUP BY 1 ORDER BY count(*) DESC, owner_id LIMIT 1)
           SELECT any_value(h.d) / sum(1 - pow(1 - m.p, h.n)) FROM m, h""",
        0.8,
        1.2,
    ),
    Within(
        "projects per user: heavy tail",
        "A few users own many projects (owner = N·u^3): the top 1 % of users own this share of all projects.",
        """WITH c AS (SELECT count(*) AS n FROM projects GROUP BY owner_id),
                r AS (SELECT n, row_number() OVER (ORDER BY n DESC) AS k FROM c)
           SELECT sum(n) FILTER (WHERE k <= (SELECT count(*) FROM users) / 100) / sum(n) FROM r""",
        0.15,
        0.6,
    ),
    Within(
        "user activity decays",
        "Most users made their last change long ago: the share idle in the window's last year.",
        "SELECT avg((updated_at < TIMESTAMPTZ '2024-12-31 00:00:00+00')::INT) FROM users",
        0.5,
        0.95,
    ),
    Holds(
        "projects after their owner and template",
        "A child is created inside its parents' lifetimes.",
        """SELECT count(*) FROM projects p JOIN users u ON u.id = p.owner_id
           LEFT JOIN templates t ON t.id = p.template_id
           WHERE p.created_at < u.created_at OR p.created_at < t.created_at OR p.created_at >= t.deleted_at""",
    ),
    Holds(
        "applications after their project and pattern, before either is deleted",
        "A pattern is applied to a live project while the pattern is live.",
        """SELECT count(*) FROM pattern_applications a JOIN projects p ON p.id = a.project_id
           JOIN patterns q ON q.id = a.pattern_id
           WHERE a.applied_at < p.created_at OR a.applied_at < q.created_at
              OR a.applied_at >= p.deleted_at OR a.applied_at >= q.deleted_at""",
    ),
    Holds(
        "templates after their author, patterns inside their template's life",
        "Authors exist before their templates; a deleted template's patterns are deleted with it.",
        """SELECT (SELECT count(*) FROM templates t JOIN users u ON u.id = t.author_id WHERE t.created_at < u.created_at)
                + (SELECT count(*) FROM patterns q JOIN templates t ON t.id = q.template_id
                   WHERE q.created_at < t.created_at OR q.created_at >= t.deleted_at
                      OR (t.deleted_at IS NOT NULL AND q.deleted_at IS DISTINCT FROM t.deleted_at))""",
    ),
    Holds(
        "versions increase in time and in semantic version",
        "Each template's versions, in creation order, have increasing versions; the last is the template's.",
        """WITH v AS (SELECT template_id, created_at, string_split(version, '.')::INT[] AS sv,
                             lag(string_split(version, '.')::INT[]) OVER w AS prev, lag(created_at) OVER w AS prev_at
                      FROM template_versions WINDOW w AS (PARTITION BY template_id ORDER BY created_at, version))
           SELECT (SELECT count(*) FROM v WHERE prev IS NOT NULL AND (sv <= prev OR created_at <= prev_at))
                + (SELECT count(*) FROM templates t WHERE t.version <> (SELECT max_by(version, created_at)
                   FROM template_versions v WHERE v.template_id = t.id))""",
    ),
    Holds(
        "usage_count counts applications",
        "patterns.usage_count equals the number of its pattern_applications rows.",
        """SELECT count(*) FROM patterns q LEFT JOIN (SELECT pattern_id, count(*) AS n FROM pattern_applications
           GROUP BY 1) a ON a.pattern_id = q.id WHERE q.usage_count <> coalesce(a.n, 0)""",
    ),
    Holds(
        "project_count counts live projects",
        "templates.project_count equals the number of its projects that are not deleted (V0017's trigger).",
        """SELECT count(*) FROM templates t LEFT JOIN (SELECT template_id, count(*) AS n FROM projects
           WHERE deleted_at IS NULL GROUP BY 1) p ON p.template_id = t.id WHERE t.project_count <> coalesce(p.n, 0)""",
    ),
    Holds(
        "e-mails unique regardless of case",
        "uq_users_email_lower holds.",
        "SELECT count(*) - count(DISTINCT lower(email)) FROM users",
    ),
]


SPEC = DataSpec(TABLES, PARAMS, tuple(CHECKS))
