"""The Evidently HTML report of a partition's drift, configured to say what the metadata says.

Evidently left to its defaults picks its own test per column (Wasserstein above 1,000 rows), its
own thresholds (0.1) and calls a dataset drifted when half of its columns are: its HTML then
contradicts the platform's numbers ("NOT detected, 8 of 31" beside `drifted: true`). So the
report is run with the platform's rules on the platform's columns and samples:

- every feature with the contract's method (`psi`) and threshold (`drift_psi_threshold`);
- the champion's score as one more column (`PREDICTION_COLUMN`), tested with the KS *statistic*
  against `drift_ks_threshold` (a stat test registered here, `KS_STATISTIC`: Evidently's own
  `ks` compares a p-value);
- the dataset is drifted when any one column is (`drift_share` = 1 / columns), the platform's
  rule, instead of Evidently's default of half the columns.

Evidently's PSI test flags `psi >= threshold` where the platform flags `psi > threshold`: the
two differ only for a score exactly on the threshold.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from retrain_platform.core.monitoring.drift_prediction import PREDICTION_COLUMN
from retrain_platform.core.monitoring.drift_profile import _check_columns
from retrain_platform.core.monitoring.drift_statistics import ks_test

KS_STATISTIC = "ks_statistic"  # the stat test registered with Evidently (drift: statistic > t)
_FAIL = "FAIL"  # an Evidently test's status when it detects drift


@dataclass(frozen=True, eq=False)
class ScoreDrift:
    """The champion's scores on both samples, compared by KS statistic against `ks_threshold`."""

    current: np.ndarray
    reference: np.ndarray
    ks_threshold: float


def evidently_report(
    current: pl.DataFrame,
    reference: pl.DataFrame,
    numeric: Sequence[str],
    categorical: Sequence[str],
    html_path: Path,
    *,
    method: str = "psi",
    threshold: float | None = None,
    drift_share: float | None = None,
    scores: ScoreDrift | None = None,
) -> dict[str, Any]:
    """Run Evidently's data-drift preset with these rules, save its HTML, return its verdicts.

    `threshold` None keeps the method's default; `drift_share` None means any one drifted
    column drifts the dataset. `scores` adds the champion's score column.

    Returns {"columns": {name: {"score", "method", "threshold", "drifted"}}, "drifted_columns",
    "drifted_count", "column_count", "drift_share", "drift_share_threshold", "dataset_drift",
    "html_path"}, read from Evidently's snapshot (its tests' verdicts, not recomputed). Scores
    follow the method: `psi` a distance (high = drift), `ks` a p-value (low = drift). Slow on
    large frames: sample first (`sample_rows`).
    """
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    columns = [*numeric, *categorical]
    _check_columns(current, columns, "current")
    _check_columns(reference, columns, "reference")
    numeric_columns = list(numeric)
    per_method: dict[str, str] = {}
    per_threshold: dict[str, float] = {}
    if scores is not None:
        _register_ks_statistic()
        numeric_columns.append(PREDICTION_COLUMN)
        per_method[PREDICTION_COLUMN] = KS_STATISTIC
        per_threshold[PREDICTION_COLUMN] = scores.ks_threshold
    count = len(numeric_columns) + len(categorical)
    if count == 0:
        msg = "an Evidently drift report needs at least one column"
        raise ValueError(msg)
    share = 1.0 / count if drift_share is None else drift_share
    definition = DataDefinition(
        numerical_columns=numeric_columns, categorical_columns=list(categorical)
    )
    current_scores, reference_scores = (
        (scores.current, scores.reference) if scores is not None else (None, None)
    )
    frames = (
        _pandas(current, columns, current_scores),
        _pandas(reference, columns, reference_scores),
    )
    preset = DataDriftPreset(
        method=method,
        threshold=threshold,
        drift_share=share,
        per_column_method=per_method or None,
        per_column_threshold=per_threshold or None,
    )
    snapshot = Report([preset], include_tests=True).run(
        *(Dataset.from_pandas(frame, data_definition=definition) for frame in frames)
    )
    html_path.parent.mkdir(parents=True, exist_ok=True)
    snapshot.save_html(str(html_path))
    return {**parse_snapshot(snapshot.dict()), "html_path": str(html_path)}


def _pandas(frame: pl.DataFrame, columns: Sequence[str], scores: np.ndarray | None) -> Any:
    """The columns as pandas, with the scores as one more column (the shorter side padded with
    nulls, which Evidently drops per column)."""
    import pandas as pd

    out = frame.select(columns).to_pandas()
    if scores is None:
        return out
    column = pd.DataFrame({PREDICTION_COLUMN: np.asarray(scores, dtype=np.float64)})
    return out.assign(**column) if len(column) == len(out) else pd.concat([out, column], axis=1)


def parse_snapshot(snapshot: Mapping[str, Any]) -> dict[str, Any]:
    """Per-column scores and verdicts and the dataset verdict from `Snapshot.dict()`.

    The verdicts are the statuses of the tests Evidently ran (`include_tests=True`): a
    `ValueDrift` test fails when its column drifted, the `DriftedColumnsCount` test ("share less
    than drift_share") when the dataset did.
    """
    failed = {
        test["metric_config"]["metric_id"]
        for test in snapshot.get("tests", [])
        if test.get("status") == _FAIL
    }
    out: dict[str, Any] = {
        "columns": {},
        "drifted_count": None,
        "column_count": 0,
        "drift_share": None,
        "drift_share_threshold": None,
        "dataset_drift": None,
    }
    for metric in snapshot["metrics"]:
        config, value = metric["config"], metric["value"]
        kind = config["type"]
        if kind.endswith(":DriftedColumnsCount"):
            out["drifted_count"] = int(value["count"])
            out["drift_share"] = float(value["share"])
            out["drift_share_threshold"] = float(config["drift_share"])
            out["dataset_drift"] = metric["id"] in failed
        elif kind.endswith(":ValueDrift"):
            out["columns"][config["column"]] = {
                "score": float(value),
                "method": config.get("method"),
                "threshold": config.get("threshold"),
                "drifted": metric["id"] in failed,
            }
    out["column_count"] = len(out["columns"])
    out["drifted_columns"] = sorted(n for n, c in out["columns"].items() if c["drifted"])
    return out


def _ks_statistic(
    reference: Any, current: Any, feature_type: Any, threshold: float
) -> tuple[float, bool]:
    """Evidently stat test: the two-sample KS statistic, drift when above `threshold`."""
    ref, cur = (
        np.sort(values[np.isfinite(values)])
        for values in (np.asarray(s, dtype=np.float64) for s in (reference, current))
    )
    statistic, _ = ks_test(ref, cur)
    return statistic, statistic > threshold


@cache
def _register_ks_statistic() -> None:
    """Register `KS_STATISTIC` with Evidently once per process (a name its reports can use)."""
    from evidently.legacy.calculations.stattests.registry import StatTest, register_stattest
    from evidently.legacy.core import ColumnType

    test = StatTest(
        name=KS_STATISTIC,
        display_name="KS statistic",
        allowed_feature_types=[ColumnType.Numerical],
        default_threshold=0.2,
    )
    register_stattest(test, _ks_statistic)
