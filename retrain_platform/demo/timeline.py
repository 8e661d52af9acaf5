"""The closed loop's timeline: one row per simulated day, and one per retraining cycle.

The Dagster layer (`retrain_platform.demo.loop`) records plain facts while it drives the sensors
and runs: per day what landed, what validation quarantined and which blocking checks failed, the
drift report, the retrain sensor's decision and the retrain run's outcome; per labelled partition
the champion's live ROC-AUC. These functions turn them into frames, lines and tables, so the same
timeline feeds the progress output, the final table and the HTML report.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import polars as pl

from retrain_platform.core.deployment import pipeline_health

DAY = "day"
RETRAIN = "retrain"
NO_RETRAIN = "no retrain"
PASSED, REJECTED = "passed", "rejected"

DAY_SCHEMA: dict[str, pl.DataType] = {
    DAY: pl.String(),
    "landed": pl.Int64(),
    "quarantined": pl.Int64(),
    "duplicates": pl.Int64(),
    "checks_failed": pl.List(pl.String()),
    "blocked": pl.Boolean(),
    "max_psi": pl.Float64(),
    "max_psi_feature": pl.String(),
    "drift_share": pl.Float64(),
    "drifted": pl.Boolean(),
    "decision": pl.String(),
    "trigger": pl.String(),
    "reason": pl.String(),
    "retrain_run_id": pl.String(),
    "challenger": pl.Int64(),
    "gate": pl.String(),
    "gate_failures": pl.List(pl.String()),
    "champion": pl.Int64(),
    "seconds": pl.Float64(),
}
PERFORMANCE_SCHEMA: dict[str, pl.DataType] = {
    DAY: pl.String(),
    "partition": pl.String(),
    "roc_auc": pl.Float64(),
    "rows": pl.Int64(),
    "scored_by": pl.Int64(),
}
CYCLE_COLUMNS = (
    DAY,
    "trigger",
    "reason",
    "challenger",
    "gate",
    "candidate_roc_auc",
    "champion_roc_auc",
    "champion_before",
    "champion",
    "gate_failures",
)


def days_frame(days: Sequence[Mapping[str, Any]]) -> pl.DataFrame:
    """The per-day facts as a frame with `DAY_SCHEMA` (missing facts are null)."""
    defaults: dict[str, Any] = {"checks_failed": [], "blocked": False, "gate_failures": []}
    rows = [{name: day.get(name, defaults.get(name)) for name in DAY_SCHEMA} for day in days]
    return pl.DataFrame(rows, schema=DAY_SCHEMA, orient="row")


def performance_frame(observations: Sequence[Mapping[str, Any]]) -> pl.DataFrame:
    """Live performance observations (`day` computed, `partition` scored) with their schema."""
    rows = [{name: o.get(name) for name in PERFORMANCE_SCHEMA} for o in observations]
    return pl.DataFrame(rows, schema=PERFORMANCE_SCHEMA, orient="row")


def build_timeline(days: pl.DataFrame, performance: pl.DataFrame) -> pl.DataFrame:
    """One row per day: its facts plus the live ROC-AUC of its partition once labels were due.

    A partition scored more than once (a late file) keeps its newest score; `live_roc_auc` is
    null for the last days, whose labels were not due when the loop ended.
    """
    newest = (
        performance.sort(DAY)
        .group_by("partition", maintain_order=True)
        .last()
        .select(
            pl.col("partition").alias(DAY),
            pl.col("roc_auc").alias("live_roc_auc"),
            pl.col(DAY).alias("labels_scored_on"),
            pl.col("scored_by").alias("live_scored_by"),
        )
    )
    return days.join(newest, on=DAY, how="left").sort(DAY)


def retrain_cycles(timeline: pl.DataFrame, history: pl.DataFrame) -> pl.DataFrame:
    """The days with a retrain run, joined to the decision history's holdout metrics.

    `history` is the decision history (`core.decisions`); it is matched on the run id, so cycles
    of earlier runs on the same platform home are left out.
    """
    runs = timeline.filter(pl.col("retrain_run_id").is_not_null()).select(
        DAY, "trigger", "reason", "retrain_run_id", "challenger", "gate", "champion"
    )
    metrics = history.filter(pl.col("event") == RETRAIN).select(
        pl.col("dagster_run_id").alias("retrain_run_id"),
        "candidate_roc_auc",
        "champion_roc_auc",
        "champion_before",
        "gate_failures",
    )
    joined = runs.join(metrics, on="retrain_run_id", how="left")
    return joined.select(CYCLE_COLUMNS)


def rejection_rate(history: pl.DataFrame, last_n: int) -> float:
    """Share of the last `last_n` retraining cycles the gate rejected (NaN before any cycle)."""
    return pipeline_health.gate_rejection_rate(history, last_n)


def _number(value: float | None, digits: int = 3) -> str:
    return (
        "-"
        if value is None or (isinstance(value, float) and math.isnan(value))
        else (f"{value:.{digits}f}")
    )


def progress_line(day: Mapping[str, Any], live: Mapping[str, Any] | None) -> str:
    """The one-line summary printed as each simulated day ends."""
    failed = day.get("checks_failed") or []
    checks = ""
    if failed:
        checks = f" {'BLOCKED' if day.get('blocked') else 'warn'}: {','.join(failed)}"
    decision = day.get("decision") or NO_RETRAIN
    trigger = f" ({day['trigger']})" if day.get("trigger") else ""
    gate = f" gate {day['gate']} v{day['challenger']}" if day.get("gate") else ""
    scored = (
        f"live ROC-AUC {live['partition']} {_number(live['roc_auc'])} (v{live['scored_by']})"
        if live
        else "live ROC-AUC -"
    )
    return (
        f"{day[DAY]}  landed {day.get('landed') or 0:>6,}  quarantined "
        f"{day.get('quarantined') or 0:>5,}{checks}  max PSI {_number(day.get('max_psi'))}  "
        f"drift share {_number(day.get('drift_share'), 2)}  {decision}{trigger}{gate}  "
        f"champion v{day.get('champion')}  {scored}  | {day.get('reason') or ''}"
    )


TABLE_COLUMNS = (
    DAY,
    "landed",
    "quarantined",
    "duplicates",
    "checks",
    "max_psi",
    "drift_share",
    "decision",
    "gate",
    "champion",
    "live_roc_auc",
    "reason",
)


# Short names of the validated partition checks (`core.table_checks`) for the table.
CHECK_ABBREVIATIONS = {
    "matches_schema": "schema",
    "has_min_rows": "volume",
    "label_rate_in_band": "label",
    "null_share_within_limit": "nulls",
}


def format_timeline(timeline: pl.DataFrame, *, reason_width: int = 60) -> str:
    """The timeline as a printable table, one line per day."""
    failed = (
        pl.col("checks_failed").list.eval(pl.element().replace(CHECK_ABBREVIATIONS)).list.join(",")
    )
    table = timeline.with_columns(
        pl.when(pl.col("checks_failed").list.len() == 0)
        .then(pl.lit("pass"))
        .when(pl.col("blocked"))
        .then(pl.lit("BLOCKED ") + failed)
        .otherwise(pl.lit("warn ") + failed)
        .alias("checks"),
        pl.col("max_psi").round(3),
        pl.col("drift_share").round(2),
        pl.col("live_roc_auc").round(3),
        pl.when(pl.col("trigger").is_not_null())
        .then(pl.col("decision") + " (" + pl.col("trigger") + ")")
        .otherwise(pl.col("decision"))
        .alias("decision"),
        pl.col("reason").str.slice(0, reason_width),
    ).select(TABLE_COLUMNS)
    return format_table(table, text_width=reason_width)


def format_table(frame: pl.DataFrame, *, text_width: int = 60) -> str:
    """`frame` as a printable table: every row and column, no shape or dtype lines."""
    with pl.Config(
        tbl_rows=-1,
        tbl_cols=-1,
        tbl_width_chars=400,
        tbl_hide_dataframe_shape=True,
        tbl_hide_column_data_types=True,
        fmt_str_lengths=text_width,
    ):
        return str(frame)
