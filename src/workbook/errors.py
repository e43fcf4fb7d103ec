"""Errors a user can cause: each renders as one line naming the file, statement or setting."""


class WorkbookError(Exception):
    """A user-facing error whose message is a single line."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(str(message).split()))


def first_line(exc: BaseException) -> str:
    """The first line of an engine's error message (its class name when the message is empty)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class DatabaseBusy(WorkbookError):
    """Another process holds the database (DuckDB: one writer per file); `pid` is that process."""

    def __init__(self, message: str, pid: int | None = None) -> None:
        super().__init__(message)
        self.pid = pid
