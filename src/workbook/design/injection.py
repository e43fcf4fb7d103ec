"""The design's dynamic SQL paths: how each is called, its benign values, the refusals it intends.

`workbook.injection` discovers the catalog's dynamic routines (PL/pgSQL with EXECUTE or format())
and fails the build when one is missing here or one declared here is gone; it then applies every
hostile input to every argument below and checks the outcome is an intended refusal, or a success
with the intended effect only, and that nothing else changed.

Adding a routine is a few lines: a `Path` with its identity as the catalog spells it, its call,
one `Arg` per input argument (name, type, benign value) and its refusals, e.g.

    Path("erase_user", "SELECT erase_user(:p_user_id)", (Arg("p_user_id", "uuid", U2),),
         (NOT_A_UUID, Refusal("P0002", "erasure_user")), function="erase_user(uuid)")

Client paths (not in the catalog) come from the access patterns: every parameter of every pattern,
the cursor a client sends back for the next page, and a cursor signed with the server's key whose
sort-key values are hostile (what a leaked key would allow).
"""

from __future__ import annotations

from contextlib import contextmanager

from .. import access, cursor
from ..errors import WorkbookError
from ..injection import Arg, Declaration, Effect, Path, Refusal
from . import ACTOR_SETTING, WORKBOOK_ACTOR
from .access import PATTERNS

# The rows every path relies on (ids of the form the bad-input matrix uses, workbook.quality).
U1 = "00000000-0000-0000-0000-000000000001"  # Ada, an admin: the acting user where one is needed
U2 = "00000000-0000-0000-0000-000000000002"  # Bo, the user erase_user's control call erases
T1 = "00000000-0000-0000-0000-0000000000a1"  # a published template
P1 = "00000000-0000-0000-0000-0000000000b1"  # a live project of Ada's on T1
DELETED_PROJECT = "00000000-0000-0000-0000-0000000000b9"  # a soft-deleted project of Ada's
PT1 = "00000000-0000-0000-0000-0000000000c1"  # a pattern of T1 applied to P1
PT2 = "00000000-0000-0000-0000-0000000000c2"  # a pattern of T1 not yet applied to P1
PA1 = "00000000-0000-0000-0000-0000000000d1"
PROBE_USER = "00000000-0000-4000-8000-0000000000f0"  # the user the stored-name path creates and erases
KEPT_LOG_IDS = (1000, 1001)  # migration_log rows of the fixture; the run's own are undone after each case
EMPTY_MD5 = "d41d8cd98f00b204e9800998ecf8427e"  # migration_digest of no rows

FIXTURE = (
    f"INSERT INTO users (id, email, name, role) VALUES ('{U1}', 'ada@example.com', 'Ada', 'admin')",
    f"INSERT INTO users (id, email, name) VALUES ('{U2}', 'bo@example.com', 'Bo')",
    "INSERT INTO templates (id, name, description, category, version, author_id, published) VALUES "
    f"('{T1}', 'react-app', 'A React application starter', 'framework', '1.0.0', '{U1}', true)",
    f"INSERT INTO projects (id, name, owner_id, template_id) VALUES ('{P1}', 'site', '{U1}', '{T1}')",
    f"INSERT INTO projects (id, name, owner_id, deleted_at) VALUES ('{DELETED_PROJECT}', 'old-site', '{U1}', NOW())",
    f"INSERT INTO patterns (id, name, description, template_id) VALUES ('{PT1}', 'eslint', 'Adds ESLint', '{T1}')",
    f"INSERT INTO patterns (id, name, description, template_id) VALUES ('{PT2}', 'vitest', 'Adds Vitest', '{T1}')",
    f"INSERT INTO pattern_applications (id, project_id, pattern_id, applied_by) VALUES ('{PA1}', '{P1}', '{PT1}', '{U1}')",
    "INSERT INTO migration_log (id, migration_name, target_schema, target_table, predicate, migration_sql, run_by) "
    f"VALUES (1000, 'started', current_schema(), 'templates', 'true', 'SELECT 1', '{U1}')",
    # A COMPLETED data migration whose (empty) backup restore_data_migration can put back.
    "CREATE TABLE migration_backup_1001 AS SELECT * FROM templates WHERE false",
    "ALTER TABLE migration_backup_1001 ADD CONSTRAINT pk_migration_backup_1001 PRIMARY KEY (id)",
    "INSERT INTO migration_log (id, migration_name, target_schema, target_table, predicate, migration_sql, status, "
    "run_by, backup_table, backup_rows, backup_checksum, backed_up_at, rows_changed, changed_checksum, completed_at) "
    f"VALUES (1001, 'completed', current_schema(), 'templates', 'false', 'SELECT 1', 'COMPLETED', '{U1}', "
    f"'migration_backup_1001', 0, '{EMPTY_MD5}', now(), 0, '{EMPTY_MD5}', now())",
)
SESSION = (f"SELECT set_config('{ACTOR_SETTING}', '{WORKBOOK_ACTOR}', false)",)
AS_ADMIN = f"SELECT set_config('{ACTOR_SETTING}', '{U1}', true)"

# Refusals shared by several paths.
NOT_A_UUID = Refusal("22P02", why="not a uuid: the parameter's cast refuses it before the routine runs")
NOT_A_BIGINT = Refusal("22P02", why="not a bigint: the parameter's cast refuses it before the routine runs")
BAD_NAME = Refusal("42602", why="not a relation name: the regclass cast refuses it before the routine runs")
NO_RELATION = Refusal("42P01", why="no such relation: the regclass cast refuses it before the routine runs")
NOT_ALLOWED = Refusal(
    "42501", why="the role may not execute the routine (EXECUTE revoked from PUBLIC, V0026)"
)
WRONG_TYPE = Refusal(
    error=WorkbookError,
    match=r"parameter \w+ must be",
    why="access.check_value refuses a value of the wrong type in one line, before any SQL",
)
BAD_CURSOR = Refusal(
    error=WorkbookError,
    match=r"^cursor for \w+: (malformed|the signature does not match)",
    why="the cursor is not one the server signed: refused in one line, before any SQL",
)

TRUSTED_SQL = "SQL by the routine's contract (V0021: a migration's predicate and change are trusted, as a migration file is)"

MIGRATION_UNDO = (
    f"""DO $$
DECLARE
    r RECORD;
BEGIN
    FOR r IN SELECT id, backup_table FROM migration_log WHERE id NOT IN ({", ".join(map(str, KEPT_LOG_IDS))}) LOOP
        IF r.backup_table IS NOT NULL THEN
            EXECUTE format('DROP TABLE IF EXISTS %I', r.backup_table);
        END IF;
        DELETE FROM migration_log WHERE id = r.id;
    END LOOP;
END;
$$""",
)

ERASED = "SELECT name = 'Erased user' AND email LIKE 'erased-%@erased.invalid' AND NOT active FROM users WHERE id = CAST(:p_user_id AS uuid)"

CATALOG = (
    Path(
        "soft_delete",
        "SELECT soft_delete(:p_table_name, :p_record_id)",
        (Arg("p_table_name", "text", "projects"), Arg("p_record_id", "uuid", P1)),
        (
            Refusal(
                "22023", "soft_delete_table", "not a table with a deleted_at column (read from the catalog)"
            ),
            Refusal("P0002", "soft_delete_live_row", "no such row"),
            Refusal("22023", "soft_delete_live_row", "the row is already deleted"),
            NOT_A_UUID,
        ),
        function="soft_delete(text, uuid)",
        effect=Effect(
            "the row gets deleted_at (a template's live patterns too); the audit trail and project counts follow",
            tables=("projects", "templates", "patterns", "audit_log"),
            check="SELECT deleted_at IS NOT NULL FROM projects WHERE id = CAST(:p_record_id AS uuid)",
        ),
    ),
    Path(
        "restore",
        "SELECT restore(:p_table_name, :p_record_id)",
        (Arg("p_table_name", "text", "projects"), Arg("p_record_id", "uuid", DELETED_PROJECT)),
        (
            Refusal(
                "22023", "soft_delete_table", "not a table with a deleted_at column (read from the catalog)"
            ),
            Refusal("P0002", "restore_deleted_row", "no such row"),
            Refusal("22023", "restore_deleted_row", "the row is not deleted"),
            Refusal("23505", "restore_name_free", "a live row took its name meanwhile"),
            NOT_A_UUID,
        ),
        function="restore(text, uuid)",
        effect=Effect(
            "the row's deleted_at is cleared; the audit trail and project counts follow",
            tables=("projects", "templates", "patterns", "audit_log"),
            check="SELECT deleted_at IS NULL FROM projects WHERE id = CAST(:p_record_id AS uuid)",
        ),
    ),
    Path(
        "migrate_data_safely",
        "CALL migrate_data_safely(:p_name, :p_target, :p_predicate, :p_sql, :p_log_id)",
        (
            Arg("p_name", "text", "injection probe"),
            Arg("p_target", "regclass", "templates"),
            Arg("p_predicate", "text", "false", False, TRUSTED_SQL + "; untrusted callers: the next path"),
            Arg("p_sql", "text", "SELECT 1", False, TRUSTED_SQL + "; untrusted callers: the next path"),
            Arg("p_log_id", "bigint", None),
        ),
        (
            Refusal("23514", "ck_migration_log_name_length", "a name of 1 to 200 characters"),
            Refusal("23502", None, "a name is required (NOT NULL)"),
            BAD_NAME,
            NO_RELATION,
            Refusal("42809", "migration_target_table", "the target is not a table"),
            Refusal("0A000", "migration_target_audited", "the target has no audit trigger"),
            NOT_A_BIGINT,
        ),
        function="migrate_data_safely(text, regclass, text, text, bigint)",
        mode="autocommit",
        effect=Effect(
            "one COMPLETED migration_log row holding the name as given, and its backup table",
            tables=("migration_log",),
            relations=r"(pk_)?migration_backup_\d+",
            check="SELECT status = 'COMPLETED' AND migration_name = :p_name FROM migration_log "
            f"WHERE id NOT IN ({', '.join(map(str, KEPT_LOG_IDS))}) ORDER BY id DESC LIMIT 1",
            undo=MIGRATION_UNDO,
        ),
    ),
    Path(
        "migrate_data_safely as workbook_app",
        "CALL migrate_data_safely(:p_name, :p_target, :p_predicate, :p_sql, :p_log_id)",
        (
            Arg("p_name", "text", "injection probe"),
            Arg("p_target", "regclass", "templates"),
            Arg("p_predicate", "text", "false"),
            Arg("p_sql", "text", "SELECT 1"),
            Arg("p_log_id", "bigint", None),
        ),
        (NOT_ALLOWED, BAD_NAME, NO_RELATION, NOT_A_BIGINT),
        function="migrate_data_safely(text, regclass, text, text, bigint)",
        mode="autocommit",
        role="workbook_app",
        note="the application role, whose input is a user's: its trusted-SQL arguments never reach EXECUTE",
    ),
    Path(
        "migration_digest",
        "SELECT * FROM migration_digest(:p_relation, :p_columns, :p_where)",
        (
            Arg("p_relation", "regclass", "templates"),
            Arg("p_columns", "text[]", ["id"]),
            Arg("p_where", "text", "true", False, TRUSTED_SQL + "; tried as workbook_app in the next path"),
        ),
        (
            BAD_NAME,
            NO_RELATION,
            Refusal("42703", why="a column the relation does not have (each name goes through %I)"),
            Refusal("22004", why="a NULL column name: format('%I') refuses it"),
            Refusal(
                "42601",
                why="a NULL relation or an empty column name: the parser refuses the statement (no explicit check)",
            ),
        ),
        function="migration_digest(regclass, text[], text)",
    ),
    Path(
        "migration_digest as workbook_app",
        "SELECT * FROM migration_digest(:p_relation, :p_columns, :p_where)",
        (
            Arg("p_relation", "regclass", "templates", False, "tried in the previous path"),
            Arg("p_columns", "text[]", ["id"], False, "tried in the previous path"),
            Arg("p_where", "text", "true"),
        ),
        (
            Refusal("42601", why="not SQL: the parser refuses it"),
            Refusal("42703", why="names a column the relation does not have"),
            Refusal("42P01", why="names a table outside the query"),
            Refusal("42P02", why="a parameter the query does not have"),
            Refusal("42804", why="not a boolean condition"),
            Refusal("22P02", why="a literal that is not a boolean"),
            Refusal("0A000", why="a statement that writes: refused in a STABLE function's own SQL"),
            NOT_ALLOWED,
        ),
        function="migration_digest(regclass, text[], text)",
        role="workbook_app",
        note="p_where runs as SQL, so the application must not reach it: these tests found EXECUTE granted to "
        "PUBLIC (a volatile routine called from p_where could write with the caller's rights), and V0026 revokes "
        "it, as for migrate_data_safely; the application's call is now refused",
    ),
    Path(
        "restore_data_migration",
        "CALL restore_data_migration(:p_log_id)",
        (Arg("p_log_id", "bigint", 1001),),
        (
            NOT_A_BIGINT,
            Refusal("P0002", "restore_migration_exists", "no such migration"),
            Refusal("55000", "restore_migration_completed", "only a COMPLETED migration is restored"),
        ),
        function="restore_data_migration(bigint)",
        effect=Effect(
            "the backed-up rows are put back and the migration is RESTORED",
            tables=("migration_log", "templates", "audit_log"),
            check="SELECT status = 'RESTORED' FROM migration_log WHERE id = CAST(:p_log_id AS bigint)",
        ),
    ),
    Path(
        "restore_data_migration as workbook_app",
        "CALL restore_data_migration(:p_log_id)",
        (Arg("p_log_id", "bigint", 1001),),
        (NOT_ALLOWED, NOT_A_BIGINT),
        function="restore_data_migration(bigint)",
        role="workbook_app",
    ),
    Path(
        "erase_user",
        "SELECT erase_user(:p_user_id)",
        (Arg("p_user_id", "uuid", U2),),
        (
            NOT_A_UUID,
            Refusal("22004", "erasure_user", "no user id given"),
            Refusal("P0002", "erasure_user", "no such user"),
            Refusal("42501", "erasure_actor", "neither the user nor an admin"),
            Refusal("22023", "erasure_once", "already erased"),
        ),
        function="erase_user(uuid)",
        setup=(AS_ADMIN,),
        effect=Effect(
            "the user's e-mail and name replaced in the live tables and the audit rows; one erasure_log row",
            tables=(
                "users",
                "projects",
                "templates",
                "patterns",
                "pattern_applications",
                "template_versions",
                "audit_log",
                "erasure_log",
            ),
            check=ERASED,
        ),
    ),
)


def _erase_stored(db, v: dict) -> None:  # noqa: ANN001
    db.execute(
        "INSERT INTO users (id, email, name) VALUES (?, 'probe@example.com', ?)", [v["p_user_id"], v["name"]]
    )
    db.fetchall("SELECT erase_user(?)", [v["p_user_id"]])


STORED = (
    Path(
        "erase_user, hostile name stored",
        _erase_stored,
        (
            Arg("name", "text", "Probe Person"),
            Arg("p_user_id", "uuid", PROBE_USER, False, "the new user's id (the hostile text is its name)"),
        ),
        (
            Refusal("23514", "ck_users_name_length", "a name of 1 to 255 characters"),
            Refusal("23502", None, "a name is required (NOT NULL)"),
        ),
        reaches="erase_user(uuid)",
        mode="rollback",
        setup=(AS_ADMIN,),
        effect=Effect(
            "the stored name is replaced in the user's row and in every audit image of it; one erasure_log row",
            tables=("users", "audit_log", "erasure_log"),
            check=ERASED + " AND NOT EXISTS (SELECT 1 FROM audit_log AS a WHERE a.record_id = users.id "
            "AND (a.old_values ->> 'name' = :name OR a.new_values ->> 'name' = :name))",
        ),
        note="the stored name becomes a regular expression inside erase_user: its metacharacters must be escaped",
    ),
)

# -- client paths: the access patterns' parameters and their cursors ------------------------------

DEFAULTS: dict[str, object] = {
    "owner": U1,
    "category": "framework",
    "q": "react",
    "template": T1,
    "project": P1,
    "table_name": "templates",
    "record": T1,
    "actor": U1,
    "name": "injection probe",
    "pattern": PT2,
}
KEY_DEFAULTS: dict[str, object] = {
    "updated_at": "2100-01-01T00:00:00+00:00",
    "id": "ffffffff-ffff-4fff-bfff-ffffffffffff",
    "project_count": 1_000_000,
    "relevance": 1.0,
    "seq": 1_000_000_000,
}


def _clean(p: access.Pattern, v: dict) -> dict:
    """The values as the access layer sends them (NUL removed from text, and so on)."""
    return {q.name: access.check_value(p.name, q, v[q.name]) for q in p.params}


def _created(p: access.Pattern):  # noqa: ANN202
    def check(db, v: dict) -> bool:  # noqa: ANN001
        c = _clean(p, v)
        return db.scalar(
            "SELECT count(*) = 1 FROM projects WHERE name = ? AND owner_id = CAST(? AS uuid) "
            "AND template_id = CAST(? AS uuid)",
            [c["name"], c["owner"], c["template"]],
        )

    return check


def _applied(p: access.Pattern):  # noqa: ANN202
    def check(db, v: dict) -> bool:  # noqa: ANN001
        c = _clean(p, v)
        return db.scalar(
            "SELECT count(*) = 1 FROM pattern_applications WHERE project_id = CAST(? AS uuid) "
            "AND pattern_id = CAST(? AS uuid) AND applied_by = CAST(? AS uuid)",
            [c["project"], c["pattern"], c["actor"]],
        )

    return check


WRITES = {
    "create_project": lambda p: Effect(
        "one project with the name as given (NUL removed); its audit row and the template's project count",
        tables=("projects", "templates", "audit_log"),
        check=_created(p),
    ),
    "apply_pattern": lambda p: Effect(
        "one application of the pattern to the project; its audit rows and the pattern's usage count",
        tables=("pattern_applications", "patterns", "audit_log"),
        check=_applied(p),
    ),
}
WRITE_REFUSALS = {
    "create_project": (
        Refusal("23514", "ck_projects_name_length", "a name of 2 to 100 characters"),
        Refusal("23502", None, "a name is required (NOT NULL)"),
    ),
}
SIGNED_REFUSALS = (
    Refusal("22P02", why="a sort key that is not of its type: the query's CAST refuses it"),
    Refusal("22007", why="a sort key that is not a timestamp: the query's CAST refuses it"),
    Refusal("22008", why="a timestamp out of range: the query's CAST refuses it"),
)


def _pattern_path(p: access.Pattern) -> Path:
    def call(db, v: dict) -> object:  # noqa: ANN001
        return access.run(db, p, v)

    missing = [q.name for q in p.params if q.name not in DEFAULTS]
    if missing:
        raise WorkbookError(
            f"injection: access pattern {p.name}: parameter(s) {', '.join(missing)} have no benign value in DEFAULTS"
        )
    return Path(
        f"access {p.name}",
        call,
        tuple(Arg(q.name, q.type, DEFAULTS[q.name]) for q in p.params),
        (WRONG_TYPE, *WRITE_REFUSALS.get(p.name, ())),
        mode="rollback" if p.write else "commit",
        effect=WRITES[p.name](p) if p.write else None,
    )


def _cursor_paths(p: access.Pattern) -> tuple[Path, Path]:
    values = {q.name: DEFAULTS[q.name] for q in p.params}
    keys = p.page.keys
    missing = [k for k in keys if k not in KEY_DEFAULTS]
    if missing:
        raise WorkbookError(
            f"injection: access pattern {p.name}: sort key(s) {', '.join(missing)} have no benign value in KEY_DEFAULTS"
        )

    def sent(db, v: dict) -> object:  # noqa: ANN001
        return access.run(db, p, values, after=v["after"])

    def signed(db, v: dict) -> object:  # noqa: ANN001
        return access.run(db, p, values, after=cursor.encode(p.name, {k: v[f"after_{k}"] for k in keys}))

    return (
        Path(
            f"cursor of {p.name}",
            sent,
            (Arg("after", "text", cursor.encode(p.name, {k: KEY_DEFAULTS[k] for k in keys})),),
            (BAD_CURSOR,),
            note="the cursor as a client sends it back; NULL asks for the first page",
        ),
        Path(
            f"signed cursor of {p.name}",
            signed,
            tuple(Arg(f"after_{k}", "text", KEY_DEFAULTS[k]) for k in keys),
            SIGNED_REFUSALS,
            note="a cursor signed with the server's key holding hostile sort-key values (a leaked key)",
        ),
    )


CLIENT = tuple(_pattern_path(p) for p in PATTERNS if p.params) + tuple(
    path for p in PATTERNS if p.page for path in _cursor_paths(p)
)

DECLARATION = Declaration(
    paths=CATALOG + STORED + CLIENT,
    names=("users", "templates"),
    session=SESSION,
    fixture=FIXTURE,
    untrusted=("workbook_app", "workbook_readonly", "workbook_nobody"),
    source="src/workbook/design/injection.py",
)


@contextmanager
def database():  # noqa: ANN201
    """A throwaway PostgreSQL, migrated, with the declaration's session settings and fixture rows."""
    from .. import migrate
    from ..engines import connect
    from ..injection import prepare

    with connect("postgres") as pg:
        migrate.migrate(pg)
        prepare(pg, DECLARATION)
        yield pg
