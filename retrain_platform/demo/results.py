"""What the closed loop returns and prints at its end: the timeline, the cycles, the report.

After the last simulated day, the days' facts and live scores become the timeline, the decision
history gives the retraining cycles and the gate rejection rate, the days the live ROC-AUC took
to recover after the drift onset (`monitoring.recovery`, the backtest's rule) are counted, the
HTML report is written, and the per-partition table and the timeline are printed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from retrain_platform.contracts import DatasetContract
from retrain_platform.core.deployment.decisions import read_decisions
from retrain_platform.core.lake import table_uri
from retrain_platform.core.monitoring.recovery import recovery_partitions
from retrain_platform.core.validate.summary import partition_summary
from retrain_platform.defs import keys
from retrain_platform.defs import model_keys as mk
from retrain_platform.demo import timeline as lt
from retrain_platform.demo.report import write_report
from retrain_platform.home import HomeLayout


@dataclass(frozen=True)
class LoopResult:
    """The timeline, the retraining cycles, the report, the gate rejection rate and the
    recovery after the drift onset (`onset` None without drift; `recovery_days` None when the
    live ROC-AUC never recovered within the run)."""

    timeline: pl.DataFrame
    cycles: pl.DataFrame
    report: Path
    rejection_rate: float
    seconds: float
    onset: str | None = None
    recovery_days: int | None = None


def recovery_days(timeline: pl.DataFrame, onset: str) -> int | None:
    """Days from `onset` until the timeline's live ROC-AUC has recovered (None if never)."""
    days = timeline.get_column("day").to_list()
    if onset not in days:
        return None
    return recovery_partitions(timeline.get_column("live_roc_auc").to_list(), days.index(onset))


def partition_table(home: HomeLayout, contract: DatasetContract) -> pl.DataFrame:
    """Every partition's rows through the layers, read from the lake's tables."""
    return partition_summary(
        raw_uri=table_uri(home.lake_uri, keys.RAW, contract.dataset),
        validated_uri=table_uri(home.lake_uri, keys.VALIDATED, contract.dataset),
        quarantine_uri=table_uri(home.lake_uri, keys.VALIDATED, keys.quarantine_table(contract)),
        storage_options=home.lake_storage_options,
    )


def finish(
    home: HomeLayout,
    contract: DatasetContract,
    rejection_window: int,
    days: list[dict[str, Any]],
    scores: list[dict[str, Any]],
    echo: Callable[[str], None],
    started: float,
    onset: str | None = None,
) -> LoopResult:
    """Build the timeline and cycles, write the report, print the tables; the loop's result."""
    timeline = lt.build_timeline(lt.days_frame(days), lt.performance_frame(scores))
    history = read_decisions(
        table_uri(home.lake_uri, mk.DEPLOYMENT, mk.decisions_table(contract)),
        storage_options=home.lake_storage_options,
    )
    cycles = lt.retrain_cycles(timeline, history)
    rate = lt.rejection_rate(history, rejection_window)
    report = home.home / "reports" / "closed_loop" / f"{contract.dataset}.html"
    write_report(
        timeline,
        cycles,
        report,
        policy=contract.policy,
        rejection_rate=rate,
        rejection_window=rejection_window,
        title=f"Closed loop: {contract.dataset}",
    )
    echo("per partition (rows landed, in raw, valid, quarantined by reason, duplicates removed):")
    echo(lt.format_table(partition_table(home, contract)))
    echo("timeline of the daily phase:")
    echo(lt.format_timeline(timeline))
    seconds = time.perf_counter() - started
    recovered = recovery_days(timeline, onset) if onset is not None else None
    return LoopResult(timeline, cycles, report, rate, seconds, onset, recovered)
