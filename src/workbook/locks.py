"""Run a schema change on PostgreSQL and watch what it locks and whom it makes wait.

`run(form, engine, probes=...)` executes a form's steps on the engine's connection while

* a sampler connection polls `pg_locks` (joined to `pg_class` and `pg_stat_activity`) for the
  migrating backend and the probes every ~2 ms, recording per step, relation, lock mode and
  granted-or-waiting the first and last time it was seen;
* each probe connection (a write or a read the application makes, given as SQL plus the keys it
  picks from) runs its statement one row at a time in a loop, recording every latency, so the result
  says how long the longest one waited during each step.

A step is a `Statement` (one SQL statement, run inside a transaction or in autocommit, as it must be
for CREATE INDEX CONCURRENTLY) or a `Call` (a Python function for loops such as a batched backfill,
which runs its own transactions through the `StepContext`). A form either runs all its statements in
one transaction (as a migration file wrapped in BEGIN/COMMIT does) or each step on its own.

Two kinds of fact come out. Which lock modes a step holds on which relation is stable: inside a
transaction it is read exactly, from the migrating session's own `pg_locks` rows just before the
commit; for autocommit statements it is what the sampler saw. Durations (steps, lock holds, probe
latencies) are measurements of one run on one machine, for benchmark JSON only.

Nothing here names a table of the design: the forms, the probes and the target table are passed in.
"""

from __future__ import annotations

import bisect
import math
import random
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any

from .errors import WorkbookError, first_line

# PostgreSQL's table-level lock modes, weakest first, and which of them conflict (the table in the
# manual's "Explicit Locking" chapter, 13.3.1).
MODES = (
    "AccessShareLock",
    "RowShareLock",
    "RowExclusiveLock",
    "ShareUpdateExclusiveLock",
    "ShareLock",
    "ShareRowExclusiveLock",
    "ExclusiveLock",
    "AccessExclusiveLock",
)
_CONFLICTS: dict[str, frozenset[str]] = {
    "AccessShareLock": frozenset({"AccessExclusiveLock"}),
    "RowShareLock": frozenset({"ExclusiveLock", "AccessExclusiveLock"}),
    "RowExclusiveLock": frozenset(MODES[4:]),
    "ShareUpdateExclusiveLock": frozenset(MODES[3:]),
    "ShareLock": frozenset({"RowExclusiveLock", "ShareUpdateExclusiveLock", *MODES[5:]}),
    "ShareRowExclusiveLock": frozenset(MODES[2:]),
    "ExclusiveLock": frozenset(MODES[1:]),
    "AccessExclusiveLock": frozenset(MODES),
}
# What an UPDATE/INSERT/DELETE takes on its table, and what a SELECT takes.
WRITE_MODE = "RowExclusiveLock"
READ_MODE = "AccessShareLock"

LOCK_NOT_AVAILABLE = "55P03"  # lock_timeout expired
QUERY_CANCELED = "57014"  # pg_cancel_backend, statement_timeout

# A relation's name as people know it: a TOAST table or its index is named after the table it serves.
_NAME = """CASE WHEN c.relnamespace = 'pg_toast'::regnamespace THEN coalesce(
        (SELECT o.relname FROM pg_class o WHERE o.reltoastrelid = c.oid),
        (SELECT o.relname FROM pg_index i JOIN pg_class o ON o.reltoastrelid = i.indrelid
          WHERE i.indexrelid = c.oid)) || ' (toast)'
    ELSE c.relname::text END"""
# The migrating session's own relation locks, read inside its transaction just before it commits:
# exact, and it sees relations the transaction created. Catalog locks (its own reading of pg_locks
# and pg_class among them) are left out.
_OWN_LOCKS = f"""SELECT {_NAME} AS relation, l.mode
FROM pg_locks AS l JOIN pg_class AS c ON c.oid = l.relation
WHERE l.pid = pg_backend_pid() AND l.locktype = 'relation' AND l.granted
  AND c.relnamespace <> 'pg_catalog'::regnamespace"""
# The sampler: every watched backend's state and its locks. The migrating backend's relation locks
# (catalogs left out) and every lock any watched backend is waiting for. A relation created by a
# transaction that has not committed has no pg_class row the sampler can see yet: its oid is kept
# and named at the end.
_SAMPLE = f"""SELECT a.pid, a.wait_event_type, a.wait_event, x.locktype, x.relation, x.name, x.mode, x.granted
FROM pg_stat_activity AS a
LEFT JOIN (
    SELECT l.pid, l.locktype, l.relation::int8 AS relation, {_NAME} AS name, l.mode, l.granted
    FROM pg_locks AS l LEFT JOIN pg_class AS c ON c.oid = l.relation
    WHERE NOT l.granted
       OR (l.pid = %(migrating)s AND l.locktype = 'relation'
           AND c.relnamespace IS DISTINCT FROM 'pg_catalog'::regnamespace)
) AS x ON x.pid = a.pid
WHERE a.pid = ANY(%(pids)s)"""
_NAMES = f"SELECT c.oid::int8, {_NAME} FROM pg_class AS c WHERE c.oid = ANY(%s)"


def conflicts(held: str, wanted: str) -> bool:
    """True when a lock `held` by one transaction makes another that wants `wanted` wait."""
    try:
        return wanted in _CONFLICTS[held]
    except KeyError:
        raise WorkbookError(f"{held}: not a table lock mode (one of {', '.join(MODES)})") from None


def strongest(modes: Sequence[str]) -> str | None:
    """The strongest of some table lock modes (None for none)."""
    return max(modes, key=MODES.index) if modes else None


# ------------------------------------------------------------------------------------------ the steps


@dataclass(frozen=True)
class Statement:
    """One SQL statement: inside a transaction (exact locks) or in autocommit (sampled locks).

    `retries`: times to try again after lock_timeout expires, `backoff_s` apart (doubling), so a
    statement that cannot get its lock gives way to the application instead of queueing ahead of it.
    `may_fail`: a failure is recorded and the form goes on, because a later step repairs what it
    leaves (a CREATE INDEX CONCURRENTLY that fails leaves an INVALID index behind).
    `holds`: for an autocommit statement, whose locks can only be sampled, the strongest lock the
    manual says it holds on the target table for its whole run; the samples are checked against it
    (`lock_rows` refuses a run that saw a stronger one), and the stable table shows it even when a
    short run fell between two samples.
    """

    name: str
    sql: str
    autocommit: bool = False
    retries: int = 0
    backoff_s: float = 0.5
    may_fail: bool = False
    holds: str | None = None

    def __post_init__(self) -> None:
        if self.holds is not None and self.holds not in MODES:
            raise WorkbookError(f"step {self.name}: holds {self.holds!r} is not a table lock mode")


@dataclass(frozen=True)
class Call:
    """A step written in Python (a batched loop): `fn(ctx)` runs its own transactions through `ctx`."""

    name: str
    fn: Callable[[StepContext], None]
    describe: str = ""


Step = Statement | Call


@dataclass(frozen=True)
class Form:
    """A schema change as a list of steps; `single_transaction`: all of them in one BEGIN ... COMMIT."""

    name: str
    steps: tuple[Step, ...]
    single_transaction: bool = False
    describe: str = ""

    def __post_init__(self) -> None:
        names = [s.name for s in self.steps]
        if len(set(names)) != len(names) or "COMMIT" in names:
            raise WorkbookError(f"form {self.name}: step names must be unique and not COMMIT: {names}")
        if self.single_transaction and any(
            not isinstance(s, Statement) or s.autocommit or s.retries or s.may_fail for s in self.steps
        ):
            raise WorkbookError(
                f"form {self.name}: a single-transaction form holds only in-transaction statements "
                "without retries (a failure rolls the whole transaction back)"
            )


@dataclass(frozen=True)
class Probe:
    """What the application does meanwhile: `sql` with one `?` for a key, keys from `keys_sql`."""

    name: str
    sql: str
    keys_sql: str
    wants: str = WRITE_MODE  # the table lock mode the statement takes on the target table
    pause_s: float = 0.005  # between two statements, as an application's requests are spaced


@dataclass(frozen=True)
class Hold:
    """A transaction another session has open as the change starts: `sql` in it, committed `seconds` later.

    What lock_timeout is for: a long report or an idle-in-transaction session holding even ACCESS
    SHARE on the table makes an ALTER wait, and every statement queued behind the ALTER waits too.
    """

    sql: str
    seconds: float


class StepContext:
    """What a `Call` step runs with: the migrating connection and exact lock capture per transaction."""

    def __init__(self, con: Any, clock: Callable[[], float]) -> None:
        self.con = con
        self.info: dict[str, Any] = {}
        self.locks: set[tuple[str, str]] = set()
        self.transactions: list[tuple[float, float]] = []  # (start, end) of each transaction
        self._clock = clock

    def execute(self, sql: str, params: Sequence[Any] | dict | None = None) -> Any:
        """Run one statement on the migrating connection; returns the psycopg cursor."""
        return self.con.execute(sql, params)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One transaction; the relation locks it holds are read just before it commits."""
        start = self._clock()
        with self.con.transaction():
            yield
            self.locks.update(own_locks(self.con))
        self.transactions.append((start, self._clock()))

    def retrying(self, fn: Callable[[], Any], retries: int, backoff_s: float) -> Any:
        """`fn()` in a transaction, tried again after lock_timeout expires, up to `retries` times."""
        import psycopg

        for attempt in range(retries + 1):
            try:
                with self.transaction():
                    return fn()
            except psycopg.errors.LockNotAvailable:
                self.info["lock_timeouts"] = self.info.get("lock_timeouts", 0) + 1
                if attempt == retries:
                    raise
                time.sleep(backoff_s * 2**attempt)
        return None


def own_locks(con: Any) -> set[tuple[str, str]]:
    """(relation, mode) of every relation lock the connection's open transaction holds, catalogs left out."""
    return {(r, m) for r, m in con.execute(_OWN_LOCKS).fetchall()}


def backfill(
    name: str,
    table: str,
    key: str,
    assign: str,
    where: str,
    rows: int,
    retries: int = 3,
    backoff_s: float = 0.5,
) -> Call:
    """A batched UPDATE: `SET assign WHERE where` over key ranges of `rows` rows, one transaction each.

    The walk goes up the key in ranges of `rows` keys (a read outside any transaction finds each
    range's upper bound), then sweeps whatever still matches `where` a batch at a time: rows inserted
    behind the walk's position (a random key lands anywhere) are caught there. Each batch holds the
    row locks of at most `rows` rows, until its commit; nothing else waits for it.
    """
    if rows < 1:
        raise WorkbookError(f"backfill {name}: rows per batch must be at least 1, not {rows}")
    # The range's upper bound: the last of the next `rows` keys (any ordered key type; uuid has no max()).
    first = f"SELECT b.k FROM (SELECT {key} AS k FROM {table} ORDER BY {key} LIMIT %s) AS b ORDER BY b.k DESC LIMIT 1"
    after = (
        f"SELECT b.k FROM (SELECT {key} AS k FROM {table} WHERE {key} > %s ORDER BY {key} LIMIT %s) AS b "
        "ORDER BY b.k DESC LIMIT 1"
    )
    head = f"UPDATE {table} SET {assign} WHERE {key} <= %s AND ({where})"
    tail = f"UPDATE {table} SET {assign} WHERE {key} > %s AND {key} <= %s AND ({where})"
    sweep = (
        f"UPDATE {table} SET {assign} WHERE {key} IN "
        f"(SELECT {key} FROM {table} WHERE ({where}) ORDER BY {key} LIMIT %s) AND ({where})"
    )

    def run(ctx: StepContext) -> None:
        ctx.info.update(batches=0, rows=0, sweep_batches=0, sweep_rows=0, batch_rows=rows)
        last = None
        while True:
            found = (
                ctx.execute(first, (rows,)) if last is None else ctx.execute(after, (last, rows))
            ).fetchone()
            if found is None:
                break
            hi = found[0]
            lo = last
            cur = ctx.retrying(
                lambda lo=lo, hi=hi: ctx.execute(head, (hi,)) if lo is None else ctx.execute(tail, (lo, hi)),
                retries,
                backoff_s,
            )
            ctx.info["batches"] += 1
            ctx.info["rows"] += cur.rowcount
            last = hi
        while True:
            cur = ctx.retrying(lambda: ctx.execute(sweep, (rows,)), retries, backoff_s)
            ctx.info["sweep_batches"] += 1
            ctx.info["sweep_rows"] += cur.rowcount
            if cur.rowcount < rows:
                break

    return Call(
        name,
        run,
        f"UPDATE {table} SET {assign} WHERE {where}, by {key} ranges of {rows} rows, one transaction each, "
        "then a sweep of what still matches",
    )


def index_state(con: Any, index: str) -> str:
    """'valid', 'invalid' (a failed CREATE INDEX CONCURRENTLY left it: not used, still maintained) or 'missing'."""
    row = con.execute(
        "SELECT i.indisvalid FROM pg_index AS i WHERE i.indexrelid = to_regclass(%s)", (index,)
    ).fetchone()
    return "missing" if row is None else "valid" if row[0] else "invalid"


def ensure_valid_index(name: str, index: str, create_sql: str, attempts: int = 3) -> Call:
    """A step that finds `index` valid, or drops an INVALID one (CONCURRENTLY) and builds it again.

    `CREATE INDEX CONCURRENTLY IF NOT EXISTS` would not do: it sees the invalid index's name and
    does nothing, leaving an index the planner never uses.
    """

    def run(ctx: StepContext) -> None:
        import psycopg

        found = index_state(ctx.con, index)
        ctx.info.update(found=found, rebuilt=0, errors=[])
        state = found
        for _ in range(attempts):
            if state == "valid":
                break
            if state == "invalid":
                ctx.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {index}")
            try:
                ctx.execute(create_sql)
            except psycopg.Error as exc:
                ctx.info["errors"].append(first_line(exc))
            ctx.info["rebuilt"] += 1
            state = index_state(ctx.con, index)
        ctx.info["state"] = state
        if state != "valid":
            raise WorkbookError(f"{name}: index {index} is still {state} after {attempts} builds")

    return Call(
        name, run, f"{index}: if INVALID, DROP INDEX CONCURRENTLY and build it again; if missing, build it"
    )


# ---------------------------------------------------------------------------------------- the result


@dataclass
class LockSeen:
    """One lock mode on one relation as seen during a step: exactly, or by the sampler."""

    relation: str  # the relation's name; for a lock that is not on a relation, its lock type
    mode: str
    role: str  # "migration" or a probe's name
    granted: bool
    exact: bool  # read from the migrating session's own pg_locks before its commit
    samples: int  # times the sampler saw it (0: seen only by the exact read)
    seen_s: float  # last sighting minus first: a lower bound of how long it was held (or waited for)


@dataclass
class ProbeStats:
    """Latencies of one probe's statements: those started in a step, and the longest overlap with it."""

    count: int
    p50_s: float | None
    p99_s: float | None
    max_s: float | None
    longest_in_step_s: float | None  # the most time any statement of the probe spent inside this step
    errors: int = 0


@dataclass
class StepResult:
    """One step as it ran: when, how often tried, what it reported, the locks seen, the probes' waits."""

    name: str
    kind: str  # "transaction", "autocommit" or "call"
    start_s: float
    end_s: float
    attempts: int = 1
    error: str | None = None
    info: dict[str, Any] = field(default_factory=dict)
    locks: list[LockSeen] = field(default_factory=list)
    waits: dict[str, int] = field(default_factory=dict)  # the migrating backend's wait events: samples
    probes: dict[str, ProbeStats] = field(default_factory=dict)
    declared: str | None = None  # the Statement's `holds`: the manual's lock on the target
    what: str = ""  # the statement, or the call's description

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s

    def modes(self, relation: str, *, role: str = "migration", granted: bool = True) -> list[str]:
        """The lock modes on `relation` seen during the step, weakest first."""
        found = {
            x.mode for x in self.locks if x.relation == relation and x.role == role and x.granted == granted
        }
        return sorted(found, key=lambda m: MODES.index(m) if m in MODES else len(MODES))


@dataclass
class RunResult:
    form: str
    single_transaction: bool
    target: str
    steps: list[StepResult]
    probes: dict[str, ProbeStats]  # over the whole run, settle periods included
    holds: list[
        dict[str, Any]
    ]  # the migration's locks on the target over the whole run: first/last step, seen_s
    sample_interval_s: float | None  # the sampler's median interval: the resolution of every seen_s
    samples: int
    error: str | None = None
    hold: dict[str, Any] | None = None  # the other session's open transaction, when there was one
    probe_errors: dict[str, list[str]] = field(default_factory=dict)  # the first few messages per probe

    @property
    def duration_s(self) -> float:
        """From the first step's start to the last step's end."""
        return self.steps[-1].end_s - self.steps[0].start_s if self.steps else 0.0

    def step(self, name: str) -> StepResult:
        for s in self.steps:
            if s.name == name:
                return s
        raise KeyError(name)

    def to_json(self, digits: int = 4) -> dict[str, Any]:
        """A JSON-able dict, times rounded to `digits` decimals."""
        out = rounded(asdict(self), digits)
        out["duration_s"] = round(self.duration_s, digits)
        for s, js in zip(self.steps, out["steps"], strict=True):
            js["duration_s"] = round(s.duration_s, digits)
        return out


def rounded(value: Any, digits: int = 4) -> Any:
    """`value` with every float rounded to `digits` decimals, for JSON."""
    if isinstance(value, float):
        return round(value, digits)
    if isinstance(value, dict):
        return {k: rounded(v, digits) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [rounded(v, digits) for v in value]
    return value


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile by the nearest-rank method (None for no values)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


# ------------------------------------------------------------------------------------------ the runner


class _Sampler(threading.Thread):
    def __init__(self, con: Any, migrating: int, pids: list[int], interval_s: float, clock) -> None:  # noqa: ANN001
        super().__init__(daemon=True, name="locks-sampler")
        self.con, self.migrating, self.pids = con, migrating, pids
        self.interval_s, self.clock = interval_s, clock
        self.stop = threading.Event()
        self.burst = threading.Event()  # set while an autocommit statement runs: sample without pausing
        self.samples: list[tuple[float, list[tuple]]] = []
        self.error: str | None = None

    def run(self) -> None:
        params = {"migrating": self.migrating, "pids": self.pids}
        try:
            while not self.stop.is_set():
                t0 = self.clock()
                rows = self.con.execute(_SAMPLE, params, prepare=True).fetchall()
                t1 = self.clock()
                self.samples.append(((t0 + t1) / 2, rows))
                rest = self.interval_s - (self.clock() - t0)
                if rest > 0 and not self.burst.is_set():
                    time.sleep(rest)
        except Exception as exc:  # noqa: BLE001 - reported in the result
            self.error = f"sampler: {first_line(exc)}"


class _ProbeThread(threading.Thread):
    def __init__(self, probe: Probe, con: Any, keys: list, clock, seed: int) -> None:  # noqa: ANN001
        super().__init__(daemon=True, name=f"locks-probe-{probe.name}")
        self.probe, self.con, self.clock = probe, con, clock
        self.pid = con.info.backend_pid
        self.keys = list(keys)
        random.Random(seed).shuffle(self.keys)
        self.stop = threading.Event()
        self.timings: list[tuple[float, float, bool]] = []  # (start, end, ok)
        self.errors: list[str] = []
        self.sql = probe.sql.replace("%", "%%").replace("?", "%s")

    def run(self) -> None:
        i = 0
        while not self.stop.is_set():
            key = self.keys[i % len(self.keys)]
            i += 1
            t0 = self.clock()
            ok = True
            try:
                cur = self.con.execute(self.sql, (key,), prepare=True)
                if cur.description:
                    cur.fetchall()
            except Exception as exc:  # noqa: BLE001 - counted and reported
                ok = False
                if len(self.errors) < 5:
                    self.errors.append(first_line(exc))
            self.timings.append((t0, self.clock(), ok))
            if self.probe.pause_s:
                self.stop.wait(self.probe.pause_s)


def run(
    form: Form,
    engine: Any,
    *,
    target: str,
    probes: Sequence[Probe] = (),
    actor: str | None = None,
    interval_s: float = 0.002,
    settle_s: float = 0.3,
    seed: int = 0,
    hold: Hold | None = None,
) -> RunResult:
    """Run `form` on `engine`'s connection, sampling locks and timing `probes` against `target`.

    `engine` is a PostgresEngine whose session can write (its actor set, when the design audits).
    The sampler and each probe get a connection of their own on the same schema (`engine.sibling()`),
    the probes acting as `actor`. The probes run for `settle_s` before the first step and after the
    last, so the result shows their latency undisturbed too. With `hold`, one more session opens a
    transaction just before the first step and commits `hold.seconds` later. A failing step ends the
    run (the result says which and why) unless it `may_fail`.
    """
    import psycopg

    con = engine.con
    if con.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        raise WorkbookError(f"form {form.name}: the migrating connection has a transaction open")
    origin = time.perf_counter()

    def clock() -> float:
        return time.perf_counter() - origin

    others = []
    try:
        watcher = engine.sibling()
        others.append(watcher)
        threads: list[_ProbeThread] = []
        for k, p in enumerate(probes):
            e = engine.sibling()
            others.append(e)
            if actor is not None:
                e.set_session_actor(actor)
            keys = [r[0] for r in e.con.execute(p.keys_sql).fetchall()]
            if not keys:
                raise WorkbookError(f"probe {p.name}: {p.keys_sql} returned no keys")
            threads.append(_ProbeThread(p, e.con, keys, clock, seed + k))
        roles = {con.info.backend_pid: "migration"} | {t.pid: t.probe.name for t in threads}
        holder = None
        if hold is not None:
            holder = engine.sibling()
            others.append(holder)
            if actor is not None:
                holder.set_session_actor(actor)
            roles[holder.con.info.backend_pid] = "holder"
        pids = list(roles)
        sampler = _Sampler(watcher.con, con.info.backend_pid, pids, interval_s, clock)
        sampler.start()
        for t in threads:
            t.start()
        time.sleep(settle_s)
        timer = None
        if holder is not None:
            holder.con.execute("BEGIN")
            holder.con.execute(hold.sql)
            timer = threading.Timer(hold.seconds, lambda: holder.con.execute("COMMIT"))
            timer.start()
        steps, error = _run_steps(form, con, clock, sampler.burst)
        if timer is not None:
            timer.join()
        time.sleep(settle_s)
        for t in threads:
            t.stop.set()
        for t in threads:
            t.join(timeout=30)
        sampler.stop.set()
        sampler.join(timeout=30)
        names = _resolve(con, sampler.samples)
    finally:
        for e in others:
            e.close()
    if sampler.error:
        error = error or sampler.error
    result = _result(form, target, steps, error, sampler.samples, names, roles, threads)
    result.hold = None if hold is None else asdict(hold)
    return result


def _run_steps(
    form: Form, con: Any, clock: Callable[[], float], burst: threading.Event
) -> tuple[list[StepResult], str | None]:
    import psycopg

    steps: list[StepResult] = []
    exact: dict[str, set[tuple[str, str]]] = {}

    def statement(s: Statement) -> StepResult:
        r = StepResult(
            s.name,
            "autocommit" if s.autocommit else "transaction",
            clock(),
            0.0,
            declared=s.holds,
            what=s.sql,
        )
        for attempt in range(s.retries + 1):
            r.attempts = attempt + 1
            try:
                if s.autocommit:
                    burst.set()
                    try:
                        cur = con.execute(s.sql)
                    finally:
                        burst.clear()
                else:
                    with con.transaction():
                        cur = con.execute(s.sql)
                        exact[s.name] = own_locks(con)
                if (
                    cur.rowcount >= 0
                    and cur.statusmessage
                    and cur.statusmessage.split()[0]
                    in (
                        "UPDATE",
                        "INSERT",
                        "DELETE",
                    )
                ):
                    r.info["rows"] = cur.rowcount
                r.error = None
                break
            except psycopg.errors.LockNotAvailable as exc:
                r.error = first_line(exc)
                r.info["lock_timeouts"] = r.info.get("lock_timeouts", 0) + 1
                if attempt < s.retries:
                    time.sleep(s.backoff_s * 2**attempt)
            except psycopg.Error as exc:
                r.error = first_line(exc)
                break
        r.end_s = clock()
        return r

    error = None
    if form.single_transaction:
        try:
            with con.transaction():
                for s in form.steps:
                    r = StepResult(s.name, "transaction", clock(), 0.0, what=s.sql)
                    steps.append(r)
                    cur = con.execute(s.sql)
                    if cur.statusmessage and cur.statusmessage.split()[0] in ("UPDATE", "INSERT", "DELETE"):
                        r.info["rows"] = cur.rowcount
                    exact[s.name] = own_locks(con)
                    r.end_s = clock()
                steps.append(StepResult("COMMIT", "transaction", clock(), 0.0, what="COMMIT"))
                exact["COMMIT"] = exact[form.steps[-1].name] if form.steps else set()
            steps[-1].end_s = clock()
        except psycopg.Error as exc:
            error = f"{steps[-1].name}: {first_line(exc)} (the transaction rolled back)"
            steps[-1].error = first_line(exc)
            steps[-1].end_s = clock()
    else:
        for s in form.steps:
            if isinstance(s, Statement):
                r = statement(s)
            else:
                ctx = StepContext(con, clock)
                r = StepResult(s.name, "call", clock(), 0.0, info=ctx.info, what=s.describe)
                try:
                    s.fn(ctx)
                except (psycopg.Error, WorkbookError) as exc:
                    r.error = first_line(exc)
                r.end_s = clock()
                exact[s.name] = ctx.locks
                if ctx.transactions:
                    longest = max(b - a for a, b in ctx.transactions)
                    r.info["transactions"] = len(ctx.transactions)
                    r.info["longest_transaction_s"] = longest
            steps.append(r)
            if r.error and not (isinstance(s, Statement) and s.may_fail):
                error = f"{s.name}: {r.error}"
                break
            if con.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                con.rollback()
    for r in steps:
        r.locks = [
            LockSeen(rel, mode, "migration", True, True, 0, 0.0) for rel, mode in exact.get(r.name, ())
        ]
    return steps, error


def _resolve(con: Any, samples: list[tuple[float, list[tuple]]]) -> dict[int, str]:
    """Names of the relations the sampler saw only by oid (created by a then-uncommitted transaction)."""
    oids = {row[4] for _, rows in samples for row in rows if row[4] is not None and row[5] is None}
    if not oids:
        return {}
    return dict(con.execute(_NAMES, (list(oids),)).fetchall())


def _result(
    form: Form,
    target: str,
    steps: list[StepResult],
    error: str | None,
    samples: list[tuple[float, list[tuple]]],
    names: dict[int, str],
    role: dict[int, str],
    threads: list[_ProbeThread],
) -> RunResult:
    starts = [s.start_s for s in steps]
    pids = list(role)

    def step_at(t: float) -> StepResult | None:
        i = bisect.bisect_right(starts, t) - 1
        return steps[i] if i >= 0 and t <= steps[i].end_s else None

    spans: dict[tuple, list[float]] = {}  # (step, role, relation, mode, granted) -> [first, last, count]
    waits: dict[tuple[str, str], int] = {}
    whole: dict[str, list] = {}  # the migration's modes on the target: [first, last, first step, last step]
    for t, rows in samples:
        s = step_at(t)
        for pid, wtype, wevent, locktype, oid, name, mode, granted in rows:
            if s is not None and pid == pids[0] and wtype == "Lock":
                waits[(s.name, f"{wtype}:{wevent}")] = waits.get((s.name, f"{wtype}:{wevent}"), 0) + 1
            if locktype is None:
                continue
            if locktype == "relation":
                name = name or names.get(oid) or "(a relation dropped before the end)"
            else:
                name = f"({locktype})"
            if pid == pids[0] and granted and name == target:
                w = whole.setdefault(mode, [t, t, None, None])
                w[1] = t
                if s is not None:
                    w[2] = w[2] or s.name
                    w[3] = s.name
            if s is None:
                continue
            key = (s.name, role.get(pid, str(pid)), name, mode, granted)
            span = spans.setdefault(key, [t, t, 0])
            span[1] = t
            span[2] += 1
    by_step = {s.name: s for s in steps}
    for (step, who, rel, mode, granted), (first, last, n) in spans.items():
        s = by_step[step]
        for x in s.locks:
            if (x.relation, x.mode, x.role, x.granted) == (rel, mode, who, granted):
                x.samples, x.seen_s = n, last - first
                break
        else:
            s.locks.append(LockSeen(rel, mode, who, granted, False, n, last - first))
    for s in steps:
        s.locks.sort(
            key=lambda x: (x.role != "migration", x.relation, MODES.index(x.mode) if x.mode in MODES else 9)
        )
        s.waits = {w: n for (step, w), n in sorted(waits.items()) if step == s.name}
        for t in threads:
            s.probes[t.probe.name] = _stats(t.timings, s.start_s, s.end_s)
    times = [t for t, _ in samples]
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    holds = [
        {"mode": m, "first_step": a, "last_step": b, "seen_s": last - first}
        for m, (first, last, a, b) in sorted(whole.items(), key=lambda kv: MODES.index(kv[0]))
    ]
    return RunResult(
        form=form.name,
        single_transaction=form.single_transaction,
        target=target,
        steps=steps,
        probes={t.probe.name: _whole(t) for t in threads},
        probe_errors={t.probe.name: t.errors for t in threads if t.errors},
        holds=holds,
        sample_interval_s=percentile(gaps, 50),
        samples=len(samples),
        error=error,
    )


def _whole(t: _ProbeThread) -> ProbeStats:
    stats = _stats(t.timings, None, None)
    stats.errors = sum(1 for *_, ok in t.timings if not ok)
    return stats


def _stats(timings: list[tuple[float, float, bool]], start: float | None, end: float | None) -> ProbeStats:
    if start is None or end is None:
        lat = [b - a for a, b, _ in timings]
        longest = None
    else:
        lat = [b - a for a, b, _ in timings if start <= a < end]
        overlaps = [min(b, end) - max(a, start) for a, b, _ in timings if a < end and b > start]
        longest = max(overlaps) if overlaps else None
    errors = sum(1 for a, _, ok in timings if not ok and (start is None or start <= a < (end or 0)))
    return ProbeStats(
        len(lat), percentile(lat, 50), percentile(lat, 99), max(lat) if lat else None, longest, errors
    )


# ---------------------------------------------------------------------------------- the stable table


def lock_rows(result: RunResult, probes: Sequence[Probe] = ()) -> list[dict[str, Any]]:
    """Per step, the lock modes the migration held on which relations, and whom they make wait.

    Only facts that hold on every run: for in-transaction statements and for calls, the exact lock set
    on every relation of the design (read before each commit); where a step's target-table locks
    were not read exactly (autocommit statements such as CREATE INDEX CONCURRENTLY), the strongest
    mode the sampler saw on the target only, which such a statement holds from start to end (the
    weaker, briefer ones can fall between two samples). Relations with the same modes are listed
    together, the target first. `taken_here` is what the step added to what its transaction already
    held. Whether a probe waits is judged by PostgreSQL's lock-conflict table, not by what one run
    happened to observe; a step that updated rows of the target also makes a write to one of those
    rows wait until the rows' transaction commits (`row_locks_until`).
    """
    wanted = {p.name: p.wants for p in probes} or {"write": WRITE_MODE, "read": READ_MODE}
    target = result.target
    out = []
    held_before: dict[str, set[str]] = {}
    for s in result.steps:
        held: dict[str, set[str]] = {}
        for x in s.locks:
            if x.role == "migration" and x.granted and x.exact:
                held.setdefault(x.relation, set()).add(x.mode)
        exact_held = set(held)
        sampled = target not in held and strongest(
            [x.mode for x in s.locks if x.role == "migration" and x.granted and x.relation == target]
        )
        if sampled and s.declared and MODES.index(sampled) > MODES.index(s.declared):
            raise WorkbookError(
                f"{result.form}.{s.name}: sampled {sampled} on {target}, stronger than the {s.declared} it declares"
            )
        if target not in held and (s.declared or sampled):
            held[target] = {s.declared or sampled}
        groups: dict[tuple, list[str]] = {}
        for rel, modes in held.items():
            ordered = tuple(sorted(modes, key=MODES.index))
            new = tuple(m for m in ordered if m not in held_before.get(rel, ()))
            groups.setdefault((ordered, new, rel == target), []).append(rel)
        exact = "exact: the session's own pg_locks before " + (
            "each commit" if s.kind == "call" else "commit"
        )
        rows_updated = bool(s.info.get("rows") or s.info.get("sweep_rows"))
        entries = sorted(groups.items(), key=lambda kv: (not kv[0][2], sorted(kv[1])))
        for (modes, new, is_target), rels in entries or [(((), (), False), [])]:
            row = {
                "form": result.form,
                "step": s.name,
                "relations": ", ".join(sorted(rels)),
                "lock_modes": ", ".join(modes),
                "taken_here": ", ".join(new),
            }
            for name, mode in wanted.items():
                row[f"{name}s_wait"] = is_target and any(conflicts(m, mode) for m in modes)
            until = None
            if is_target and "RowExclusiveLock" in modes and rows_updated:
                until = "each batch's commit" if s.kind == "call" else "the transaction's commit"
            row["row_locks_until"] = until
            if is_target and s.declared and target not in exact_held:
                row["observed"] = "as the manual states it; the samples every ~2 ms saw nothing stronger"
            elif is_target and sampled:
                row["observed"] = "sampled every ~2 ms: the strongest mode"
            elif s.kind == "autocommit" or (s.kind == "call" and not s.info.get("transactions")):
                row["observed"] = f"sampled every ~2 ms: none on {target}"
            else:
                row["observed"] = exact
            out.append(row)
        held_before = held if result.single_transaction else {}
    return out
