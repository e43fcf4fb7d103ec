"""Small helpers to show results as GitHub-flavoured markdown in notebooks and the document."""

from __future__ import annotations

from collections.abc import Sequence


def cell(value: object) -> str:
    """A value as a markdown table cell."""
    if value is None:
        return ""
    text = str(value).replace("|", "\\|")
    return " ".join(text.split())


def md_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A GFM pipe table."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


class Markdown:
    """Markdown text that renders in JupyterLab and exports verbatim through nbconvert."""

    def __init__(self, text: str) -> None:
        self.text = text

    def _repr_markdown_(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return self.text
