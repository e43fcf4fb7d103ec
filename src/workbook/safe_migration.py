"""Safe data migrations from Python: run one through the design's procedure, restore it, show its steps.

The design declares a procedure that logs a data migration's start, backs up and verifies the rows it
may change, runs the change and records how it ended, and one that restores a completed migration
from its backup (see `Procedures`). The migration commits between its steps, which PostgreSQL allows
only to a CALL outside any transaction block, so it runs on the autocommit connection; the restore is
one transaction of its own, CALLed the same way. What runs here names no table of the design:
the procedures and their log come in as a `Procedures`, and the log's columns are their contract.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .engines import Engine
from .errors import WorkbookError, first_line
from .sqlsplit import Statement, split_sql


@dataclass(frozen=True)
class Procedures:
    """The design's names: `migrate(name, target, predicate, sql, INOUT log id)`, `restore(log id)`, the log."""

    migrate: str
    restore: str
    log: str


class MigrationFailed(WorkbookError):
    """A data migration that ended FAILED: its log row (committed) is `log`, the data is as it was."""

    def __init__(self, message: str, log: dict[str, Any]) -> None:
        self.log = log
        super().__init__(message)


def statements(path: Path) -> list[Statement]:
    """The statements of a SQL file, each checked with PostgreSQL's own parser (one-line error otherwise)."""
    from .migrate import check_postgres_syntax

    out = split_sql(Path(path).read_text(encoding="utf-8"), Path(path).name)
    for stmt in out:
        check_postgres_syntax(stmt, Path(path).name)
    return out


def install(engine: Engine, path: Path, procedures: Procedures) -> bool:
    """Apply the SQL file in one transaction unless its log already exists; True when it was applied."""
    _require_postgres(engine)
    if engine.table_exists(procedures.log):
        return False
    stmts = statements(path)
    with engine.transaction():
        for stmt in stmts:
            try:
                engine.execute(stmt.sql)
            except Exception as exc:
                raise WorkbookError(f"{Path(path).name}:{stmt.line}: {first_line(exc)}") from None
    return True


def _require_postgres(engine: Engine) -> None:
    if engine.name != "postgres":
        raise WorkbookError(f"safe data migrations run on PostgreSQL only (engine: {engine.name})")


def _outside_transaction(engine: Engine, what: str) -> None:
    """The procedures COMMIT between steps, which PostgreSQL allows only outside a transaction block."""
    import psycopg.pq

    _require_postgres(engine)
    con = engine.con  # type: ignore[attr-defined]
    if not con.autocommit or con.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        raise WorkbookError(f"{what}: call it outside a transaction block, on an autocommit connection")


class _Acting:
    """Act as `actor` for the session while the procedure runs (it commits, so a local setting would end)."""

    def __init__(self, engine: Engine, actor: str) -> None:
        from .design import ACTOR_SETTING

        self.engine, self.actor, self.setting = engine, actor, ACTOR_SETTING

    def __enter__(self) -> None:
        self.previous = self.engine.scalar("SELECT current_setting(?, true)", [self.setting])
        self.engine.execute("SELECT set_config(?, ?, false)", [self.setting, self.actor])

    def __exit__(self, *exc: object) -> None:
        self.engine.execute("SELECT set_config(?, ?, false)", [self.setting, self.previous or ""])


def log_row(engine: Engine, procedures: Procedures, log_id: int) -> dict[str, Any]:
    """One row of the design's migration log, as {column: value}."""
    cols, rows = engine.query(f"SELECT * FROM {procedures.log} WHERE id = ?", [log_id])
    if not rows:
        raise WorkbookError(f"{procedures.log}: no row with id {log_id}")
    return dict(zip(cols, rows[0], strict=True))


def _log_id(procedures: Procedures, exc: Exception) -> int | None:
    detail = getattr(getattr(exc, "diag", None), "message_detail", None) or ""
    m = re.search(rf"\b{re.escape(procedures.log)} id (\d+)", detail)
    return int(m.group(1)) if m else None


def run(
    engine: Engine, procedures: Procedures, name: str, target: str, predicate: str, sql: str, *, actor: str
) -> dict[str, Any]:
    """Run `sql` as a data migration of the `target` rows that match `predicate`; returns its log row.

    Raises MigrationFailed (with the committed FAILED row) when the migration failed after its start
    was logged, and WorkbookError when it was refused before (no actor, a target it cannot check).
    """
    _outside_transaction(engine, f"{procedures.migrate} {name!r}")
    with _Acting(engine, actor):
        try:
            log_id = engine.scalar(
                f"CALL {procedures.migrate}(?, ?, ?, ?, NULL)", [name, target, predicate, sql]
            )
        except Exception as exc:
            failed = _log_id(procedures, exc)
            if failed is None:
                raise WorkbookError(f"{procedures.migrate} {name!r} refused: {first_line(exc)}") from None
            row = log_row(engine, procedures, failed)
            raise MigrationFailed(
                f"{procedures.migrate} {name!r} FAILED at step {row.get('failed_step')} "
                f"({procedures.log} id {failed}; data unchanged): {first_line(exc)}",
                row,
            ) from None
    return log_row(engine, procedures, log_id)


def restore(engine: Engine, procedures: Procedures, log_id: int, *, actor: str) -> dict[str, Any]:
    """Put back the rows a completed migration changed, verified against its backup; returns the log row."""
    _outside_transaction(engine, f"{procedures.restore} {log_id}")
    with _Acting(engine, actor):
        try:
            engine.execute(f"CALL {procedures.restore}(?)", [log_id])
        except Exception as exc:
            raise WorkbookError(f"{procedures.restore} {log_id} refused: {first_line(exc)}") from None
    return log_row(engine, procedures, log_id)


def steps(row: dict[str, Any]) -> list[tuple[str, str, str]]:
    """The steps of one logged migration as (step, status, evidence), from its log row alone."""
    failed = row["status"] == "FAILED"
    out = [
        ("start", "STARTED", f"logged as {row['migration_name']!r} on {row['target_table']}, committed first")
    ]
    if row["backed_up_at"] is not None:
        out.append(
            (
                "backup",
                "BACKED_UP",
                f"{row['backup_rows']} rows into {row['backup_table']}; row count and checksum equal to the "
                "source's, committed before the change",
            )
        )
    if failed:
        out.append((row["failed_step"], "FAILED", f"{row['error_message']}; the step was rolled back"))
    elif row["completed_at"] is not None:
        out.append(
            ("change", "COMPLETED", f"{row['rows_changed']} rows changed, every one of them in the backup")
        )
    if row["restored_at"] is not None:
        out.append(
            ("restore", "RESTORED", f"{row['rows_restored']} rows put back; checksum equal to the backup's")
        )
    return out


def evidence_table(rows: list[dict[str, Any]]) -> str:
    """The steps and statuses of logged migrations as a markdown table (no times: the same every build)."""
    from .tables import md_table

    lines = []
    for row in rows:
        for step, status, evidence in steps(row):
            lines.append([row["id"], row["migration_name"], step, status, evidence])
    return md_table(["Log id", "Migration", "Step", "Status", "Evidence"], lines)
