"""The migration strategy's bad inputs, each a file added to a copy of the migrations folder.

Each case is (label, file name, bytes, the start of the one-line message the runner must give).
The Migration Strategy section runs every one on both engines and shows the message; a case whose
message changes, or that leaves anything behind, fails the build.
"""

from __future__ import annotations

BAD_FILES: list[tuple[str, str, bytes, str]] = [
    (
        "a file with its own BEGIN/COMMIT (the seed's example)",
        "V9001__own_transaction.sql",
        b"BEGIN;\nALTER TABLE templates ADD COLUMN tags2 TEXT[];\nCOMMIT;\n",
        "V9001__own_transaction.sql:1: BEGIN in a migration",
    ),
    (
        "COMMIT, then an error",
        "V9001__commit_then_error.sql",
        b"CREATE TABLE t_before (id INT);\nCOMMIT;\nCREATE TABLE t_after (id INT);\nSELECT missing_column FROM t_after;\n",
        "V9001__commit_then_error.sql:2: COMMIT in a migration",
    ),
    (
        "CREATE INDEX CONCURRENTLY inside a transaction",
        "V9001__concurrent.sql",
        b"CREATE INDEX CONCURRENTLY ix_users_name ON users (name);\n",
        "V9001__concurrent.sql:1: CONCURRENTLY cannot run inside a transaction",
    ),
    (
        "a schema change in a no-transaction file",
        "V9001__no_tx_alter.sql",
        b"-- workbook: no-transaction\nALTER TABLE users ADD COLUMN nickname TEXT;\n",
        "V9001__no_tx_alter.sql:2: a '-- workbook: no-transaction' file holds only",
    ),
    (
        "an unknown directive",
        "V9001__directive.sql",
        b"-- workbook: no-transactions\nCREATE TABLE t1 (id INT);\n",
        "V9001__directive.sql:1: unknown directive 'workbook: no-transactions'",
    ),
    (
        "invalid UTF-8",
        "V9001__latin1.sql",
        b"CREATE TABLE t1 (id INT);\nCOMMENT ON TABLE t1 IS 'caf\xe9';\n",
        "V9001__latin1.sql:2: not valid UTF-8",
    ),
    (
        "an unterminated quote",
        "V9001__quote.sql",
        b"CREATE TABLE t1 (id INT);\nINSERT INTO t1 VALUES ('x);\n",
        "V9001__quote.sql:2: unterminated quoted string",
    ),
    (
        "an unterminated $$ body",
        "V9001__dollar.sql",
        b"CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $$\nSELECT 1;\n",
        "V9001__dollar.sql:1: unterminated dollar-quoted body",
    ),
]
