"""Small helpers to show results as GitHub-flavoured markdown in notebooks and the document."""

from __future__ import annotations

import re
from collections.abc import Sequence

_CODE_SPAN = re.compile(r"(`+)(?:.+?)(?<!`)\1(?!`)")


def escape_math(text: str) -> str:
    """Each dollar sign outside code spans put in a code span of its own.

    JupyterLab and GitHub typeset text between two dollar signs as math, and they disagree on
    escapes (JupyterLab typesets across a backslash-escaped dollar); neither looks inside code.
    """
    out, last = [], 0
    for m in _CODE_SPAN.finditer(text):
        out.append(text[last : m.start()].replace("$", "`$`"))
        out.append(m.group(0))
        last = m.end()
    out.append(text[last:].replace("$", "`$`"))
    return "".join(out)


def cell(value: object) -> str:
    """A value as a markdown table cell."""
    if value is None:
        return ""
    text = str(value).replace("|", "\\|")
    return escape_math(" ".join(text.split()))


def md_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A GFM pipe table."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


# Outputs longer than this many lines are folded in JupyterLab (the document keeps them whole).
FOLD_LINES = 40


class Markdown:
    """Markdown text that renders in JupyterLab and exports verbatim through nbconvert.

    The document is made from the text/markdown form. A long output also carries a text/html form,
    which JupyterLab prefers: the same content folded under a one-line summary and scrolling inside its
    own box, so a 300-row table or a dozen migrations do not bury the notebook.
    """

    def __init__(self, text: str, summary: str | None = None, *, fold: bool = True) -> None:
        self.text = text
        self.summary = summary
        self.fold = fold

    def _repr_markdown_(self) -> str:
        return self.text

    def _repr_html_(self) -> str | None:
        lines = self.text.count("\n") + 1
        if not self.fold or (lines <= FOLD_LINES and self.summary is None):
            return None
        return folded_html(self.text, self.summary or _summary(self.text))

    def __repr__(self) -> str:
        return self.text


def _summary(text: str) -> str:
    rows = sum(1 for line in text.splitlines() if line.startswith("|")) - 2
    if rows > 0 and text.lstrip().startswith("|"):
        return f"{rows} rows: click to show, scroll inside the box"
    return f"{text.count(chr(10)) + 1} lines: click to show, scroll inside the box"


def folded_html(markdown: str, summary: str) -> str:
    """Markdown rendered as HTML inside a closed <details> with a scrolling box (for JupyterLab only)."""
    from html import escape

    from markdown_it import MarkdownIt

    body = MarkdownIt("commonmark", {"html": True}).enable("table").render(markdown)
    return (
        '<details class="tex2jax_ignore"><summary>'
        + escape(summary)
        + '</summary><div style="max-height: 36em; overflow: auto">'
        + body
        + "</div></details>"
    )
