"""The data patterns, proven by execution: audit trail and replay, soft delete, versioning, usage counts.

Both engines run the same write API (PostgreSQL through its triggers and functions, DuckDB through
their Python forms). Replay of audit_log must equal the live tables exactly after every step of
random sequences (hypothesis, stateful), under 8 concurrent writers, across pg_dump/pg_restore and
across a later migration that adds and drops a column.
"""

from __future__ import annotations

import threading
import uuid

import pytest
import semver
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from workbook import migrate, pgserver, replay, rules
from workbook.design import LATER_MIGRATIONS
from workbook.design.demo import scripted_sequence
from workbook.engines import connect
from workbook.writes import RuleViolation, Writer

ENGINES = ("postgres", "duckdb")
ACTOR = "00000000-0000-4000-8000-0000000000e1"
# Examples scale with the profile: the CI profile draws 60 per property test, `make fuzz` many more.
EXAMPLES = settings().max_examples


def fresh(engine: str):
    db = connect(engine)
    migrate.migrate(db)
    return db


def seeded(engine: str):
    """A database with the scripted sequence's rows, and its writer."""
    db = fresh(engine)
    w = Writer(db, ACTOR)
    return db, w, scripted_sequence(w)


def contents(db) -> tuple:
    """Everything a refused write must leave as it was: every audited table and audit_log."""
    tables = replay.audited_tables()
    return replay.live(db, tables), db.fetchall("SELECT CAST(id AS TEXT) FROM audit_log ORDER BY seq")


# ------------------------------------------------------------------------------------ audit trail


def test_one_scripted_sequence_leaves_the_same_audit_rows_on_both_engines():
    content = {}
    for engine in ENGINES:
        with fresh(engine) as db:
            scripted_sequence(Writer(db, ACTOR))
            assert replay.compare(db) == [], engine
            content[engine] = replay.audit_content(db)
    assert content["postgres"] == content["duckdb"]
    ops = [(row[0], row[2]) for row in content["postgres"]]
    assert ("pattern_applications", "INSERT") in ops and ("template_versions", "INSERT") in ops
    assert ops.count(("patterns", "UPDATE")) == 2, "each application updates the pattern's usage_count"
    assert ops[-1] == ("users", "UPDATE"), "the upsert of an existing user is recorded as the UPDATE it was"


@pytest.mark.parametrize("engine", ENGINES)
def test_upsert_is_recorded_as_what_happened(engine):
    with fresh(engine) as db:
        w = Writer(db, ACTOR)
        new_id = str(uuid.uuid4())
        assert w.upsert("users", {"id": new_id, "email": "cy@example.com", "name": "Cy"}) == "INSERT"
        assert w.upsert("users", {"id": new_id, "email": "cy@example.com", "name": "Cy Young"}) == "UPDATE"
        assert db.fetchall("SELECT operation FROM audit_log ORDER BY seq") == [("INSERT",), ("UPDATE",)]
        if engine == "postgres":  # the raw statement too: the row triggers see what really happened
            db.execute("SELECT set_config('workbook.actor_id', ?, false)", [ACTOR])
            db.execute(
                "INSERT INTO users (id, email, name) VALUES (?, 'cy@example.com', 'C. Young') "
                "ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name",
                [new_id],
            )
            assert db.scalar("SELECT operation FROM audit_log ORDER BY seq DESC LIMIT 1") == "UPDATE"
        assert replay.compare(db) == []


def test_actor_is_transaction_local_on_postgres():
    """The write API sets the actor for its transaction only: the next transaction has none."""
    with fresh("postgres") as db:
        Writer(db, ACTOR).insert("users", {"email": "ada@example.com", "name": "Ada"})
        assert db.scalar("SELECT current_setting('workbook.actor_id', true)") == ""
        assert db.scalar("SELECT CAST(changed_by AS TEXT) FROM audit_log") == ACTOR
        with pytest.raises(Exception, match="has no actor"):
            db.execute("UPDATE users SET name = 'Ada L.'")


def test_truncate_and_audit_log_changes_are_refused_on_postgres():
    with seeded("postgres")[0] as db:
        db.set_session_actor(ACTOR)
        before = contents(db)
        for sql, rule in [
            ("TRUNCATE pattern_applications", "audit_no_truncate"),
            ("UPDATE audit_log SET operation = 'INSERT'", "audit_log_append_only"),
            ("DELETE FROM audit_log", "audit_log_append_only"),
            ("TRUNCATE audit_log", "audit_log_append_only"),
        ]:
            with pytest.raises(Exception) as info:
                db.execute(sql)
            assert info.value.diag.constraint_name == rule, sql
        assert contents(db) == before
        # the retention role deletes through purge_audit_log(), and only it
        n = db.scalar("SELECT count(*) FROM audit_log")
        assert db.scalar("SELECT purge_audit_log(now() + interval '1 day')") == n
        assert db.scalar("SELECT count(*) FROM audit_log") == 0


# ------------------------------------------------------------------------------ bad input, refused


def _deleted(w, db, table: str, record_id: str) -> None:
    """Soft-delete a row unless it already is (the cases share one database)."""
    if db.scalar(f"SELECT deleted_at IS NULL FROM {table} WHERE id = ?", [record_id]):
        w.call("soft_delete", table, record_id)


# (what, setup that must succeed first, the write that must be refused, the rule that refuses it)
BAD_INPUT = [
    (
        "update of an audit row",
        None,
        lambda w, ids, db: w.update("audit_log", _first_audit(db), {"operation": "INSERT"}),
        "audit_log_append_only",
    ),
    (
        "delete of an audit row",
        None,
        lambda w, ids, db: w.delete("audit_log", _first_audit(db)),
        "audit_log_append_only",
    ),
    (
        "update of a history row",
        None,
        lambda w, ids, db: w.update("template_versions", _first_version(db), {"changelog": "rewritten"}),
        "template_versions_immutable",
    ),
    (
        "delete of a history row",
        None,
        lambda w, ids, db: w.delete("template_versions", _first_version(db)),
        "template_versions_immutable",
    ),
    (
        "a lower version",
        None,
        lambda w, ids, db: w.call("create_template_version", ids["template"], "0.9.0", {}, None, ids["user"]),
        "template_versions_newer",
    ),
    (
        "an equal version",
        None,
        lambda w, ids, db: w.call("create_template_version", ids["template"], "1.0.0", {}, None, ids["user"]),
        "template_versions_newer",
    ),
    (
        "an equal version with other build metadata",
        None,
        lambda w, ids, db: w.call(
            "create_template_version", ids["template"], "1.0.0+build.2", {}, None, ids["user"]
        ),
        "template_versions_newer",
    ),
    (
        "a malformed version",
        None,
        lambda w, ids, db: w.call("create_template_version", ids["template"], "1.2", {}, None, ids["user"]),
        "template_versions_semver",
    ),
    (
        "a pre-release with a leading zero",
        None,
        lambda w, ids, db: w.call(
            "create_template_version", ids["template"], "2.0.0-01", {}, None, ids["user"]
        ),
        "template_versions_semver",
    ),
    (
        "soft delete of a table without the pattern",
        None,
        lambda w, ids, db: w.call("soft_delete", "users", ids["user"]),
        "soft_delete_table",
    ),
    (
        "soft delete of an unknown table",
        None,
        lambda w, ids, db: w.call("soft_delete", "nope", ids["user"]),
        "soft_delete_table",
    ),
    (
        "soft delete of an unknown id",
        None,
        lambda w, ids, db: w.call("soft_delete", "projects", str(uuid.uuid4())),
        "soft_delete_live_row",
    ),
    (
        "soft delete of an already deleted row",
        lambda w, ids, db: _deleted(w, db, "patterns", ids["prettier"]),
        lambda w, ids, db: w.call("soft_delete", "patterns", ids["prettier"]),
        "soft_delete_live_row",
    ),
    (
        "restore of a live row",
        None,
        lambda w, ids, db: w.call("restore", "projects", ids["project"]),
        "restore_deleted_row",
    ),
    (
        "applying a soft-deleted pattern",
        lambda w, ids, db: _deleted(w, db, "patterns", ids["prettier"]),
        lambda w, ids, db: w.insert(
            "pattern_applications", {"project_id": ids["project"], "pattern_id": ids["prettier"]}
        ),
        "pattern_applications_live_pattern",
    ),
    (
        "an actor that is not a uuid",
        None,
        lambda w, ids, db: Writer(db, "ada").insert("users", {"email": "x@example.com", "name": "X"}),
        "audit_actor_uuid",
    ),
    (
        "no actor",
        None,
        lambda w, ids, db: Writer(db, None).update("users", ids["user"], {"name": "Nobody"}),
        "audit_actor_required",
    ),
]


def _first_audit(db) -> str:
    return db.scalar("SELECT CAST(id AS TEXT) FROM audit_log ORDER BY seq LIMIT 1")


def _first_version(db) -> str:
    return db.scalar("SELECT CAST(id AS TEXT) FROM template_versions LIMIT 1")


@pytest.fixture(scope="module", params=ENGINES)
def story(request):
    db, w, ids = seeded(request.param)
    yield db, w, ids
    db.close()


@pytest.mark.parametrize("label, setup, write, rule", BAD_INPUT, ids=[b[0] for b in BAD_INPUT])
def test_bad_input_is_refused_by_its_rule_and_changes_nothing(story, label, setup, write, rule):
    db, w, ids = story
    if setup is not None:
        setup(w, ids, db)
    before = contents(db)
    with pytest.raises(RuleViolation) as info:
        write(w, ids, db)
    assert info.value.rule == rule, str(info.value)
    assert str(info.value).count("\n") == 0 and f"(rule {rule})" in str(info.value)
    assert contents(db) == before, "nothing changed"


HOSTILE_TABLES = [
    "projects; DROP TABLE users --",
    '"projects"',
    "public.projects",
    "pg_catalog.pg_class",
    "PROJECTS",
    "",
    None,
]


@pytest.mark.parametrize("engine", ENGINES)
def test_soft_delete_cannot_be_injected(engine):
    db, w, ids = seeded(engine)
    with db:
        before = contents(db)
        for table in HOSTILE_TABLES:
            with pytest.raises(RuleViolation) as info:
                w.call("soft_delete", table, ids["project"])
            assert info.value.rule == "soft_delete_table", table
        for bad_id in ["' OR true --", "1; DELETE FROM projects"]:
            with pytest.raises(RuleViolation, match="invalid input syntax for type uuid"):
                w.call("soft_delete", "projects", bad_id)
        assert contents(db) == before
        assert db.table_exists("users")


# ------------------------------------------------------------------------------------- soft delete


@pytest.mark.parametrize("engine", ENGINES)
def test_soft_deleting_a_template_takes_its_live_patterns_and_restore_brings_them_back(engine):
    db, w, ids = seeded(engine)
    with db:
        w.call("soft_delete", "patterns", ids["prettier"])  # deleted earlier, on its own
        w.call("soft_delete", "templates", ids["template"])
        live = dict(db.fetchall("SELECT CAST(id AS TEXT), deleted_at IS NULL FROM patterns"))
        assert live == {ids["eslint"]: False, ids["prettier"]: False}
        assert db.scalar("SELECT count(*) FROM active_patterns") == 0
        # a project made from the template keeps pointing at it and still reads its name
        assert (
            db.scalar(
                "SELECT t.name FROM projects p JOIN templates t ON t.id = p.template_id WHERE p.id = ?",
                [ids["project"]],
            )
            == "react-app"
        )
        with pytest.raises(RuleViolation, match="is deleted"):
            w.insert("pattern_applications", {"project_id": ids["project"], "pattern_id": ids["eslint"]})
        w.call("restore", "templates", ids["template"])
        live = dict(db.fetchall("SELECT CAST(id AS TEXT), deleted_at IS NULL FROM patterns"))
        assert live == {ids["eslint"]: True, ids["prettier"]: False}, "only those deleted with the template"
        assert replay.compare(db) == []


def test_a_deleted_name_can_be_used_again_and_restore_then_refuses():
    db, w, ids = seeded("postgres")
    with db:
        w.call("soft_delete", "projects", ids["project"])
        again = w.insert("projects", {"name": "storefront", "owner_id": ids["user"]})
        before = contents(db)
        with pytest.raises(RuleViolation) as info:
            w.call("restore", "projects", ids["project"])
        assert info.value.rule == "restore_name_free" and "took its name" in str(info.value)
        assert contents(db) == before
        w.call("soft_delete", "projects", again)
        w.call("restore", "projects", ids["project"])
        assert replay.compare(db) == []


def test_duckdb_keeps_a_deleted_name_reserved():
    """The gap the document states: DuckDB cannot drop the UNIQUE constraint (drop-constraint)."""
    db, w, ids = seeded("duckdb")
    with db:
        w.call("soft_delete", "projects", ids["project"])
        with pytest.raises(RuleViolation) as info:
            w.insert("projects", {"name": "storefront", "owner_id": ids["user"]})
        assert info.value.rule == "uq_projects_owner_id_name"


# ------------------------------------------------------------------------------------- versioning


@pytest.mark.parametrize("engine", ENGINES)
def test_updated_at_moves_on_every_update(engine):
    db, w, ids = seeded(engine)
    with db:
        before = db.scalar("SELECT CAST(updated_at AS TEXT) FROM users WHERE id = ?", [ids["user"]])
        w.update("users", ids["user"], {"name": "Ada King"})
        after = db.scalar("SELECT CAST(updated_at AS TEXT) FROM users WHERE id = ?", [ids["user"]])
        assert after > before
        assert db.scalar("SELECT updated_at >= created_at FROM users WHERE id = ?", [ids["user"]])


def test_versions_follow_semver_order_and_history_is_kept():
    db, w, ids = seeded("postgres")
    with db:
        for v in ["1.1.0-alpha", "1.1.0-alpha.1", "1.1.0-beta", "1.1.0", "1.10.0"]:
            w.call("create_template_version", ids["template"], v, {"v": v}, f"release {v}", ids["user"])
        assert db.scalar("SELECT version FROM templates WHERE id = ?", [ids["template"]]) == "1.10.0"
        with pytest.raises(RuleViolation, match="1.9.0 is not newer than the current version 1.10.0"):
            w.call("create_template_version", ids["template"], "1.9.0", {}, None, ids["user"])
        history = [
            r[0] for r in db.fetchall("SELECT version FROM template_versions ORDER BY created_at, version")
        ]
        assert len(history) == 6
        assert replay.compare(db) == []
        # deleting the template (hard) takes its history with it through the foreign key's cascade
        db.set_session_actor(ACTOR)
        db.execute("DELETE FROM templates WHERE id = ?", [ids["template"]])
        assert db.scalar("SELECT count(*) FROM template_versions") == 0


SEMVER_ID = st.one_of(
    st.integers(0, 30).map(str),  # numeric identifier
    st.tuples(
        st.text("0123456789", max_size=2), st.sampled_from("abxyz-"), st.text("0123456789abz-", max_size=2)
    ).map("".join),  # alphanumeric identifier: at least one non-digit
)
SEMVER = st.builds(
    lambda core, pre, build: (
        ".".join(map(str, core)) + (f"-{'.'.join(pre)}" if pre else "") + (f"+{build}" if build else "")
    ),
    st.tuples(st.integers(0, 12), st.integers(0, 12), st.integers(0, 12)),
    st.lists(SEMVER_ID, max_size=3),
    st.one_of(st.none(), st.sampled_from(["b1", "exp.sha.5114f85", "001"])),
)


@pytest.fixture(scope="module")
def pg():
    with fresh("postgres") as db:
        yield db


@settings(max_examples=EXAMPLES, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(SEMVER, SEMVER), min_size=1, max_size=20))
def test_semver_order_is_one_rule_in_python_and_sql_and_matches_semver_2(pg, pairs):
    sql = " UNION ALL ".join(f"SELECT {i} AS i, semver_cmp(?, ?) AS c" for i in range(len(pairs)))
    in_sql = dict(pg.fetchall(sql, [v for pair in pairs for v in pair]))
    for i, (a, b) in enumerate(pairs):
        want = semver.Version.parse(a).compare(b)
        assert rules.semver_cmp(a, b) == want == in_sql[i], (a, b)


@settings(max_examples=EXAMPLES, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.one_of(SEMVER, st.text("0123456789.-+abA", max_size=12)))
def test_semver_grammar_is_one_rule_in_python_and_sql_and_matches_semver_2(pg, text):
    assert (
        rules.semver_valid(text)
        == semver.Version.is_valid(text)
        == pg.scalar("SELECT semver_valid(?)", [text])
    )


# ---------------------------------------------------------------------------- replay, stateful


class Story(RuleBasedStateMachine):
    """Random sequences of every write; after each, replay equals the tables and each change has its row."""

    engine = "postgres"

    @initialize()
    def start(self):
        self.db = fresh(self.engine)
        self.w = Writer(self.db, ACTOR)
        self.tables = replay.audited_tables()
        self.ids = scripted_sequence(self.w)
        self.n = 0
        self._mark()

    def _mark(self):
        self.before = replay.live(self.db, self.tables)
        self.seq = self.db.scalar("SELECT coalesce(max(seq), 0) FROM audit_log")

    def _try(self, fn, *args):
        try:
            fn(*args)
        except RuleViolation:
            pass  # refused: the invariants check that nothing changed

    def _ids(self, table):
        return [r[0] for r in self.db.fetchall(f"SELECT CAST(id AS TEXT) FROM {table} ORDER BY 1")]

    @rule(name=st.sampled_from(["web", "api", "cli", "docs"]))
    def new_project(self, name):
        self.n += 1
        self._try(
            self.w.insert,
            "projects",
            {"name": f"{name}-{self.n}", "owner_id": self.ids["user"], "template_id": self.ids["template"]},
        )

    @rule(name=st.sampled_from(["jest", "vite", "ruff"]))
    def new_pattern(self, name):
        self._try(
            self.w.insert,
            "patterns",
            {"name": name, "description": f"Adds {name}", "template_id": self.ids["template"]},
        )

    @rule(data=st.data())
    def apply(self, data):
        projects, patterns = self._ids("projects"), self._ids("patterns")
        if projects and patterns:
            self._try(
                self.w.insert,
                "pattern_applications",
                {
                    "project_id": data.draw(st.sampled_from(projects)),
                    "pattern_id": data.draw(st.sampled_from(patterns)),
                    "applied_by": self.ids["user"],
                },
            )

    @rule(data=st.data(), text=st.sampled_from(["first", "second", None]))
    def describe(self, data, text):
        projects = self._ids("projects")
        if projects:
            self._try(self.w.update, "projects", data.draw(st.sampled_from(projects)), {"description": text})

    @rule(data=st.data(), table=st.sampled_from(["projects", "patterns", "templates"]))
    def soft_delete(self, data, table):
        rows = self._ids(table)
        if rows:
            self._try(self.w.call, "soft_delete", table, data.draw(st.sampled_from(rows)))

    @rule(data=st.data(), table=st.sampled_from(["projects", "patterns", "templates"]))
    def restore(self, data, table):
        rows = self._ids(table)
        if rows:
            self._try(self.w.call, "restore", table, data.draw(st.sampled_from(rows)))

    @rule(data=st.data(), table=st.sampled_from(["pattern_applications", "patterns", "projects"]))
    def delete(self, data, table):
        rows = self._ids(table)
        if rows:
            self._try(self.w.delete, table, data.draw(st.sampled_from(rows)))

    @rule(name=st.sampled_from(["Ada", "Ada L.", "Ada Lovelace"]))
    def upsert(self, name):
        self._try(self.w.upsert, "users", {"id": self.ids["user"], "email": "ada@example.com", "name": name})

    @rule(version=SEMVER)
    def new_version(self, version):
        self._try(
            self.w.call,
            "create_template_version",
            self.ids["template"],
            version,
            {"v": version},
            None,
            self.ids["user"],
        )

    @invariant()
    def replay_is_exact_and_every_change_has_its_audit_row(self):
        if not hasattr(self, "db"):
            return
        assert replay.compare(self.db, self.tables) == []
        after = replay.live(self.db, self.tables)
        changed = {
            (t, rid)
            for t in self.tables
            for rid in self.before[t].keys() | after[t].keys()
            if self.before[t].get(rid) != after[t].get(rid)
        }
        audited = set(
            self.db.fetchall(
                "SELECT table_name, CAST(record_id AS TEXT) FROM audit_log WHERE seq > ?", [self.seq]
            )
        )
        assert changed <= audited, changed - audited
        self._mark()

    def teardown(self):
        if hasattr(self, "db"):
            self.db.close()


class DuckStory(Story):
    engine = "duckdb"


STATEFUL = settings(
    max_examples=max(5, EXAMPLES // 6),
    stateful_step_count=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestStoryOnPostgres = Story.TestCase
TestStoryOnPostgres.settings = STATEFUL
TestStoryOnDuckDB = DuckStory.TestCase
TestStoryOnDuckDB.settings = STATEFUL


# ----------------------------------------------------------------------------------- concurrency


def _in_threads(n: int, work) -> None:
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            work(i)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[0]


def test_eight_concurrent_writers_lose_no_audit_row_and_no_count():
    db, w, ids = seeded("postgres")
    with db:
        start = db.scalar("SELECT count(*) FROM audit_log")
        per_thread = 10

        def work(i: int) -> None:
            with db.sibling() as own:
                writer = Writer(own, ACTOR)
                for k in range(per_thread):
                    # contended rows: the same project described, the same pattern applied, by all
                    writer.update("projects", ids["project"], {"description": f"writer {i}, step {k}"})
                    writer.insert(
                        "pattern_applications",
                        {
                            "project_id": ids["project"],
                            "pattern_id": ids["eslint"],
                            "applied_by": ids["user"],
                        },
                    )

        _in_threads(8, work)
        # each step writes: the project UPDATE, the application INSERT and the pattern's count UPDATE
        assert db.scalar("SELECT count(*) FROM audit_log") - start == 8 * per_thread * 3
        applied = db.scalar("SELECT count(*) FROM pattern_applications WHERE pattern_id = ?", [ids["eslint"]])
        assert applied == 2 + 8 * per_thread
        assert db.scalar("SELECT usage_count FROM patterns WHERE id = ?", [ids["eslint"]]) == applied
        assert db.scalar("SELECT count(DISTINCT seq) = count(*) FROM audit_log")
        assert replay.compare(db) == []


# ------------------------------------------------------- history survives dump/restore and evolution


def test_history_survives_pg_dump_and_pg_restore():
    db, w, ids = seeded("postgres")
    with db:
        with pgserver.round_trip(db) as restored:
            assert replay.audit_content(restored) == replay.audit_content(db)
            assert replay.compare(restored) == []
            Writer(restored, ACTOR).update("users", ids["user"], {"name": "Ada, restored"})
            assert replay.compare(restored) == [], "the restored triggers record new changes"
            assert (
                restored.scalar("SELECT count(*) FROM audit_log")
                == db.scalar("SELECT count(*) FROM audit_log") + 1
            )


def test_replay_of_old_rows_survives_adding_and_dropping_a_column(migrations_copy):
    (add, add_sql), (drop, drop_sql) = LATER_MIGRATIONS.items()
    db = connect("postgres")
    with db:
        migrate.migrate(db, migrations_copy)
        ids = scripted_sequence(Writer(db, ACTOR, migrations=migrate.discover(migrations_copy)))
        (migrations_copy / add).write_text(add_sql)
        migrate.migrate(db, migrations_copy)
        assert replay.compare(db) == [], "images from before the column was added read it as its default"
        w = Writer(db, ACTOR, migrations=migrate.discover(migrations_copy))
        w.update("projects", ids["project"], {"visibility": "public", "legacy_note": "moved from v1"})
        (migrations_copy / drop).write_text(drop_sql)
        migrate.migrate(db, migrations_copy)
        assert db.scalar("SELECT count(*) FROM audit_log WHERE new_values ? 'legacy_note'") > 0
        assert replay.compare(db) == [], "images holding the dropped column ignore it"
        Writer(db, ACTOR, migrations=migrate.discover(migrations_copy)).update(
            "projects", ids["project"], {"visibility": "team"}
        )
        assert replay.compare(db) == []
