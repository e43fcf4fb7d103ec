"""Plots of the synthetic data's distributions, as deterministic SVG."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from .engines import Engine  # noqa: E402
from .render import SVG  # noqa: E402

plt.rcParams["svg.hashsalt"] = "workbook"  # stable element ids
plt.rcParams["svg.fonttype"] = "none"  # text as text: smaller, no glyph paths


def _svg(fig) -> SVG:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None, "Creator": None})
    plt.close(fig)
    return SVG(buf.getvalue())


def template_popularity(db: Engine) -> SVG:
    """Rank-frequency of projects per template on log-log axes (a Zipf law is a straight line)."""
    counts = [
        r[0]
        for r in db.fetchall(
            "SELECT count(*) AS n FROM projects WHERE template_id IS NOT NULL GROUP BY template_id ORDER BY n DESC"
        )
    ]
    fig, ax = plt.subplots(figsize=(6, 3.6))
    ax.loglog(range(1, len(counts) + 1), counts, marker=".", linestyle="none", markersize=3)
    ax.set_xlabel("template rank")
    ax.set_ylabel("projects using it")
    ax.set_title("Template popularity (rank-frequency)")
    return _svg(fig)


def projects_per_user(db: Engine) -> SVG:
    """Histogram of projects per user (log count axis: the tail is long)."""
    counts = [
        r[0]
        for r in db.fetchall(
            "SELECT count(p.id) FROM users AS u LEFT JOIN projects AS p ON p.owner_id = u.id GROUP BY u.id"
        )
    ]
    fig, ax = plt.subplots(figsize=(6, 3.6))
    ax.hist(counts, bins=50, log=True)
    ax.set_xlabel("projects owned")
    ax.set_ylabel("users (log)")
    ax.set_title("Projects per user")
    return _svg(fig)


def creation_timeline(db: Engine) -> SVG:
    """Rows created per quarter for users, templates and projects."""
    fig, ax = plt.subplots(figsize=(6, 3.6))
    for table in ("users", "templates", "projects"):
        rows = db.fetchall(
            f"SELECT date_trunc('quarter', created_at AT TIME ZONE 'UTC') AS q, count(*) FROM {table} GROUP BY q ORDER BY q"
        )
        ax.plot([r[0] for r in rows], [r[1] for r in rows], label=table)
    ax.set_yscale("log")
    ax.set_ylabel("rows created per quarter (log)")
    ax.set_title("Creation timeline")
    ax.legend()
    return _svg(fig)


def conditional_shares(cells, row_label: str, col_label: str, title: str) -> SVG:
    """A contingency table as each row's shares across the columns: under independence every row looks alike."""
    import numpy as np

    rows = sorted({r for r, _, _ in cells}, key=str)
    cols = sorted({c for _, c, _ in cells}, key=str)
    table = np.zeros((len(rows), len(cols)))
    for r, c, n in cells:
        table[rows.index(r), cols.index(c)] += n
    shares = table / table.sum(axis=1, keepdims=True)
    fig, ax = plt.subplots(figsize=(6, 0.5 + 0.32 * len(rows)))
    left = np.zeros(len(rows))
    for j, col in enumerate(cols):
        ax.barh([str(r) for r in rows], shares[:, j], left=left, label=str(col))
        left += shares[:, j]
    ax.set_xlim(0, 1)
    ax.set_xlabel(f"share of the rows, by {col_label}")
    ax.set_ylabel(row_label)
    ax.set_title(title)
    ax.invert_yaxis()
    ax.legend(title=col_label, bbox_to_anchor=(1.02, 1), loc="upper left", fontsize="small")
    return _svg(fig)
