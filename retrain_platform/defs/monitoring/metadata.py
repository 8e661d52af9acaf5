"""The monitoring layer's asset keys, metadata keys and label due time, read back by others.

The retrain sensor (and the closed-loop demo) read the drift and live-performance assets'
metadata under these keys, and ask `labels_known_at` when a partition's labels are due; the two
assets write them. Kept apart from the assets so that readers need not import Evidently or
LightGBM scoring.
"""

from datetime import datetime

import dagster as dg

from retrain_platform.contracts import DatasetContract
from retrain_platform.core.partitions import partition_end

MONITORING = "monitoring"
GROUP = "monitoring"

# Metadata keys the retrain sensor (and the demo's timeline: `drifted` too) reads.
STATUS = "status"
CHAMPION_VERSION = "champion_version"
MAX_PSI = "max_psi"
# the drift trigger's statistic: max PSI over the champion's important features (policy
# `drift_importance_share`; every feature when unset), and its feature
TRIGGER_PSI = "trigger_psi"
TRIGGER_PSI_FEATURE = "trigger_psi_feature"
MAX_PSI_FEATURE = "max_psi_feature"
DRIFT_SHARE = "drift_share"
PREDICTION_KS = "prediction_ks"
SAMPLE_ROWS = "sample_rows"
DRIFTED = "drifted"
# The drift report's other entries (see `drift_metadata`): thresholds beside the numbers they
# bound, the per-column table, the details, Evidently's report and verdicts.
PSI_THRESHOLD = "psi_threshold"
N_DRIFTED = "n_drifted"
PREDICTION_KS_THRESHOLD = "prediction_ks_threshold"
DRIFTED_FEATURES = "drifted_feature_list"
DRIFT_TABLE = "drift_by_column"
DETAILS = "drift_details"
REPORT = "report"
EVIDENTLY = "evidently"
EVIDENTLY_AGREES = "evidently_agrees"
LABELS_KNOWN = "labels_known"
ROC_AUC = "roc_auc"
ROWS = "rows"
HISTORY_START = "history_start"
WARMING_UP = "warming_up_feature_list"
PREDICTION_WARMING_UP = "prediction_warming_up"
OK, NO_CHAMPION, NO_ROWS = "ok", "no_champion", "no_rows"


def drift_report_key(contract: DatasetContract) -> dg.AssetKey:
    return dg.AssetKey([MONITORING, f"{contract.dataset}_drift"])


def live_performance_key(contract: DatasetContract) -> dg.AssetKey:
    return dg.AssetKey([MONITORING, f"{contract.dataset}_performance"])


def labels_known_at(contract: DatasetContract, partition: str) -> datetime:
    """When every label of a partition is known: its end plus the contract's label delay."""
    return partition_end(partition, contract.partitioning.grain) + contract.label.delay


def no_champion_result(contract: DatasetContract) -> dg.MaterializeResult:
    """What either asset records while no champion is deployed."""
    return dg.MaterializeResult(
        metadata={
            STATUS: NO_CHAMPION,
            "note": f"no {contract.dataset} champion deployed yet: nothing to compare against",
        }
    )
