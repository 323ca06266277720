"""Figures for the HTML reports, returned as data URIs (SVG, or PNG for dense scatter plots).

matplotlib draws on its Agg canvas without pyplot, so no global backend or figure state is touched.
The same input gives the same bytes: a fixed svg.hashsalt, no date in the metadata, text drawn as
paths (no font lookup in the viewer). Values a chart cannot use (missing, not finite) draw nothing.
"""

from __future__ import annotations

import base64
import io
import math
from typing import Any

import matplotlib
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Patch

STYLE = {"svg.hashsalt": "hw3-grader", "svg.fonttype": "path", "font.family": "DejaVu Sans",
         "font.size": 9, "axes.spines.top": False, "axes.spines.right": False, "path.simplify": True}
GOOD, PARTIAL, NONE_ = "#cfe8c8", "#fbeec2", "#f6cfcb"
INK, ACCENT = "#1f4e79", "#b03a2e"
LEVEL_COLOURS = {"undergrad": "#4a7fb5", "grad": "#d08a2c"}


def _figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _uri(fig: Figure, fmt: str) -> str:
    buf = io.BytesIO()
    meta = {"Date": None} if fmt == "svg" else {"Software": None}
    fig.savefig(buf, format=fmt, metadata=meta, dpi=110)
    kind = "svg+xml" if fmt == "svg" else "png"
    return f"data:image/{kind};base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _finite(chart: dict, keys: tuple[str, ...]) -> bool:
    return all(isinstance(chart.get(k), (int, float)) and not isinstance(chart.get(k), bool)
               and math.isfinite(chart[k]) for k in keys)


def usable(chart: Any) -> bool:
    """A chart of a known kind whose numbers can be drawn."""
    if not isinstance(chart, dict):
        return False
    if chart.get("kind") == "accuracy":
        return _finite(chart, ("value", "full", "zero"))
    if chart.get("kind") == "abs_error":
        q = chart.get("quantiles")
        return (_finite(chart, ("mae", "full", "zero")) and isinstance(q, list) and len(q) == 21
                and _finite(dict(enumerate(q)), tuple(range(21))))
    return False


def accuracy(charts: list[dict]) -> str:
    """Accuracy per net on the hidden rows, drawn over its rubric bands (none / partial / full marks)."""
    charts = [c for c in charts if usable(c) and c["kind"] == "accuracy"]
    if not charts:
        return ""
    with matplotlib.rc_context(STYLE):
        fig = _figure(6.0, 0.9 + 0.5 * len(charts))
        ax = fig.add_subplot()
        low = max(0.0, math.floor(10 * min([c["zero"] - 0.1 for c in charts] + [c["value"] - 0.05 for c in charts])) / 10)
        for row, c in enumerate(charts):
            for left, right, colour in ((low, c["zero"], NONE_), (c["zero"], c["full"], PARTIAL), (c["full"], 1.0, GOOD)):
                ax.barh(row, max(0.0, right - left), left=left, height=0.8, color=colour, linewidth=0)
            value = min(max(c["value"], low), 1.0)
            ax.barh(row, value - low, left=low, height=0.36, color=INK)
            ax.text(value + 0.005, row, f"{c['value']:.3f}", va="center", ha="left", fontsize=8, color=INK)
        ax.set_yticks(range(len(charts)), [str(c.get("label", ""))[:20] for c in charts])
        ax.invert_yaxis()
        ax.set_xlim(low, 1.0)
        ax.set_xlabel("accuracy on the hidden test rows")
        ax.legend(handles=[Patch(color=NONE_, label="no points"), Patch(color=PARTIAL, label="partial points"),
                           Patch(color=GOOD, label="full marks")], loc="lower left", bbox_to_anchor=(0, 1.0),
                  ncols=3, frameon=False, fontsize=8)
        return _uri(fig, "svg")


def abs_error(charts: list[dict]) -> str:
    """Per output, the spread of absolute errors over the hidden rows (box 25-75 %, whiskers 5-95 %,
    median line, mean as a diamond) over the rubric's bands, which apply to the mean."""
    charts = [c for c in charts if usable(c) and c["kind"] == "abs_error"]
    if not charts:
        return ""
    with matplotlib.rc_context(STYLE):
        fig = _figure(6.0, 0.5 + 1.15 * len(charts))
        for row, c in enumerate(charts):
            ax = fig.add_subplot(len(charts), 1, row + 1)
            q = c["quantiles"]
            right = max(c["zero"] * 1.15, q[19] * 1.1, c["mae"] * 1.1)
            for left, end, colour in ((0, c["full"], GOOD), (c["full"], c["zero"], PARTIAL), (c["zero"], right, NONE_)):
                ax.axvspan(left, end, color=colour, linewidth=0)
            stats = {"whislo": q[1], "q1": q[5], "med": q[10], "q3": q[15], "whishi": q[19], "mean": c["mae"]}
            ax.bxp([stats], orientation="horizontal", showmeans=True, showfliers=False, widths=0.5, patch_artist=True,
                   boxprops={"facecolor": "white", "edgecolor": INK}, medianprops={"color": INK},
                   meanprops={"marker": "D", "markerfacecolor": ACCENT, "markeredgecolor": ACCENT})
            ax.set_xlim(0, right)
            ax.set_yticks([])
            ax.set_title(f"{str(c.get('label', ''))[:20]}: mean absolute error {c['mae']:.4g} "
                         f"(full marks at ≤ {c['full']:g}, none at ≥ {c['zero']:g})", fontsize=9, loc="left")
        fig.axes[-1].set_xlabel("absolute error per hidden row (box 25–75 %, whiskers 5–95 %, ◆ mean)")
        return _uri(fig, "svg")


def score_histogram(results: list[dict]) -> str:
    """Totals of the class in bins of 10 points, one bar colour per level."""
    levels = [lv for lv in LEVEL_COLOURS if any(r.get("level") == lv for r in results)]
    if not levels:
        return ""
    top = max([100.0] + [float(r.get("total") or 0) for r in results])
    edges = list(range(0, int(math.ceil(top / 10.0)) * 10 + 1, 10))
    width = 8.0 / max(1, len(levels))
    with matplotlib.rc_context(STYLE):
        fig = _figure(6.5, 2.8)
        ax = fig.add_subplot()
        for k, level in enumerate(levels):
            totals = [float(r.get("total") or 0) for r in results if r.get("level") == level]
            counts = [sum(1 for t in totals if low <= t < low + 10 or (low == edges[-2] and t >= low))
                      for low in edges[:-1]]
            ax.bar([low + 1 + k * width + width / 2 for low in edges[:-1]], counts, width=width,
                   color=LEVEL_COLOURS[level], label=f"{level} ({len(totals)})")
        ax.set_xticks(edges)
        ax.set_xlim(0, edges[-1])
        ax.yaxis.get_major_locator().set_params(integer=True)
        ax.set_xlabel("total points")
        ax.set_ylabel("students")
        ax.legend(frameon=False)
        return _uri(fig, "svg")


def predicted_vs_true(series: list[tuple[str, Any, Any]], output: str, span: tuple[float, float]) -> str:
    """(student, predicted, true) arrays of one output -> a PNG scatter with the diagonal. PNG, not
    SVG: the hidden labels must not appear as numbers in the page's text."""
    if not series:
        return ""
    with matplotlib.rc_context(STYLE):
        fig = _figure(6.0, 6.0)
        ax = fig.add_subplot()
        colours = matplotlib.colormaps["tab20"]
        for k, (student, predicted, true) in enumerate(series):
            ax.scatter(true, predicted, s=3, alpha=0.35, color=colours(k % 20), label=str(student)[:30], linewidths=0)
        ax.plot(span, span, color="black", linewidth=0.8)
        ax.set_xlim(*span)
        ax.set_ylim(*span)
        ax.set_aspect("equal")
        ax.set_xlabel(f"true {output} (hidden set)")
        ax.set_ylabel(f"predicted {output}")
        if len(series) <= 20:
            ax.legend(fontsize=7, markerscale=4, frameon=False, loc="upper left")
        return _uri(fig, "png")
