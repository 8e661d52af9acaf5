"""A partition's drift as one table: a row per feature and one for the champion's score.

The drift report's metadata used to be some 150 flat numbers (`psi.X`, `ks_stat.X`, ...), each
plotted on its own. One row per column, in the order a reader scans (drifted first, then by
PSI), keeps them together and leaves only the few numbers worth plotting as entries. The rows
are the same columns, verdicts and thresholds as Evidently's report (`drift_evidently`).
"""

from __future__ import annotations

import math
from datetime import datetime

from retrain_platform.core.monitoring.drift import DriftSummary, FeatureDrift
from retrain_platform.core.monitoring.drift_prediction import PREDICTION_COLUMN, PredictionDrift

Cell = str | float | bool | None

# (name, type, description): the table's columns, for the Dagster layer's TableSchema.
TABLE_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("column", "string", "feature, or the champion's score (prediction drift)"),
    ("kind", "string", "numeric, categorical or prediction"),
    ("status", "string", "drifted, ok, unscored (too few values on a side) or warming up"),
    ("drifted", "bool", "above its threshold (the retrain trigger's rule)"),
    ("psi", "float", "population stability index vs the champion's training reference"),
    ("ks_stat", "float", "two-sample Kolmogorov-Smirnov statistic (numeric columns)"),
    ("ks_pvalue", "float", "KS p-value"),
    ("threshold", "float", "PSI threshold (features), KS statistic threshold (score)"),
    ("null_share_change", "float", "current minus reference share of null values"),
)
DRIFTED, OK, UNSCORED, WARMING_UP = "drifted", "ok", "unscored", "warming up"


def _number(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def _feature_row(feature: FeatureDrift, threshold: float) -> dict[str, Cell]:
    status = DRIFTED if feature.drifted else OK if feature.scored else UNSCORED
    return {
        "column": feature.name,
        "kind": feature.kind,
        "status": status,
        "drifted": feature.drifted,
        "psi": _number(feature.psi),
        "ks_stat": _number(feature.ks_statistic),
        "ks_pvalue": _number(feature.ks_pvalue),
        "threshold": threshold,
        "null_share_change": _number(feature.null_share_change),
    }


def _warming_row(name: str, complete: datetime) -> dict[str, Cell]:
    return {
        "column": name,
        "kind": "windowed",
        "status": f"{WARMING_UP} (complete from {complete.date().isoformat()})",
        "drifted": False,
        "psi": None,
        "ks_stat": None,
        "ks_pvalue": None,
        "threshold": None,
        "null_share_change": None,
    }


def prediction_row(prediction: PredictionDrift, *, warming_up: bool) -> dict[str, Cell]:
    """The champion's score: drifted when its KS statistic is above the KS threshold, except
    while windowed features warm up (their short history moves the scores too)."""
    drifted = prediction.drifted and not warming_up
    return {
        "column": PREDICTION_COLUMN,
        "kind": "prediction",
        "status": WARMING_UP if warming_up else DRIFTED if drifted else OK,
        "drifted": drifted,
        "psi": _number(prediction.psi),
        "ks_stat": _number(prediction.ks_statistic),
        "ks_pvalue": _number(prediction.ks_pvalue),
        "threshold": prediction.ks_threshold,
        "null_share_change": None,
    }


def drift_table(
    summary: DriftSummary, prediction: PredictionDrift | None = None
) -> list[dict[str, Cell]]:
    """Rows: drifted features by PSI (highest first), the rest by PSI, unscored, warming up,
    then the score (when given; warming up when any feature is)."""
    warm = dict(summary.warming_up or {})
    features = sorted(
        summary.features,
        key=lambda f: (not f.drifted, not f.scored, -(f.psi if f.scored else 0.0), f.name),
    )
    rows = [_feature_row(f, summary.psi_threshold) for f in features]
    rows += [_warming_row(name, complete) for name, complete in sorted(warm.items())]
    if prediction is not None:
        rows.append(prediction_row(prediction, warming_up=bool(warm)))
    return rows


def drifted_columns(rows: list[dict[str, Cell]]) -> list[str]:
    """The table's drifted columns, sorted (what Evidently's report should flag)."""
    return sorted(str(row["column"]) for row in rows if row["drifted"])
