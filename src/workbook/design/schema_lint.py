"""The design's review of the schema lint: one line per accepted hit, keyed by (rule, object).

`workbook.schema_lint` runs its rules on the live PostgreSQL catalog after every migration and joins
each hit with the line here for its (rule, object); a hit without one, or a line that matches no hit,
fails the build. A new migration therefore either passes the lint or gets a line here saying why not.
A line that begins "TO FIX:" is a real defect accepted only until a later migration fixes it; it says
what that migration does.

Objects: a table as `table`, a column as `table.column`, a constraint or index as `table.name`.
"""

from __future__ import annotations

# Why no index serves the foreign keys to users: no role the application uses deletes a user.
_USERS_STAY = (
    "users are never deleted: workbook_app holds SELECT, INSERT, UPDATE on users and no DELETE (V0026), "
    "erase_user() keeps the row under a pseudonym (V0025), and no access pattern changes a user's id, "
    "so the action that would scan this table never runs"
)

REASONS: dict[tuple[str, str], str] = {
    ("fk-without-index", "pattern_applications.fk_pattern_applications_applied_by_users"): (
        f"Accepted: {_USERS_STAY}; no access pattern reads applications by who applied them."
    ),
    ("fk-without-index", "projects.fk_projects_owner_id_users"): (
        f"Accepted: {_USERS_STAY}. A user's projects are read through ix_projects_owner_live_recent "
        "(live rows only); finding F10's premise that uq_projects_owner_id_name serves this key ended when "
        "V0014 made that index partial."
    ),
}
