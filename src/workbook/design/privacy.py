"""The PII inventory: every column of the design, classified (Security and Privacy).

One declaration, read by `workbook.privacy`: the build fails on a column of the live catalog that
has no class here, and on a class for a column that no longer exists. The document shows the
inventory, and what of it the audit log copies into its old and new values.

Classes:
  none       nothing about a person.
  personal   identifies a person or is about one: an e-mail, a name, what they wrote, the id that
             links a row to a user (a pseudonymous key: it names nobody once erasure has replaced
             the e-mail and name it stood for).
  sensitive  may hold secrets or copies of anything above: configuration documents people paste
             credentials into, and the audit trail's row images.
"""

from __future__ import annotations

CLASSES = ("none", "personal", "sensitive")

_ID = ("none", "surrogate key")
_TIME = ("none", "when the row changed")
_USER_REF = ("personal", "pseudonymous key of the user who owns or did this")

# table -> column -> (class, why)
COLUMNS: dict[str, dict[str, tuple[str, str]]] = {
    "users": {
        "id": ("personal", "the user's pseudonymous key, referenced by their rows and the audit trail"),
        "email": ("personal", "identifies the person and reaches them; erase_user() replaces it"),
        "name": ("personal", "identifies the person; erase_user() replaces it"),
        "role": ("none", "authorisation role"),
        "active": ("none", "account state"),
        "created_at": ("personal", "when the person signed up"),
        "updated_at": _TIME,
    },
    "templates": {
        "id": _ID,
        "name": ("none", "published catalogue text"),
        "description": ("personal", "free text the author wrote, which may name people"),
        "category": ("none", "catalogue grouping"),
        "version": ("none", "semantic version"),
        "author_id": _USER_REF,
        "schema": ("none", "template structure"),
        "published": ("none", "visibility"),
        "created_at": _TIME,
        "updated_at": _TIME,
        "deleted_at": _TIME,
        "project_count": ("none", "derived count"),
        "search_vector": ("personal", "derived from name and description; regenerated when they change"),
        "tags": ("none", "catalogue labels"),
    },
    "projects": {
        "id": _ID,
        "name": ("personal", "what a user called their project"),
        "description": ("personal", "free text the owner wrote"),
        "owner_id": _USER_REF,
        "template_id": ("none", "the template used"),
        "configuration": (
            "sensitive",
            "a configuration document; owners paste hosts and credentials into these",
        ),
        "created_at": _TIME,
        "updated_at": _TIME,
        "deleted_at": _TIME,
    },
    "patterns": {
        "id": _ID,
        "name": ("none", "catalogue text"),
        "description": ("none", "catalogue text"),
        "template_id": ("none", "the template it belongs to"),
        "configuration": ("sensitive", "a configuration document, as projects.configuration"),
        "usage_count": ("none", "derived count"),
        "created_at": _TIME,
        "updated_at": _TIME,
        "deleted_at": _TIME,
    },
    "pattern_applications": {
        "id": _ID,
        "project_id": ("none", "the project"),
        "pattern_id": ("none", "the pattern"),
        "applied_by": _USER_REF,
        "configuration": ("sensitive", "the overrides applied, a configuration document"),
        "applied_at": ("personal", "when a person acted"),
    },
    "template_versions": {
        "id": _ID,
        "template_id": ("none", "the template"),
        "version": ("none", "semantic version"),
        "content": ("none", "template content"),
        "changelog": ("personal", "free text the author wrote"),
        "created_at": _TIME,
        "created_by": _USER_REF,
    },
    "audit_log": {
        "id": _ID,
        "table_name": ("none", "which table"),
        "record_id": ("personal", "which row: a user's pseudonymous key when the row is a user"),
        "operation": ("none", "INSERT, UPDATE or DELETE"),
        "old_values": ("sensitive", "a copy of the row before the change: every class of its table"),
        "new_values": ("sensitive", "a copy of the row after the change: every class of its table"),
        "changed_by": _USER_REF,
        "changed_at": ("personal", "when a person acted"),
        "seq": ("none", "order of changes"),
        "txid": ("none", "transaction id"),
    },
    "erasure_log": {
        "id": _ID,
        "user_id": ("personal", "the erased user's pseudonymous key (the e-mail and name are gone)"),
        "erased_at": _TIME,
        "erased_by": _USER_REF,
        "rows_redacted": ("none", "a count"),
        "audit_rows_redacted": ("none", "a count"),
    },
    "schema_migrations": {
        "version": ("none", "migration version"),
        "description": ("none", "from the file name"),
        "applied_at": ("none", "when the file was applied"),
        "checksum": ("none", "sha256"),
        "state": ("none", "applied or failed"),
        "installed_by": ("personal", "the operating-system login of the staff member who migrated"),
        "execution_ms": ("none", "duration"),
        "error": ("none", "the error line"),
    },
    "schema_migration_repairs": {
        "version": ("none", "migration version"),
        "old_checksum": ("none", "sha256"),
        "new_checksum": ("none", "sha256"),
        "reason": ("none", "review note"),
        "repaired_by": ("personal", "the staff member who reviewed the edit"),
        "repaired_at": ("none", "when"),
    },
    "migration_log": {
        "id": _ID,
        "migration_name": ("none", "name"),
        "target_schema": ("none", "schema"),
        "target_table": ("none", "table"),
        "predicate": ("none", "SQL"),
        "migration_sql": ("none", "SQL"),
        "status": ("none", "state"),
        "run_by": _USER_REF,
        "started_at": _TIME,
        "backup_table": ("none", "name"),
        "backup_rows": ("none", "a count"),
        "backup_checksum": ("none", "checksum"),
        "backed_up_at": _TIME,
        "rows_changed": ("none", "a count"),
        "changed_checksum": ("none", "checksum"),
        "completed_at": _TIME,
        "failed_step": ("none", "step name"),
        "error_message": ("none", "the error"),
        "restored_by": _USER_REF,
        "restored_at": _TIME,
        "rows_restored": ("none", "a count"),
    },
}

# The audit trail's row images: which columns of table_name hold copies (derived in workbook.privacy
# from COLUMNS and the audited tables); the audit columns that hold images.
AUDIT_TABLE = "audit_log"
AUDIT_IMAGES = ("old_values", "new_values")

# The erasure demonstration: a person with a distinctive e-mail and name who signs up, writes,
# edits and is then erased; another user mentions the e-mail in their own project.
ERASURE_SUBJECT = {
    "id": "00000000-0000-4000-8000-00000000e001",
    "email": "Zofia.Quellbrunn@example.org",
    "name": 'Zofia "Zo" Quellbrunn',
}
ERASURE_OTHER = {"id": "00000000-0000-4000-8000-00000000e002", "email": "milo@example.org", "name": "Milo"}
ERASURE_ADMIN = {"id": "00000000-0000-4000-8000-00000000e003", "email": "root@example.org", "name": "Admin"}

_S, _O, _A = ERASURE_SUBJECT["id"], ERASURE_OTHER["id"], ERASURE_ADMIN["id"]
_TS = "00000000-0000-4000-8000-00000000e011"
_PS = "00000000-0000-4000-8000-00000000e021"
_PG = "00000000-0000-4000-8000-00000000e022"
_PO = "00000000-0000-4000-8000-00000000e023"
_QS = "00000000-0000-4000-8000-00000000e031"


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


_EMAIL, _NAME = _lit(ERASURE_SUBJECT["email"]), _lit(ERASURE_SUBJECT["name"])

# The first admin is created by whoever set the server up; see SCENARIO_SETUP.
SCENARIO_SETUP = (
    (
        _A,
        f"INSERT INTO users (id, email, name, role) VALUES ('{_A}', {_lit(ERASURE_ADMIN['email'])}, 'Admin', 'admin')",
    ),
)
# (actor, statement): what the subject and the others do before the request, as the application (role
# workbook_app) writes it: each statement in its own transaction, the actor set, row-level security on.
ERASURE_SCENARIO: tuple[tuple[str, str], ...] = (
    (_S, f"INSERT INTO users (id, email, name) VALUES ('{_S}', {_EMAIL}, {_NAME})"),
    (
        _O,
        f"INSERT INTO users (id, email, name) VALUES ('{_O}', {_lit(ERASURE_OTHER['email'])}, {_lit(ERASURE_OTHER['name'])})",
    ),
    (
        _S,
        "INSERT INTO templates (id, name, description, category, version, author_id, published) VALUES "
        f"('{_TS}', 'zq-starter', 'Starter kit by ' || {_NAME} || ' (' || {_EMAIL} || ')', 'web', '1.0.0', '{_S}', true)",
    ),
    (
        _S,
        f"SELECT create_template_version('{_TS}', '1.0.0', '{{}}', 'First release, ' || {_NAME}, '{_S}')",
    ),
    (
        _S,
        f"INSERT INTO patterns (id, name, description, template_id) VALUES ('{_QS}', 'zq-lint', 'Lint rules', '{_TS}')",
    ),
    (
        _S,
        "INSERT INTO projects (id, name, description, owner_id, template_id, configuration) VALUES "
        f"('{_PS}', 'zq-site', 'The site of ' || {_NAME}, '{_S}', '{_TS}', "
        f"jsonb_build_object('deploy', jsonb_build_object('notify', {_EMAIL}, 'owner', {_NAME})))",
    ),
    (
        _S,
        f"UPDATE projects SET description = {_NAME} || ' builds this; mail ' || upper({_EMAIL}) WHERE id = '{_PS}'",
    ),
    (
        _S,
        f"INSERT INTO projects (id, name, description, owner_id) VALUES ('{_PG}', 'zq-old', 'Draft of ' || {_NAME}, '{_S}')",
    ),
    (_S, f"DELETE FROM projects WHERE id = '{_PG}'"),
    (
        _S,
        f"INSERT INTO pattern_applications (project_id, pattern_id, applied_by, configuration) VALUES "
        f"('{_PS}', '{_QS}', '{_S}', jsonb_build_object('reviewer', {_EMAIL}))",
    ),
    (
        _O,
        f"INSERT INTO projects (id, name, description, owner_id) VALUES ('{_PO}', 'milo-site', "
        f"'Ask ' || {_EMAIL} || ' about the starter', '{_O}')",
    ),
    (_S, f"UPDATE users SET name = {_NAME} WHERE id = '{_S}'"),
)

# The request: the admin erases the subject (the user may also erase themselves).
ERASURE_REQUEST = {"user_id": _S, "actor": _A}
# Requests that must be refused: (what, user, actor, words of the refusal, tried after the request).
ERASURE_REFUSALS: tuple[tuple[str, str, str, str, bool], ...] = (
    ("another user asks", _S, _O, "only user", False),
    ("an unknown user", "00000000-0000-4000-8000-00000000dead", _A, "no user", False),
    ("a user id that is not a uuid", "zofia", _A, "is not a uuid", False),
    ("no acting user", _S, "", "no acting user", False),
    ("erasing twice", _S, _A, "already erased", True),
)
