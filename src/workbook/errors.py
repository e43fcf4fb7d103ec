"""Errors a user can cause: each renders as one line naming the file, statement or setting."""


class WorkbookError(Exception):
    """A user-facing error whose message is a single line."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(str(message).split()))
