"""The decision history: an append-only Delta table, one row per retraining cycle or alias move.

Every cycle is recorded, passed or failed: when and why it ran, the training-set version and
window, both models' holdout metrics, the gate's verdict and failures, whether the challenger
was promoted, and which version was champion before and after. Every move of `champion` is a
row too: promotions (`retrain`, promoted), rollbacks (`rollback`) and moves made outside the
platform, noticed later (`alias_move`, see `alias_moves`). Rows are only ever appended, all
timed by the platform clock, so "which model was champion at time T" is the `champion_after` of
the last row at or before T (`champion_at`); the table's own Delta history is the audit trail of
the writes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl
from deltalake import write_deltalake

from retrain_platform.core.lake import table_exists

RETRAIN, ROLLBACK, ALIAS_MOVE = "retrain", "rollback", "alias_move"
TRIGGER_TAG = "retrain/trigger"
REASON_TAG = "retrain/reason"
# Set on a retrain run by the evaluation gate: `passed` or `rejected` (a rejected run succeeds).
GATE_VERDICT_TAG = "retrain/gate_verdict"
GATE_PASSED, GATE_REJECTED = "passed", "rejected"
MANUAL = "manual"
DECIDED_AT = "decided_at"
CHAMPION_AFTER = "champion_after"

SCHEMA: dict[str, pl.DataType] = {
    DECIDED_AT: pl.Datetime("us", "UTC"),
    "event": pl.String(),
    "dataset": pl.String(),
    "trigger": pl.String(),
    "reason": pl.String(),
    "dagster_run_id": pl.String(),
    "mlflow_run_id": pl.String(),
    "model_version": pl.Int64(),
    "dataset_version": pl.Int64(),
    "window_start": pl.String(),
    "window_end": pl.String(),
    "gate_method": pl.String(),
    "gate_passed": pl.Boolean(),
    "gate_failures": pl.List(pl.String()),
    "candidate_roc_auc": pl.Float64(),
    "candidate_recall": pl.Float64(),
    "champion_roc_auc": pl.Float64(),
    "interval_low": pl.Float64(),
    "interval_high": pl.Float64(),
    "candidate_metrics": pl.String(),
    "champion_metrics": pl.String(),
    "promoted": pl.Boolean(),
    "champion_before": pl.Int64(),
    CHAMPION_AFTER: pl.Int64(),
    "previous_after": pl.Int64(),
}


@dataclass(frozen=True)
class Decision:
    """One row of the decision history."""

    decided_at: datetime
    event: str
    dataset: str
    trigger: str
    reason: str
    promoted: bool
    champion_before: int | None
    champion_after: int | None
    previous_after: int | None = None
    dagster_run_id: str | None = None
    mlflow_run_id: str | None = None
    model_version: int | None = None
    dataset_version: int | None = None
    window_start: str | None = None
    window_end: str | None = None
    gate_method: str | None = None
    gate_passed: bool | None = None
    gate_failures: list[str] = field(default_factory=list)
    candidate_roc_auc: float | None = None
    candidate_recall: float | None = None
    champion_roc_auc: float | None = None
    interval_low: float | None = None
    interval_high: float | None = None
    candidate_metrics: str | None = None
    champion_metrics: str | None = None


def from_gate_record(
    record: Mapping[str, Any],
    *,
    decided_at: datetime,
    dataset: str,
    trigger: str,
    reason: str,
    promoted: bool,
    champion_before: int | None,
    champion_after: int | None,
    previous_after: int | None,
    dagster_run_id: str | None,
    mlflow_run_id: str,
    model_version: int,
    dataset_version: int,
    window: tuple[str, str],
) -> Decision:
    """A retraining cycle's row from the gate's JSON record (see `verdict_record`)."""
    challenger = record.get("challenger") or {}
    champion = record.get("champion")
    interval = record.get("interval") or {}
    return Decision(
        decided_at=decided_at,
        event=RETRAIN,
        dataset=dataset,
        trigger=trigger,
        reason=reason,
        promoted=promoted,
        champion_before=champion_before,
        champion_after=champion_after,
        previous_after=previous_after,
        dagster_run_id=dagster_run_id,
        mlflow_run_id=mlflow_run_id,
        model_version=model_version,
        dataset_version=dataset_version,
        window_start=window[0],
        window_end=window[1],
        gate_method=record.get("method"),
        gate_passed=bool(record.get("passed")),
        gate_failures=list(record.get("failures") or []),
        candidate_roc_auc=challenger.get("roc_auc"),
        candidate_recall=challenger.get("recall_at_threshold"),
        champion_roc_auc=(champion or {}).get("roc_auc"),
        interval_low=interval.get("low"),
        interval_high=interval.get("high"),
        candidate_metrics=json.dumps(challenger, sort_keys=True),
        champion_metrics=json.dumps(champion, sort_keys=True) if champion else None,
    )


def trigger_and_reason(run_tags: Mapping[str, str]) -> tuple[str, str]:
    """Why a run happened, from its tags: `retrain/trigger` (else manual) and `retrain/reason`."""
    trigger = run_tags.get(TRIGGER_TAG) or MANUAL
    return trigger, run_tags.get(REASON_TAG) or trigger


def gate_verdict_tag(passed: bool) -> str:
    """The value of `retrain/gate_verdict` for a verdict."""
    return GATE_PASSED if passed else GATE_REJECTED


def to_frame(decisions: list[Decision]) -> pl.DataFrame:
    return pl.DataFrame([asdict(d) for d in decisions], schema=SCHEMA)


def append_decision(
    uri: str, decision: Decision, storage_options: Mapping[str, str] | None = None
) -> None:
    """Append one row (creating the table on first use)."""
    if "://" not in uri:
        Path(uri).parent.mkdir(parents=True, exist_ok=True)
    write_deltalake(
        uri,
        to_frame([decision]).to_arrow(),
        mode="append",
        storage_options=dict(storage_options or {}),
    )


def read_decisions(uri: str, storage_options: Mapping[str, str] | None = None) -> pl.DataFrame:
    """Every recorded decision, oldest first (empty, with the schema, before the first)."""
    if not table_exists(uri, storage_options):
        return pl.DataFrame(schema=SCHEMA)
    frame = pl.read_delta(uri, storage_options=dict(storage_options or {}))
    return frame.sort(DECIDED_AT, maintain_order=True)


def champion_at(history: pl.DataFrame, when: datetime) -> int | None:
    """The champion version at `when`: `champion_after` of the last decision at or before it."""
    rows = history.filter(pl.col(DECIDED_AT) <= when).sort(DECIDED_AT, maintain_order=True)
    return None if rows.is_empty() else rows.get_column(CHAMPION_AFTER)[-1]
