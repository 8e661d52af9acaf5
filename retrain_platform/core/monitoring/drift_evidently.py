"""The Evidently HTML report of a partition's drift, for a person to read beside the metadata."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import polars as pl

from retrain_platform.core.monitoring.drift_profile import (
    _check_columns,
)


def evidently_report(
    current: pl.DataFrame,
    reference: pl.DataFrame,
    numeric: Sequence[str],
    categorical: Sequence[str],
    html_path: Path,
    *,
    method: str = "psi",
) -> dict[str, Any]:
    """Run Evidently's data-drift preset, save its HTML report, return its scores.

    Returns {"columns": {name: {"score", "method", "threshold"}}, "drifted_count",
    "drift_share", "html_path"}. Scores follow Evidently's method: `psi` a distance (high =
    drift), `ks` a p-value (low = drift). Slow on large frames: sample first (`sample_rows`).
    """
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    columns = [*numeric, *categorical]
    _check_columns(current, columns, "current")
    _check_columns(reference, columns, "reference")
    definition = DataDefinition(
        numerical_columns=list(numeric), categorical_columns=list(categorical)
    )
    datasets = [
        Dataset.from_pandas(frame.select(columns).to_pandas(), data_definition=definition)
        for frame in (current, reference)
    ]
    snapshot = Report([DataDriftPreset(method=method)]).run(*datasets)
    html_path.parent.mkdir(parents=True, exist_ok=True)
    snapshot.save_html(str(html_path))
    return {**_parse_snapshot(snapshot.dict()), "html_path": str(html_path)}


def _parse_snapshot(snapshot: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"columns": {}, "drifted_count": None, "drift_share": None}
    for metric in snapshot["metrics"]:
        config, value = metric["config"], metric["value"]
        kind = config["type"]
        if kind.endswith(":DriftedColumnsCount"):
            out["drifted_count"] = int(value["count"])
            out["drift_share"] = float(value["share"])
        elif kind.endswith(":ValueDrift"):
            out["columns"][config["column"]] = {
                "score": float(value),
                "method": config.get("method"),
                "threshold": config.get("threshold"),
            }
    return out
