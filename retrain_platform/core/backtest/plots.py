"""The backtest's two plots: the frontier (performance against fits) and the partitions over time.

The frontier answers "how good could a policy with this many fits be": the oracle's curve, each
fixed schedule and contract policy as a point. The per-partition plot stays readable over
hundreds of partitions: a trailing mean per policy, and a thin strip per policy below with a tick
where it deployed a new model, instead of markers on the lines.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from retrain_platform.core.backtest.policies import CONTRACT, EVERY, NEVER, ORACLE
from retrain_platform.core.backtest.results import BacktestResult

SMOOTHING = {"hourly": 24, "daily": 7, "weekly": 4, "monthly": 12}
_MARKERS = {NEVER: "s", EVERY: "o", CONTRACT: "*", ORACLE: "D"}


def _pyplot():  # noqa: ANN202 - matplotlib.pyplot
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_frontier(result: BacktestResult, path: Path, *, title: str = "") -> Path:
    """Mean metric against fits: the oracle's curve and every policy as a labelled point."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(9, 5.5))
    metric = result.metric
    if result.frontier:
        fits = np.array(sorted(result.frontier))
        ax.plot(fits, [result.frontier[f] for f in fits], color="0.3", label="oracle (hindsight)")
    for policy in result.policies:
        if policy.name.startswith(ORACLE):
            continue
        mean = policy.mean(metric)
        marker = _MARKERS.get(policy.policy.kind, "o")
        size = 180 if policy.policy.kind == CONTRACT else 60
        ax.scatter([policy.fits], [mean], marker=marker, s=size, zorder=3, label=policy.name)
        ax.annotate(policy.name, (policy.fits, mean), textcoords="offset points", xytext=(6, 4))
    ax.set_xscale("log")
    ax.set_xlabel("fits over the replay (log scale)")
    ax.set_ylabel(f"mean {metric} of the serving model per partition")
    ax.set_title(title or f"{result.dataset}: retraining frontier")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_partitions(
    result: BacktestResult, path: Path, *, grain: str = "daily", title: str = ""
) -> Path:
    """ROC-AUC per partition as a trailing mean per policy, deployments as ticks underneath."""
    plt = _pyplot()
    policies = result.policies
    fig, (top, bottom) = plt.subplots(
        2,
        1,
        figsize=(14, 7),
        sharex=True,
        gridspec_kw={"height_ratios": [3, max(1, len(policies)) * 0.25]},
    )
    span = SMOOTHING.get(grain, 7)
    for row, policy in enumerate(policies):
        values = policy.values("roc_auc")
        filled = np.where(np.isfinite(values), values, np.nanmean(values))
        width = min(span, len(filled))
        smooth = np.convolve(filled, np.ones(width) / width, mode="valid")
        x = np.arange(len(values))
        label = f"{policy.name} ({policy.fits} fits, {policy.mean('roc_auc'):.3f})"
        (line,) = top.plot(x[width - 1 :], smooth, linewidth=1.5, label=label)
        deployed = x[[s.promoted for s in policy.steps]]
        bottom.vlines(deployed, row + 0.1, row + 0.9, color=line.get_color(), linewidth=0.8)
    top.axhline(result.floor, color="red", linestyle=":", linewidth=1, label="performance floor")
    for onset in result.onsets:
        top.axvline(result.partitions.index(onset), color="0.5", linestyle="--", linewidth=1)
    labels = list(result.partitions)
    ticks = np.arange(0, len(labels), max(1, len(labels) // 12))
    bottom.set_xticks(ticks, [labels[i] for i in ticks], rotation=45, ha="right")
    bottom.set_yticks(np.arange(len(policies)) + 0.5, [p.name for p in policies], fontsize=7)
    bottom.set_ylim(0, len(policies))
    top.set_ylabel(f"ROC-AUC, {span}-partition trailing mean")
    bottom.set_xlabel("evaluated partition (ticks: a new model deployed)")
    top.legend(loc="lower left", fontsize=8)
    top.set_title(title or f"{result.dataset}: backtest, window {result.window}")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
