"""The robustness-vs-eps figure of the HTML report (matplotlib, embedded as a PNG)."""

from __future__ import annotations

import base64
import io
import math

from ..results import Results
from ..types import MetricValue

#: the metric plotted against eps for each objective kind
CURVE_METRICS = {"classification": ("robust-accuracy",), "retrieval": ("tr@1", "ir@1")}
#: per signal modality: the factor eps is plotted at and the axis label
EPS_UNITS = {"image": (255.0, "eps (x/255)"), "audio": (1.0, "eps (full-scale amplitude)")}


def curve_series(results: Results) -> dict[tuple[str, str], list[tuple[float, MetricValue]]]:
    """Per (task, line label): (eps in the task's plotting unit, :data:`EPS_UNITS`: 1/255 for
    images, full scale for audio; metric) points, the group's clean cell at eps 0 and
    one line per model x defense x eps sweep (an attack whose cells differ only in eps) and
    metric, named with the spec's own labels."""
    series: dict[tuple[str, str], list[tuple[float, MetricValue]]] = {}
    for group in results.groups:
        cells = [c for c in results.cells if c.group == group.id and c.info.eps is not None]
        clean = [c for c in cells if c.info.role == "clean"]
        sweeps: dict[str, list] = {}
        for c in cells:
            if c.info.role != "clean" and c.info.sweep:
                sweeps.setdefault(c.info.sweep, []).append(c)
        for members in sweeps.values():
            members.sort(key=lambda c: c.info.eps)
            attack = members[0].info.attack + (f" … {members[-1].info.attack}"
                                               if len(members) > 1 else "")
            for metric in CURVE_METRICS.get(group.objective_kind, ()):
                points = [(EPS_UNITS[c.info.modality][0] * c.info.eps, c.metrics[metric])
                          for c in clean + members
                          if metric in c.metrics and not math.isnan(c.metrics[metric].value)]
                key = (group.task, f"{group.model} / {group.defense} / {attack} · {metric}")
                series[key] = sorted(points, key=lambda p: p[0])
    return series


#: markers and line styles cycled so that curves stay apart when they overlap (at 0%, say)
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
STYLES = ("-", "--", "-.", ":")


def curve_png(results: Results) -> str | None:
    """The eps curves, one panel per task, intervals as error bars; base64 PNG or None."""
    series = curve_series(results)
    if not series:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks = list(dict.fromkeys(t for t, _ in series))
    modality = {c.info.task: c.info.modality for c in results.cells}
    fig, axes = plt.subplots(1, len(tasks), figsize=(5.5 * len(tasks), 4), squeeze=False)
    colors = plt.get_cmap("tab20").colors
    for ax, task in zip(axes[0], tasks, strict=True):
        lines = [(label, points) for (t, label), points in series.items() if t == task]
        for i, (label, points) in enumerate(lines):
            xs = [p[0] for p in points]
            ys = [100 * p[1].value for p in points]
            err = [[100 * (p[1].value - p[1].low) for p in points],
                   [100 * (p[1].high - p[1].value) for p in points]]
            ax.errorbar(xs, ys, yerr=err, marker=MARKERS[i % len(MARKERS)],
                        linestyle=STYLES[i // len(MARKERS) % len(STYLES)],
                        color=colors[i % len(colors)], capsize=3, label=label)
        ax.set(title=task, xlabel=EPS_UNITS[modality[task]][1], ylabel="%", ylim=(0, 100))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()
