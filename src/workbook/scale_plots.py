"""Scale curves drawn as deterministic SVG: work per SF for the document, latency per SF for JupyterLab."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from .render import SVG  # noqa: E402
from .scale import LABEL, Curves, fmt_slope  # noqa: E402

plt.rcParams["svg.hashsalt"] = "workbook"  # stable element ids
plt.rcParams["svg.fonttype"] = "none"  # text as text: smaller, no glyph paths

STYLES = ("-", "--", ":", "-.")
MARKERS = ("o", "s", "^", "v", "D", "P", "X", "<", ">", "*")


def _svg(fig) -> SVG:  # noqa: ANN001 - a matplotlib Figure
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None, "Creator": None})
    plt.close(fig)
    return SVG(buf.getvalue())


def _engines(c: Curves) -> list[str]:
    return list(dict.fromkeys(k[2] for k in c.keys()))


def _style(i: int) -> dict:
    """Colour, line style and marker of the i-th series: ten colours, then another line style."""
    return {
        "color": plt.get_cmap("tab10")(i % 10),
        "linestyle": STYLES[(i // 10) % len(STYLES)],
        "marker": MARKERS[i % len(MARKERS)],
    }


def _sf_axis(ax, c: Curves) -> None:  # noqa: ANN001 - matplotlib Axes
    """A log SF axis labelled at the measured scale factors only, with room either side."""
    from matplotlib.ticker import NullLocator

    ax.set_xscale("log")
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xticks(list(c.sfs), [f"{s:g}" for s in c.sfs])
    ax.margins(x=0.08)


def _log_y(ax) -> None:  # noqa: ANN001 - matplotlib Axes
    """A log y axis with plain numbers at the powers of ten and no minor labels."""
    from matplotlib.ticker import FuncFormatter, NullFormatter

    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:,.10g}"))
    ax.yaxis.set_minor_formatter(NullFormatter())


def _axes(n: int, height: float = 3.4):  # noqa: ANN202
    fig, axes = plt.subplots(n, 1, figsize=(7.5, height * n), squeeze=False)
    return fig, [row[0] for row in axes]


def plot_work(c: Curves) -> SVG:
    """Deterministic work of each pattern's case against SF, log-log, one panel per engine, flips marked."""
    from .scale import WORK

    engines = _engines(c)
    fig, axes = _axes(len(engines))
    flips = c.flips()
    for ax, engine in zip(axes, engines, strict=True):
        keys = [k for k in c.keys() if k[2] == engine and c.deterministic(*k)[0]]
        for i, key in enumerate(keys):
            pts = c.values(*key)
            if not pts:
                continue
            at = dict(pts)
            flipped = [f.sf for f in flips if (f.pattern, f.case, f.engine) == key and f.sf in at]
            label = f"{key[0]} · {key[1]} (slope {fmt_slope(c.slope(*key))}"
            label += f"; plan flips at SF {', '.join(f'{s:g}' for s in flipped)})" if flipped else ")"
            ax.plot([x for x, _ in pts], [y for _, y in pts], label=label, markersize=4, **_style(i))
            if flipped:
                ax.plot(
                    flipped,
                    [at[s] for s in flipped],
                    linestyle="none",
                    marker="o",
                    markersize=11,
                    fillstyle="none",
                    color="#c00000",
                )
        _log_y(ax)
        _sf_axis(ax, c)
        ax.set_xlabel("scale factor")
        ax.set_ylabel(WORK[engine].split(" (")[0])
        ax.set_title(
            f"{LABEL[engine]}: work per first page (a red ring: the plan changed at that SF)", fontsize=10
        )
        ax.legend(fontsize=7, bbox_to_anchor=(1.02, 1), loc="upper left")
        ax.grid(True, which="major", linewidth=0.3)
    fig.tight_layout()
    return _svg(fig)


def plot_latency(c: Curves) -> SVG:
    """Median first-page latency against SF, with (solid) and without (dashed) the supporting index."""
    engines = _engines(c)
    fig, axes = _axes(len(engines))
    for ax, engine in zip(axes, engines, strict=True):
        keys = [k for k in c.keys() if k[2] == engine]
        for i, key in enumerate(keys):
            style = {**_style(i), "linestyle": "-"}
            pts = c.values(*key, measure="median_ms")
            if pts:
                ax.plot(
                    [x for x, _ in pts],
                    [y for _, y in pts],
                    label=f"{key[0]} · {key[1]}",
                    markersize=4,
                    **style,
                )
            bare = c.values(*key, measure="no_index_ms")
            if bare:
                ax.plot(
                    [x for x, _ in bare],
                    [y for _, y in bare],
                    markersize=4,
                    **{**style, "linestyle": "--", "alpha": 0.7},
                )
        _log_y(ax)
        _sf_axis(ax, c)
        ax.set_xlabel("scale factor")
        ax.set_ylabel(f"median of {c.runs} runs (ms)")
        ax.set_title(
            f"{LABEL[engine]}: first-page latency (dashed: without its supporting index)", fontsize=10
        )
        ax.legend(fontsize=7, bbox_to_anchor=(1.02, 1), loc="upper left")
        ax.grid(True, which="major", linewidth=0.3)
    fig.tight_layout()
    return _svg(fig)
