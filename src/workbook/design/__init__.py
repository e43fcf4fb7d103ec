"""Facts of this design that are not schema: who acts when the workbook's own tools write.

The schema itself lives in the migrations. Every change to an audited table needs an actor (the
transaction-local setting workbook.actor_id, migration V0013). Applications set it per transaction
to the signed-in user; the workbook's own tools act under these fixed ids, so their rows in
audit_log are recognisable.
"""

from __future__ import annotations

# The bad-input matrix, the findings' evidence and the demonstrations.
WORKBOOK_ACTOR = "00000000-0000-4000-8000-000000000000"
# A reviewer typing SQL into a notebook (nb.setup sets it for the notebook's PostgreSQL session).
REVIEWER_ACTOR = "00000000-0000-4000-8000-00000000000a"

ACTOR_SETTING = "workbook.actor_id"

# The trigger function that writes audit_log (migrations V0008, V0013): replay covers the tables it audits.
AUDIT_FUNCTION = "audit_trigger"

# Two migrations a later release might bring, used to show that audit history outlives schema change:
# rows recorded before the first lack `visibility`; rows recorded between them carry `legacy_note`.
LATER_MIGRATIONS = {
    "V9001__projects_visibility.sql": (
        "-- A later release: projects get a visibility, and a note column that the next release drops.\n"
        "ALTER TABLE projects ADD COLUMN visibility TEXT NOT NULL DEFAULT 'private';\n"
        "ALTER TABLE projects ADD COLUMN legacy_note TEXT;\n"
    ),
    "V9002__drop_projects_legacy_note.sql": (
        "-- The release after: the note column goes; audit images that hold it stay as they were.\n"
        "ALTER TABLE projects DROP COLUMN legacy_note;\n"
    ),
}
