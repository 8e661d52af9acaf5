"""The closed loop's HTML report: one self-contained file with the timeline's plots and table.

Plots (matplotlib, embedded as base64 PNG so the file travels alone): drift per day against the
action threshold, the champion's live ROC-AUC per day against the floor with the retrains marked,
and the holdout ROC-AUC of every retraining cycle (challenger against champion, rejected
challengers marked), with the gate rejection rate over the last cycles.
"""

from __future__ import annotations

import base64
import html
import io
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402 - the backend must be chosen first
import polars as pl  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from retrain_platform.contracts.model import Policy

PLOT_IDS = ("drift", "live_performance", "retrain_cycles")
_WIDTH, _HEIGHT = 11.0, 3.6
_RETRAIN_COLOR = "tab:green"
_REJECTED_COLOR = "tab:red"


def _png(figure: Figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    plt.close(figure)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _day_index(timeline: pl.DataFrame) -> dict[str, int]:
    return {day: i for i, day in enumerate(timeline.get_column("day").to_list())}


def _mark_retrains(axis: Axes, timeline: pl.DataFrame, *, label: bool) -> None:
    """A vertical line on each retrain day: green when the gate passed, red when it rejected."""
    index = _day_index(timeline)
    retrains = timeline.filter(pl.col("decision") == "retrain")
    top = axis.get_ylim()[1]
    for row in retrains.iter_rows(named=True):
        color = _REJECTED_COLOR if row["gate"] == "rejected" else _RETRAIN_COLOR
        x = index[row["day"]]
        axis.axvline(x, color=color, linestyle="--", linewidth=1)
        if label:
            text = f"{row['trigger']}: gate {row['gate'] or 'n/a'}"
            axis.text(x + 0.2, top, text, rotation=90, va="top", fontsize=7, color=color)


def _ticks(axis: Axes, timeline: pl.DataFrame) -> None:
    days = timeline.get_column("day").to_list()
    step = max(1, len(days) // 15)
    axis.set_xticks(range(0, len(days), step))
    axis.set_xticklabels(days[::step], rotation=45, ha="right", fontsize=7)
    axis.set_xlim(-0.5, len(days) - 0.5)


def drift_plot(timeline: pl.DataFrame, policy: Policy) -> str:
    """Max feature PSI and drift share per day, the PSI action threshold, retrains marked."""
    figure, axis = plt.subplots(figsize=(_WIDTH, _HEIGHT))
    x = list(range(timeline.height))
    axis.plot(x, timeline.get_column("max_psi").to_list(), marker="o", ms=3, label="max PSI")
    axis.axhline(
        policy.drift_psi_threshold,
        color="tab:orange",
        linestyle=":",
        label=f"PSI action threshold {policy.drift_psi_threshold:g}",
    )
    axis.set_ylabel("max feature PSI")
    share = axis.twinx()
    share.plot(
        x, timeline.get_column("drift_share").to_list(), color="tab:purple", alpha=0.6, ms=3,
        marker="s", label="drift share",
    )  # fmt: skip
    share.set_ylabel("share of drifted features")
    share.set_ylim(0, 1)
    _mark_retrains(axis, timeline, label=True)
    _ticks(axis, timeline)
    lines = axis.get_legend_handles_labels()
    more = share.get_legend_handles_labels()
    axis.legend(lines[0] + more[0], lines[1] + more[1], fontsize=8, loc="upper left")
    axis.set_title("Drift of each day against the champion's training reference")
    return _png(figure)


def performance_plot(timeline: pl.DataFrame, policy: Policy) -> str:
    """The champion's live ROC-AUC per day (once labels were due), the floor, retrains marked."""
    figure, axis = plt.subplots(figsize=(_WIDTH, _HEIGHT))
    scored = timeline.with_row_index("x").filter(pl.col("live_roc_auc").is_not_null())
    versions = scored.get_column("live_scored_by").unique().sort().to_list()
    for version in versions:
        part = scored.filter(pl.col("live_scored_by") == version)
        axis.plot(
            part.get_column("x").to_list(), part.get_column("live_roc_auc").to_list(),
            marker="o", ms=4, label=f"scored by champion v{version}",
        )  # fmt: skip
    axis.axhline(
        policy.min_roc_auc, color="tab:red", linestyle=":", label=f"floor {policy.min_roc_auc:g}"
    )
    axis.set_ylabel("live ROC-AUC")
    _mark_retrains(axis, timeline, label=True)
    _ticks(axis, timeline)
    axis.legend(fontsize=8, loc="lower left")
    axis.set_title("Champion's ROC-AUC on each day's events, once their labels were known")
    return _png(figure)


def cycles_plot(timeline: pl.DataFrame, cycles: pl.DataFrame) -> str:
    """Holdout ROC-AUC per retraining cycle: challenger vs champion; rejected ones marked."""
    figure, axis = plt.subplots(figsize=(_WIDTH, _HEIGHT))
    index = _day_index(timeline)
    rows = [r for r in cycles.iter_rows(named=True) if r["day"] in index]
    for row in rows:
        x = index[row["day"]]
        champion = row["champion_roc_auc"]
        challenger = row["candidate_roc_auc"]
        rejected = row["gate"] == "rejected"
        if champion is not None:
            axis.scatter([x], [champion], color="tab:blue", marker="s", s=30)
        if challenger is not None:
            axis.scatter(
                [x], [challenger], s=60, marker="x" if rejected else "o",
                color=_REJECTED_COLOR if rejected else _RETRAIN_COLOR,
            )  # fmt: skip
            axis.annotate(
                f"v{row['challenger']} {row['trigger']}", (x, challenger), fontsize=7,
                xytext=(4, 4), textcoords="offset points",
            )  # fmt: skip
    axis.scatter([], [], color="tab:blue", marker="s", label="champion on the holdout")
    axis.scatter([], [], color=_RETRAIN_COLOR, marker="o", label="challenger, promoted")
    axis.scatter([], [], color=_REJECTED_COLOR, marker="x", label="challenger, rejected")
    axis.set_ylabel("holdout ROC-AUC")
    _ticks(axis, timeline)
    axis.legend(fontsize=8, loc="lower left")
    axis.set_title("Retraining cycles: the gate compares both models on the same recent holdout")
    return _png(figure)


def _table(frame: pl.DataFrame) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in frame.columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_cell(v))}</td>" for v in row) + "</tr>"
        for row in frame.iter_rows()
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.3f}"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def write_report(
    timeline: pl.DataFrame,
    cycles: pl.DataFrame,
    path: Path,
    *,
    policy: Policy,
    rejection_rate: float,
    rejection_window: int,
    title: str,
) -> Path:
    """Write the self-contained HTML report to `path` and return it."""
    plots = {
        "drift": drift_plot(timeline, policy),
        "live_performance": performance_plot(timeline, policy),
        "retrain_cycles": cycles_plot(timeline, cycles),
    }
    rate = "n/a (no cycle yet)" if math.isnan(rejection_rate) else f"{rejection_rate:.0%}"
    alert = (
        " (above the alert threshold)"
        if not math.isnan(rejection_rate) and rejection_rate > policy.max_gate_rejection_rate
        else ""
    )
    retrains = timeline.filter(pl.col("decision") == "retrain").height
    images = "".join(
        f"<h2>{html.escape(name.replace('_', ' '))}</h2>"
        f'<img id="{name}" alt="{name}" src="data:image/png;base64,{data}">'
        for name, data in plots.items()
    )
    document = f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse;font-size:12px}}
td,th{{border:1px solid #ccc;padding:2px 6px;text-align:left}}img{{max-width:100%}}</style>
</head><body><h1>{html.escape(title)}</h1>
<p>{timeline.height} simulated days, {retrains} retrain run(s). Gate rejection rate over the last
{rejection_window} retraining cycles: <b>{rate}</b>{alert}
(alert above {policy.max_gate_rejection_rate:.0%}).</p>
{images}
<h2>retraining cycles</h2>{_table(cycles)}
<h2>timeline</h2>{_table(timeline)}
</body></html>
"""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(document, encoding="utf-8")
    return path
