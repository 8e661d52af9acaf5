"""What the drift report shows in Dagster: a few numbers to plot, one table, a link.

Dagster plots every numeric metadata entry of a partitioned asset, one chart per key, in the
order written. So the entries that are numbers are the ones worth a chart (max PSI beside its
threshold, drift share, drifted count, prediction KS beside its threshold, and the champion and
sample size the sensor reads); every per-column number is one `drift_by_column` table; the rest
are text, booleans or JSON. Evidently's HTML is a link (`MetadataValue.url`) when the reports
directory is served (`RETRAIN_REPORTS_URL`), else a path.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dagster as dg

from retrain_platform.contracts import DatasetContract
from retrain_platform.core.monitoring.drift import DriftSummary
from retrain_platform.core.monitoring.drift_prediction import PredictionDrift
from retrain_platform.core.monitoring.drift_table import (
    TABLE_COLUMNS,
    drift_table,
    drifted_columns,
)
from retrain_platform.defs.monitoring.metadata import (
    DETAILS,
    DRIFT_SHARE,
    DRIFT_TABLE,
    DRIFTED,
    DRIFTED_FEATURES,
    EVIDENTLY,
    EVIDENTLY_AGREES,
    MAX_PSI,
    MAX_PSI_FEATURE,
    N_DRIFTED,
    PREDICTION_KS,
    PREDICTION_KS_THRESHOLD,
    PSI_THRESHOLD,
    REPORT,
)
from retrain_platform.home import layout

# Base URL under which `$RETRAIN_HOME/reports/` is served (e.g. `python -m http.server -d
# $RETRAIN_HOME/reports 8800` -> http://localhost:8800): the report entry is then a link.
REPORTS_URL_ENV_VAR = "RETRAIN_REPORTS_URL"

TABLE_SCHEMA = dg.TableSchema(
    columns=[dg.TableColumn(name, kind, description) for name, kind, description in TABLE_COLUMNS]
)


def drift_report_path(contract: DatasetContract, partition: str) -> Path:
    """`$RETRAIN_HOME/reports/drift/<dataset>/<partition>.html`."""
    safe = partition.replace(":", "-")
    return layout().home / "reports" / "drift" / contract.dataset / f"{safe}.html"


def report_link(path: Path) -> dg.MetadataValue:
    """A URL to the HTML when the reports directory is served, else its path."""
    base = os.environ.get(REPORTS_URL_ENV_VAR, "").strip()
    reports = layout().home / "reports"
    if base and path.is_relative_to(reports):
        return dg.MetadataValue.url(f"{base.rstrip('/')}/{path.relative_to(reports).as_posix()}")
    return dg.MetadataValue.path(str(path))


def drift_entries(
    summary: DriftSummary, prediction: PredictionDrift
) -> tuple[dict[str, Any], list[str]]:
    """The drift entries (plotted numbers first, then the verdict, the table, the details) and
    the drifted columns of the table (features, and the score when it counts).

    `drifted` is the partition's verdict: a feature's PSI above its threshold, or the score's
    KS statistic above its threshold while no windowed feature warms up (`summary.warming_up`).
    """
    rows = drift_table(summary, prediction)
    drifted = summary.drifted or (prediction.drifted and not summary.warming_up)
    entries: dict[str, Any] = {
        MAX_PSI: summary.max_psi,
        PSI_THRESHOLD: summary.psi_threshold,
        DRIFT_SHARE: summary.drift_share,
        N_DRIFTED: len(summary.drifted_features),
        PREDICTION_KS: prediction.ks_statistic,
        PREDICTION_KS_THRESHOLD: prediction.ks_threshold,
        DRIFTED: drifted,
        MAX_PSI_FEATURE: summary.max_psi_feature or "",
        DRIFTED_FEATURES: dg.MetadataValue.json(summary.drifted_features),
        DRIFT_TABLE: dg.MetadataValue.table(
            [dg.TableRecord(row) for row in rows], schema=TABLE_SCHEMA
        ),
    }
    details = summary.as_metadata() | prediction.as_metadata()
    entries[DETAILS] = dg.MetadataValue.json({k: v for k, v in details.items() if k not in entries})
    return entries, drifted_columns(rows)


def evidently_entries(
    result: Mapping[str, Any],
    *,
    drifted: bool,
    drifted_columns: list[str],
    seconds: float,
    rows: int,
) -> dict[str, Any]:
    """The report link and Evidently's verdicts (`evidently_report`), and whether they are the
    metadata's (`drifted`, and the table's `drifted_columns`)."""
    agrees = bool(result["dataset_drift"]) == drifted and list(result["drifted_columns"]) == list(
        drifted_columns
    )
    return {
        REPORT: report_link(Path(result["html_path"])),
        EVIDENTLY_AGREES: agrees,
        EVIDENTLY: dg.MetadataValue.json(
            {
                "dataset_drift": bool(result["dataset_drift"]),
                "drifted_columns": list(result["drifted_columns"]),
                "drifted_count": result["drifted_count"],
                "column_count": result["column_count"],
                "drift_share": result["drift_share"],
                "drift_share_threshold": result["drift_share_threshold"],
                "rows": rows,
                "seconds": round(seconds, 3),
            }
        ),
    }
