"""`monitoring/<dataset>_drift`: drift of each partition against the champion.

It compares a partition's model features with the champion's training reference (fast numpy
path: PSI and KS per feature, prediction drift), then writes Evidently's HTML report on the
same samples with the same method, thresholds, columns and dataset rule, so that its verdicts
are the metadata's (`drift_metadata`: a few plotted numbers, one per-column table, a link).
Windowed features whose window reaches before the first validated partition, or over a
partition whose data were all refused (a gap), are left out of a partition's drift and recorded
as warming up (see `core.drift`); the prediction drift of such a partition is flagged as warming
up too, since the model reads those features, and the retrain sensor then ignores it.
"""

import time
from datetime import datetime
from pathlib import Path

import dagster as dg
import numpy as np
import polars as pl
from deltalake import DeltaTable
from deltalake.exceptions import TableNotFoundError

from retrain_platform.contracts import DatasetContract
from retrain_platform.core.bounded import clip_text
from retrain_platform.core.models.training import predict
from retrain_platform.core.monitoring.drift import (
    DriftSummary,
    ScoreDrift,
    complete_from,
    drift_summary,
    evidently_report,
    feature_reach,
    left_out,
    prediction_drift,
    sample_rows,
)
from retrain_platform.core.monitoring.drift_importance import important_features, trigger_psi
from retrain_platform.core.monitoring.drift_profile import SAMPLE_SEED
from retrain_platform.core.monitoring.reference import (
    Reference,
    load_champion,
    load_reference,
    profile_frame,
)
from retrain_platform.core.partitions import partition_end, partition_start
from retrain_platform.core.platform_columns import PARTITION
from retrain_platform.defs import keys
from retrain_platform.defs.automation import follows_upstream
from retrain_platform.defs.monitoring.drift_metadata import (
    drift_entries,
    drift_report_path,
    evidently_entries,
)
from retrain_platform.defs.monitoring.metadata import (
    CHAMPION_VERSION,
    DRIFTED,
    EVIDENTLY,
    EVIDENTLY_AGREES,
    GROUP,
    HISTORY_START,
    MONITORING,
    NO_ROWS,
    OK,
    PREDICTION_WARMING_UP,
    REPORT,
    SAMPLE_ROWS,
    STATUS,
    TRIGGER_PSI,
    TRIGGER_PSI_FEATURE,
    WARMING_UP,
    drift_report_key,
    no_champion_result,
)
from retrain_platform.defs.monitoring.partition_inputs import champion_view, partition_features
from retrain_platform.defs.partitions import partitions_for
from retrain_platform.home import layout
from retrain_platform.resources import DeltaLakeResource
from retrain_platform.resources.tracking import MlflowResource

__all__ = ["build_drift_report_asset", "drift_report_path", "reference_cache_dir"]


def reference_cache_dir(contract: DatasetContract) -> Path:
    """`$RETRAIN_HOME/state/drift_reference/<dataset>`: one cached profile per champion."""
    return layout().state_root / "drift_reference" / contract.dataset


def _partition_keys(uri: str, lake: DeltaLakeResource) -> set[str]:
    try:
        table = DeltaTable(uri, storage_options=lake.storage_options)
    except TableNotFoundError:
        return set()
    return {p[PARTITION] for p in table.partitions() if p.get(PARTITION)}


def validated_history(
    contract: DatasetContract, lake: DeltaLakeResource
) -> tuple[datetime | None, list[tuple[datetime, datetime]]]:
    """Where the data's history begins (the first validated partition's start) and its gaps.

    A gap is a partition whose data arrived but were all refused: rows in quarantine, none
    validated. A partition that simply had no events is not a gap (windows over it are as they
    should be); one whose file was refused is, until a corrected file fills it.
    """
    grain = contract.partitioning.grain
    validated = _partition_keys(lake.uri(keys.VALIDATED, contract.dataset), lake)
    if not validated:
        return None, []
    refused = _partition_keys(lake.uri(keys.VALIDATED, keys.quarantine_table(contract)), lake)
    gaps = [
        (partition_start(k, grain), partition_end(k, grain)) for k in sorted(refused - validated)
    ]
    return partition_start(min(validated), grain), gaps


def build_drift_report_asset(contract: DatasetContract) -> dg.AssetsDefinition:
    """`monitoring/<dataset>_drift`: feature and prediction drift of a partition vs the champion."""
    policy = contract.policy

    @dg.asset(
        key=drift_report_key(contract),
        deps=[keys.features_key(contract, view) for view in contract.feature_views],
        group_name=GROUP,
        partitions_def=partitions_for(contract),
        automation_condition=follows_upstream(),
        kinds={"evidently", "polars"},
        tags={"layer": MONITORING, "dataset": contract.dataset},
        owners=[contract.owner],
        description=(
            f"Drift of a {contract.dataset} partition's model features against the champion's "
            "training reference: max PSI against its threshold, drift share, drifted count, "
            "prediction KS against its threshold, and a per-column table (drift_by_column); "
            "Evidently's HTML report, run with the same method, thresholds and columns, linked "
            f"(policy drift_html: {policy.drift_html}); windowed features left out while "
            "warming up or over a refused partition. Read by the retrain sensor."
        ),
    )
    def drift_report(
        context: dg.AssetExecutionContext, mlflow: MlflowResource, lake: DeltaLakeResource
    ) -> dg.MaterializeResult:
        partition = context.partition_key
        champion = load_champion(mlflow.store(), contract, mlflow.registry_model_name(contract))
        if champion is None:
            return no_champion_result(contract)
        current = partition_features(contract, champion, lake, partition)
        if current.is_empty():
            return dg.MaterializeResult(
                metadata={STATUS: NO_ROWS, CHAMPION_VERSION: champion.version}
            )
        cap = policy.drift_row_cap
        first, gaps = validated_history(contract, lake)
        reach = {
            name: span
            for name, span in feature_reach(contract, champion_view(contract, champion)).items()
            if name in champion.features
        }
        reference = load_reference(
            champion,
            contract,
            reference_cache_dir(contract),
            row_cap=cap,
            storage_options=lake.storage_options,
            complete_from=complete_from(reach, first) if first else None,
        )
        start = partition_start(partition, contract.partitioning.grain)
        warm = left_out(reach, first, gaps, start)
        summary = drift_summary(
            current,
            reference.profile,
            row_cap=cap,
            seed=SAMPLE_SEED,
            psi_threshold=policy.drift_psi_threshold,
            ks_threshold=policy.drift_ks_threshold,
            warming_up=warm,
            min_values=policy.drift_min_values,
        )
        scores = predict(
            champion.booster, sample_rows(current, cap, SAMPLE_SEED), champion.features
        )
        prediction = prediction_drift(
            scores, reference.scores, ks_threshold=policy.drift_ks_threshold
        )
        entries, drifted_columns = drift_entries(summary, prediction)
        booster = champion.booster
        important = important_features(
            booster.feature_name(),
            booster.feature_importance("gain"),
            policy.drift_importance_share,
        )
        statistic, statistic_feature = trigger_psi(summary, important)
        metadata: dict[str, object] = {
            **entries,
            TRIGGER_PSI: statistic,
            TRIGGER_PSI_FEATURE: statistic_feature or "",
            STATUS: OK,
            CHAMPION_VERSION: champion.version,
            SAMPLE_ROWS: float(summary.current_rows),
            HISTORY_START: first.date().isoformat() if first else "",
            WARMING_UP: dg.MetadataValue.json(
                {name: start.isoformat() for name, start in sorted(warm.items())}
            ),
            PREDICTION_WARMING_UP: bool(warm),
            # text, not a number: Dagster would plot it
            "reference_dataset_version": str(champion.dataset.version),
            "reference_fingerprint": reference.profile.fingerprint,
            "reference_cached": reference.cached,
        }
        context.log.info(
            f"{partition}: max PSI {summary.max_psi:.3f} ({summary.max_psi_feature}), drift "
            f"share {summary.drift_share:.2f}, prediction KS {prediction.ks_statistic:.3f} "
            f"vs champion v{champion.version}"
            + (
                f"; {len(warm)} windowed feature(s) warming up (history from "
                f"{first:%Y-%m-%d}), left out with prediction drift"
                if warm and first
                else ""
            )
        )
        html = policy.drift_html
        if html == "always" or (html == "on_drift" and metadata[DRIFTED]):
            verdict = (bool(metadata[DRIFTED]), drifted_columns)
            metadata |= _evidently(
                contract, partition, current, reference, summary, scores, verdict, context
            )
        else:
            metadata[REPORT] = f"not rendered (policy drift_html: {html})"
        return dg.MaterializeResult(metadata=metadata)  # type: ignore[arg-type]

    return drift_report


def _evidently(
    contract: DatasetContract,
    partition: str,
    current: pl.DataFrame,
    reference: Reference,
    summary: DriftSummary,
    scores: np.ndarray,
    verdict: tuple[bool, list[str]],
    context: dg.AssetExecutionContext,
) -> dict[str, object]:
    """Evidently's report on the very samples, columns, method and thresholds of the numbers.

    The same current sample (policy cap, same seed) and the champion's reference profile, so
    that its PSI per column is the metadata's; only the features the fast path scored (present
    on both sides: Evidently rejects a column with no value at all, e.g. a 1-hour std over a
    single event); the champion's score unless windowed features warm up (then the platform
    ignores prediction drift, and so does the report). Its verdicts are compared with the
    metadata's `verdict` (drifted, drifted columns): `evidently_agrees`, a warning if not.

    Runs after the numbers; a failure is recorded in metadata and does not fail the step, since
    the triggers need only the numbers.
    """
    policy = contract.policy
    scored = set(summary.scored_features)
    started = time.perf_counter()
    try:
        result = evidently_report(
            sample_rows(current, policy.drift_row_cap, SAMPLE_SEED),
            profile_frame(reference.profile),
            [name for name in reference.numeric if name in scored],
            [name for name in reference.categorical if name in scored],
            drift_report_path(contract, partition),
            method="psi",
            threshold=policy.drift_psi_threshold,
            scores=None
            if summary.warming_up
            else ScoreDrift(scores, reference.scores, policy.drift_ks_threshold),
        )
    except Exception as error:  # noqa: BLE001 - the report is optional, the numbers are not
        context.log.warning(f"Evidently report failed: {clip_text(repr(error))}")
        return {"evidently_error": clip_text(repr(error))}
    entries = evidently_entries(
        result,
        drifted=verdict[0],
        drifted_columns=verdict[1],
        seconds=time.perf_counter() - started,
        rows=summary.current_rows,
    )
    if not entries[EVIDENTLY_AGREES]:
        context.log.warning(
            f"{partition}: Evidently's verdicts differ from the metadata's (a score exactly on "
            f"its threshold?): {clip_text(str(entries[EVIDENTLY].value))}"  # type: ignore[attr-defined]
        )
    return entries
