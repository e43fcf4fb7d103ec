"""This design's expand and contract: `users.name` becomes `users.display_name` in five steps.

The column. `users.name` is "Full name as shown to other users" (V0002), but `name` is also the
column name in projects, templates and patterns, so every join of users with them needs aliases.
`display_name` says what the column holds. The rename is also the plain case. The column has one
CHECK (ck_users_name_length), no index, no view over it, no function body that reads it and no
generated column. The other two candidates each bring a problem of their own:
`templates.name` feeds the generated `search_vector` (V0019) and its GIN index, so dropping it would
drop and rebuild both, and it is part of uq_templates_name_version. `projects.name` is pinned by
the `active_projects` view (V0009's `SELECT *` is expanded when the view is created) and sits in a
live-rows unique index.

The two application versions. v1 is today's code and reads and writes `name`. v2 is the new code
and uses `display_name`. Each reaches `users` through its own version schema (`<schema>_v1`,
`<schema>_v2`, on its search_path before the base schema; pgroll's versioned schemas). Each
version schema holds one view that shows the columns under that version's names. Each version
inserts a row, updates it, reads it back, reads the row the *other* version wrote in the same step,
and reads a row that existed before the change.

Views work with the audit trail. A write through a simple view is a write on `users`, so the audit
trigger (V0013, V0019) fires once, on the base table, with the base table's name and row image. It
records the actor of the writer's transaction. No INSTEAD OF trigger is needed, so nothing writes
twice.

`RENAME_BY_COPY`, the design's change, with up and down triggers:
  0 baseline   v1's version schema (pgroll's baseline). v2 breaks: there is no display_name yet.
  1 expand     add display_name, then a BEFORE trigger that copies a write of either column to the
               other (`up` name -> display_name, `down` display_name -> name; which column the write
               changed decides the direction, and a write that changes both to different values is
               refused). The backfill runs with the table's triggers off. Then v2's version schema.
  2 constrain  display_name's own rules, NOT VALID: new writes are checked and no row is scanned.
  3 validate   the rules checked against every row; NOT NULL taken from the validated CHECK.
               Between here and contract every reader and writer moves to v2.
  4 contract   v1's version schema, the trigger and `name` go. v2 keeps working and v1 breaks.
The copy is more than a pure rename needs (see RENAME_BY_VIEW). It is pgroll's method for changes
that alter a column's type or rules, and it lets display_name take on its own constraints
while `name` still guards v1's writes.

The sync trigger neither loops nor writes twice. It runs BEFORE the row is stored and assigns to
NEW, so the write stays one row change. The audit trigger (AFTER) fires once, and set_updated_at
(V0011) fires once on an UPDATE. A BEFORE trigger can also fill `name` for a v2 insert before
NOT NULL is checked. `AFTER_TRIGGER_SYNC` shows the alternative failing: an AFTER trigger that
UPDATEs the other column writes a second audit row for each v1 write, and cannot rescue v2's insert
from `name`'s NOT NULL. (Its UPDATE also shows a trap. A trigger function resolves table names on
the *writer's* search_path, so without `SET search_path FROM CURRENT` its `users` would be v1's
view. The version schemas here hold `users` only. A version schema with its own templates or
patterns would also receive the UPDATEs of the counter triggers of V0016 and V0017.)

The backfill follows V0017: it is not a change anyone made, so it leaves no audit row and no new
updated_at. The step is one transaction, and its ADD COLUMN holds an ACCESS
EXCLUSIVE lock until commit, so every other session waits for the backfill. That is acceptable for
a small table. On a large one the backfill would be a step of its own, run in batches as pgroll
runs it, with the trigger keeping new writes in sync meanwhile.

Where this bends pgroll: a pgroll version schema has a view for every table, and a client's
search_path names that schema alone. Here the version schemas hold `users` only, and each version's
search_path falls through to the base schema for every other table.

The audit trail. The run's counter is the number of audit rows, and every write must add exactly
one. Row images follow the physical table: `name` only at baseline, both columns (equal) from
expand to validate, `display_name` only after contract. A v2 write through RENAME_BY_VIEW is recorded
under `name` until contract, because the trail records the table and not the view. Images written
before contract keep `name`: history is not rewritten, as with LATER_MIGRATIONS in this package.

`NAIVE_RENAME` is the single `ALTER TABLE users RENAME COLUMN name TO display_name`, declared
the way someone would run it believing both versions survive. The matrix shows that no moment
exists when both work: v2 breaks before the rename and v1 breaks after it.
"""

from __future__ import annotations

from ..expand_contract import AppVersion, Change, Counter, Query, Ref, Step
from . import WORKBOOK_ACTOR

OLD, NEW = "v1", "v2"
EXISTING = ("early@example.com", "Early Adopter")  # a user from before the change


def _version(name: str, column: str, first: str, second: str, other: str) -> AppVersion:
    """One application version: its search_path, and the same five queries on its own column name."""
    return AppVersion(
        name,
        (
            Query(
                "insert",
                f"INSERT INTO users (email, {column}) VALUES (?, ?) RETURNING id",
                (f"{name}-{{step}}@example.com", f"{first} {{step}}"),
                write=True,
                delta=1,
            ),
            Query(
                "update",
                f"UPDATE users SET {column} = ? WHERE id = ? RETURNING {column}",
                (f"{first} {second} {{step}}", Ref(name, "insert")),
                expect=(f"{first} {second} {{step}}",),
                write=True,
                delta=1,
            ),
            Query(
                "read own",
                f"SELECT {column} FROM users WHERE id = ?",
                (Ref(name, "insert"),),
                expect=(f"{first} {second} {{step}}",),
                delta=0,
            ),
            Query(
                "read other's",
                f"SELECT {column} FROM users WHERE id = ?",
                (Ref(other, "insert"),),
                expect=(f"{_PEOPLE[other][0]} {_PEOPLE[other][1]} {{step}}",),
                delta=0,
            ),
            Query(
                "read existing",
                f"SELECT {column} FROM users WHERE email = ?",
                (EXISTING[0],),
                expect=(EXISTING[1],),
                delta=0,
            ),
        ),
        session=(f'SET search_path TO "{{schema}}_{name}", "{{schema}}"',),
        note=f"reads and writes users.{column}",
    )


_PEOPLE = {OLD: ("Ada", "Lovelace"), NEW: ("Grace", "Hopper")}
V1 = _version(OLD, "name", *_PEOPLE[OLD], other=NEW)
V2 = _version(NEW, "display_name", *_PEOPLE[NEW], other=OLD)
VERSIONS = (V1, V2)

SEED = (f"INSERT INTO users (email, name) VALUES ('{EXISTING[0]}', '{EXISTING[1]}')",)
AUDIT_ROWS = Counter("audit rows", "SELECT count(*) FROM audit_log")
TEARDOWN = (
    'DROP SCHEMA IF EXISTS "{schema}_v1" CASCADE',
    'DROP SCHEMA IF EXISTS "{schema}_v2" CASCADE',
)

BASELINE = Step(
    "baseline",
    (
        'CREATE SCHEMA "{schema}_v1"',
        'CREATE VIEW "{schema}_v1".users AS SELECT id, email, name, role, active, created_at, updated_at FROM users',
    ),
    works=(OLD,),
    breaks=(NEW,),
    note="v1's version schema; v2 finds no display_name",
)

SYNC_FUNCTION = """
CREATE FUNCTION sync_users_display_name() RETURNS TRIGGER
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NEW.display_name IS NULL THEN
            NEW.display_name := NEW.name;                 -- up: written by v1
        ELSIF NEW.name IS NULL THEN
            NEW.name := NEW.display_name;                 -- down: written by v2
        END IF;
    ELSIF NEW.name IS DISTINCT FROM OLD.name AND NEW.display_name IS NOT DISTINCT FROM OLD.display_name THEN
        NEW.display_name := NEW.name;
    ELSIF NEW.display_name IS DISTINCT FROM OLD.display_name AND NEW.name IS NOT DISTINCT FROM OLD.name THEN
        NEW.name := NEW.display_name;
    END IF;
    IF NEW.name IS DISTINCT FROM NEW.display_name THEN
        RAISE EXCEPTION 'expand/contract: users.name and users.display_name were written with different values'
            USING ERRCODE = 'check_violation', CONSTRAINT = 'users_name_display_name_in_step';
    END IF;
    RETURN NEW;
END;
$$"""

EXPAND = Step(
    "expand",
    (
        "ALTER TABLE users ADD COLUMN display_name TEXT",
        SYNC_FUNCTION,
        "CREATE TRIGGER trg_users_sync_display_name BEFORE INSERT OR UPDATE OF name, display_name ON users "
        "FOR EACH ROW EXECUTE FUNCTION sync_users_display_name()",
        # A backfill is not a change anyone made (V0017): no audit row, no new updated_at.
        "ALTER TABLE users DISABLE TRIGGER USER",
        "UPDATE users SET display_name = name WHERE display_name IS NULL",
        "ALTER TABLE users ENABLE TRIGGER USER",
        'CREATE SCHEMA "{schema}_v2"',
        'CREATE VIEW "{schema}_v2".users AS SELECT id, email, display_name, role, active, created_at, updated_at FROM users',
    ),
    works=(OLD, NEW),
    note="display_name added, kept equal to name by a BEFORE trigger, backfilled; v2's version schema",
)

CONSTRAIN = Step(
    "constrain",
    (
        "ALTER TABLE users ADD CONSTRAINT ck_users_display_name_length "
        "CHECK (char_length(display_name) BETWEEN 1 AND 255) NOT VALID",
        "ALTER TABLE users ADD CONSTRAINT ck_users_display_name_not_null CHECK (display_name IS NOT NULL) NOT VALID",
    ),
    works=(OLD, NEW),
    note="display_name's own rules, checked on new writes only",
)

VALIDATE = Step(
    "validate",
    (
        "ALTER TABLE users VALIDATE CONSTRAINT ck_users_display_name_length",
        "ALTER TABLE users VALIDATE CONSTRAINT ck_users_display_name_not_null",
        "ALTER TABLE users ALTER COLUMN display_name SET NOT NULL",  # proven by the validated CHECK: no scan
        "ALTER TABLE users DROP CONSTRAINT ck_users_display_name_not_null",
        "COMMENT ON CONSTRAINT ck_users_display_name_length ON users IS "
        "'A user''s display name has 1 to 255 characters.'",
    ),
    works=(OLD, NEW),
    note="the rules hold for every row; readers and writers move to v2 after this",
)

CONTRACT = Step(
    "contract",
    (
        'DROP VIEW "{schema}_v1".users',
        'DROP SCHEMA "{schema}_v1"',
        "DROP TRIGGER trg_users_sync_display_name ON users",
        "DROP FUNCTION sync_users_display_name()",
        "ALTER TABLE users DROP COLUMN name",  # ck_users_name_length goes with it
        "COMMENT ON COLUMN users.display_name IS 'Full name as shown to other users.'",
    ),
    works=(NEW,),
    breaks=(OLD,),
    note="name, its trigger and v1's version schema dropped",
)

RENAME_BY_COPY = Change(
    "rename users.name to display_name (copy, up/down triggers)",
    (BASELINE, EXPAND, CONSTRAIN, VALIDATE, CONTRACT),
    VERSIONS,
    seed=SEED,
    counter=AUDIT_ROWS,
    actor=WORKBOOK_ACTOR,
    teardown=TEARDOWN,
    note="the design's change: both columns in the table during the window, kept equal by a BEFORE trigger",
)

RENAME_BY_VIEW = Change(
    "rename users.name to display_name (views only)",
    (
        BASELINE,
        Step(
            "expand",
            (
                'CREATE SCHEMA "{schema}_v2"',
                'CREATE VIEW "{schema}_v2".users AS SELECT id, email, name AS display_name, role, active, created_at, updated_at FROM users',
            ),
            works=(OLD, NEW),
            note="v2's version schema shows name as display_name",
        ),
        Step(
            "contract",
            (
                'DROP VIEW "{schema}_v1".users',
                'DROP SCHEMA "{schema}_v1"',
                "ALTER TABLE users RENAME COLUMN name TO display_name",  # v2's view follows the column
                "ALTER TABLE users RENAME CONSTRAINT ck_users_name_length TO ck_users_display_name_length",
                "COMMENT ON COLUMN users.display_name IS 'Full name as shown to other users.'",
            ),
            works=(NEW,),
            breaks=(OLD,),
            note="v1's version schema dropped, the column renamed under v2's view",
        ),
    ),
    VERSIONS,
    seed=SEED,
    counter=AUDIT_ROWS,
    actor=WORKBOOK_ACTOR,
    teardown=TEARDOWN,
    note="pgroll's rename_column: no copy, no trigger; the table keeps name until contract",
)

NAIVE_RENAME = Change(
    "rename users.name to display_name (naive: one ALTER)",
    (
        Step("baseline", (), works=(OLD,), breaks=(NEW,), note="no version schemas: both apps use the table"),
        Step(
            "rename",
            ("ALTER TABLE users RENAME COLUMN name TO display_name",),
            works=(OLD, NEW),  # what someone running it believes
            note="one ALTER, believed safe for both",
        ),
    ),
    VERSIONS,
    seed=SEED,
    counter=AUDIT_ROWS,
    actor=WORKBOOK_ACTOR,
    teardown=TEARDOWN,
    note="the rename in one statement: the old application breaks the moment it commits",
)

AFTER_TRIGGER_SYNC = Change(
    "rename users.name to display_name (sync by an AFTER trigger: wrong)",
    (
        BASELINE,
        Step(
            "expand",
            (
                "ALTER TABLE users ADD COLUMN display_name TEXT",
                """
CREATE FUNCTION sync_users_display_name() RETURNS TRIGGER
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    IF pg_trigger_depth() = 1 AND NEW.display_name IS DISTINCT FROM NEW.name THEN
        UPDATE users SET display_name = NEW.name WHERE id = NEW.id;  -- a second write of the row
    END IF;
    RETURN NULL;
END;
$$""",
                "CREATE TRIGGER trg_users_sync_display_name AFTER INSERT OR UPDATE OF name ON users "
                "FOR EACH ROW EXECUTE FUNCTION sync_users_display_name()",
                "ALTER TABLE users DISABLE TRIGGER USER",
                "UPDATE users SET display_name = name WHERE display_name IS NULL",
                "ALTER TABLE users ENABLE TRIGGER USER",
                'CREATE SCHEMA "{schema}_v2"',
                'CREATE VIEW "{schema}_v2".users AS SELECT id, email, display_name, role, active, created_at, updated_at FROM users',
            ),
            works=(OLD, NEW),  # what someone writing it believes
            note="the copy done after the row is stored, by a second UPDATE",
        ),
    ),
    VERSIONS,
    seed=SEED,
    counter=AUDIT_ROWS,
    actor=WORKBOOK_ACTOR,
    teardown=TEARDOWN,
    note="counter-example: two audit rows per v1 write, and v2's insert refused by name's NOT NULL",
)

CHANGES = (RENAME_BY_COPY, RENAME_BY_VIEW, NAIVE_RENAME, AFTER_TRIGGER_SYNC)

# What the audit trail recorded for the users rows of a run, in the order of the changes: which of
# the two column names each row image holds. The e-mail says which version wrote it, after which step.
AUDIT_IMAGES_SQL = """
SELECT row_number() OVER (ORDER BY a.seq) AS n,
       a.operation,
       COALESCE(a.new_values, a.old_values) ->> 'email' AS email,
       a.new_values ->> 'name' AS name,
       a.new_values ->> 'display_name' AS display_name,
       a.new_values ? 'name' AS has_name,
       a.new_values ? 'display_name' AS has_display_name
FROM audit_log AS a
WHERE a.table_name = 'users'
ORDER BY a.seq
"""
