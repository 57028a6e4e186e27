"""Charts for the HTML report, drawn by matplotlib and embedded as inline SVG.

One panel per metric, every panel the same size and margins with the same step range, so stacked panels
line up on one step axis (train loss above the eval metrics it produced). Panels never share a y axis
between metrics: losses with different batch definitions (embed's in-batch train loss and its eval loss)
are not comparable numbers. Honest y axes: scores in [0, 1] on 0..1, ROUGE/BLEU on 0..100, other
non-negative values from 0, perplexity on a log axis. Each run is one colour; step-0 eval points (the
baseline before training) get a large hollow diamond. SVG ids (gid) name what each element is:
line--<run id>--<metric>, baseline--<run id>--<metric>.
"""

from __future__ import annotations

import io
import re

UNIT = re.compile(r"(accuracy|f1|precision|recall|ndcg|mrr|map|auc|hit|exact_match)", re.I)
PERCENT = re.compile(r"(rouge|bleu)", re.I)
COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2"]
WIDTH, HEIGHT = 5.6, 2.3
MAX_POINTS = 1500
MARGINS = dict(left=0.12, right=0.97, top=0.87, bottom=0.2)


AXIS_NOTE = {"unit": "axis 0..1", "percent": "axis 0..100", "log": "log axis", "zero": "axis from 0", "free": ""}


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams["svg.fonttype"] = "none"  # text stays text (smaller, selectable, searchable)
    return plt


def axis_kind(metric: str, values: list[float]) -> str:
    """unit (0..1), percent (0..100), log (perplexity), zero (from 0) or free."""
    if not values:
        return "free"
    lo, hi = min(values), max(values)
    if UNIT.search(metric) and lo >= 0 and hi <= 1:
        return "unit"
    if PERCENT.search(metric) and lo >= 0 and hi <= 100:
        return "percent"
    if "perplexity" in metric and lo > 0:
        return "log"
    if "margin" in metric:  # a reward margin is signed: no floor at 0 even while it is positive
        return "free"
    return "zero" if lo >= 0 else "free"


def thin(points: list, most: int = MAX_POINTS) -> list:
    """At most about `most` points, evenly spaced, the first and last kept (a long run's SVG stays small)."""
    if len(points) <= most:
        return points
    every = -(-len(points) // most)
    return points[::every] + ([points[-1]] if (len(points) - 1) % every else [])


def color(index: int) -> str:
    return COLORS[index % len(COLORS)]


def _label(text: str) -> str:
    return text.replace("$", r"\$")  # matplotlib would read $...$ as math


def to_svg(fig, salt: str) -> str:
    """The figure as an <svg> element: no XML prolog, unique ids (salt), scaled by CSS."""
    plt = _plt()
    buf = io.StringIO()
    with plt.rc_context({"svg.hashsalt": salt}):
        fig.savefig(buf, format="svg")
    plt.close(fig)
    svg = buf.getvalue()
    svg = re.sub(r"<metadata>.*?</metadata>\s*", "", svg[svg.index("<svg"):], flags=re.S)  # RDF, date
    return re.sub(r'<svg([^>]*?) width="[^"]+" height="[^"]+"', r'<svg\1 class="plot"', svg, count=1)


def metric_chart(metric: str, runs: list[tuple[str, str, list[tuple[int, float]]]], x_max: int,
                 index: int) -> str:
    """SVG of one metric over steps; runs: [(run id, colour, [(step, value)])]."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(WIDTH, HEIGHT))
    fig.subplots_adjust(**MARGINS)
    values = [v for _, _, pts in runs for _, v in pts]
    kind = axis_kind(metric, values)
    is_eval = metric.startswith("eval_")
    from matplotlib.ticker import FuncFormatter, MaxNLocator, NullFormatter

    for rid, color, pts in runs:
        pts = thin(pts)
        xs, ys = [p[0] for p in pts], [p[1] for p in pts]
        (line,) = ax.plot(xs, ys, color=color, linewidth=1.6, marker="o" if is_eval or len(pts) < 30 else None,
                          markersize=3.5)
        line.set_gid(f"line--{rid}--{metric}")
        base = [(x, y) for x, y in pts if x == 0]
        if is_eval and base:
            (mark,) = ax.plot([base[0][0]], [base[0][1]], linestyle="none", marker="D", markersize=10,
                              markerfacecolor="none", markeredgecolor=color, markeredgewidth=2, clip_on=False)
            mark.set_gid(f"baseline--{rid}--{metric}")
    ax.set_xlim(-max(1, x_max) * 0.03, max(1, x_max) * 1.03)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if kind == "unit":
        ax.set_ylim(-0.02, 1.02)
    elif kind == "percent":
        ax.set_ylim(-2, 102)
    elif kind == "log":
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        decades = max(values) / min(values) > 10
        ax.yaxis.set_minor_formatter(NullFormatter() if decades else FuncFormatter(lambda v, _: f"{v:g}"))
    elif kind == "zero":
        top = max(values) * 1.08 if max(values) > 0 else 1
        ax.set_ylim(-0.02 * top, top)
    ax.set_title(_label(metric), loc="left", fontsize=10, fontweight="bold")
    ax.set_title(AXIS_NOTE[kind], loc="right", fontsize=8, color="#666")
    ax.set_xlabel("step", fontsize=8, labelpad=1)
    ax.tick_params(labelsize=8)
    ax.grid(alpha=0.3)
    return to_svg(fig, f"chart{index}")


def length_histogram(lengths: list[int], index: int) -> str:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(WIDTH, HEIGHT))
    fig.subplots_adjust(**MARGINS)
    ax.hist(lengths, bins=min(30, max(1, len(set(lengths)))), color=COLORS[0], alpha=0.8)
    ax.set_title("train rows by token length", loc="left", fontsize=10, fontweight="bold")
    ax.set_xlabel("tokens", fontsize=8, labelpad=1)
    ax.set_ylabel("rows", fontsize=8)
    ax.tick_params(labelsize=8)
    ax.grid(alpha=0.3)
    return to_svg(fig, f"hist{index}")
