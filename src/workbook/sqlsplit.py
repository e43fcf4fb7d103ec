"""Split a SQL script into statements, aware of quotes, comments and $$ bodies."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import WorkbookError

_DOLLAR = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)?\$")


@dataclass(frozen=True)
class Statement:
    """One statement of a script, with the 1-based line where it starts."""

    sql: str
    line: int

    @property
    def head(self) -> str:
        """The statement's first line, for error messages."""
        return self.sql.strip().splitlines()[0][:80]


def _unterminated(source: str, text: str, start: int, what: str) -> WorkbookError:
    line = text.count("\n", 0, start) + 1
    return WorkbookError(
        f"{source}:{line}: unterminated {what} starting here; it would swallow the rest of the file "
        "(nothing was run)"
    )


def split_sql(text: str, source: str = "<sql>") -> list[Statement]:
    """Split text on top-level semicolons; comments outside statements are dropped.

    An unterminated quote, dollar-quoted body or block comment is an error naming `source` and the
    line where it opens: silently taking the rest of the file as one statement would lose statements.
    """
    statements: list[Statement] = []
    buf: list[str] = []
    start_line: int | None = None
    i, n, line = 0, len(text), 1

    def flush() -> None:
        nonlocal buf, start_line
        sql = "".join(buf).strip()
        if sql and start_line is not None:
            statements.append(Statement(sql, start_line))
        buf, start_line = [], None

    while i < n:
        ch = text[i]
        if ch == "-" and text.startswith("--", i):
            end = text.find("\n", i)
            end = n if end == -1 else end
            if start_line is not None:
                buf.append(text[i:end])
            i = end
            continue
        if ch == "/" and text.startswith("/*", i):
            end = text.find("*/", i + 2)
            if end == -1:
                raise _unterminated(source, text, i, "block comment /*")
            end += 2
            line += text.count("\n", i, end)
            i = end
            continue
        if ch == ";":
            flush()
            i += 1
            continue
        if start_line is None and not ch.isspace():
            start_line = line
        if ch in "'\"":
            end = i + 1
            while end < n:
                if text[end] == ch:
                    if end + 1 < n and text[end + 1] == ch:
                        end += 2
                        continue
                    break
                end += 1
            if end >= n:
                raise _unterminated(
                    source, text, i, "quoted string " + ch if ch == "'" else "quoted name " + ch
                )
            end += 1
        elif ch == "$" and (m := _DOLLAR.match(text, i)):
            close = text.find(m.group(0), m.end())
            if close == -1:
                raise _unterminated(source, text, i, f"dollar-quoted body {m.group(0)}")
            end = close + len(m.group(0))
        else:
            end = i + 1
        chunk = text[i:end]
        line += chunk.count("\n")
        buf.append(chunk)
        i = end
    flush()
    return statements
