"""Checks of `datasets/<dataset>_training`: the version just frozen, before a model trains on it.

One step re-reads the version and reports four blocking checks: every label in its categories,
every split value known, every label event of the window kept (none lost by the join, none
repeated), and on a sample, every row's features those of a feature row at or before its label
event. A failure stops the candidate in the retrain job.
"""

from datetime import datetime

import dagster as dg
import polars as pl

from retrain_platform.contracts import DatasetContract
from retrain_platform.core.datasets.checks import (
    EVERY_LABEL_EVENT_KEPT,
    FEATURES_NOT_FROM_THE_FUTURE,
    LABEL_IN_CATEGORIES,
    SPLIT_VALUES_KNOWN,
    evaluate_training_set,
)
from retrain_platform.core.datasets.training_set import HOLDOUT, SPLIT, TRAIN, VALIDATION
from retrain_platform.core.features.transforms import feature_table_name
from retrain_platform.core.lake import read_partitions
from retrain_platform.core.platform_columns import PARTITION
from retrain_platform.defs import keys
from retrain_platform.defs.metadata import bounded_metadata
from retrain_platform.resources import DeltaLakeResource

DESCRIPTIONS = {
    LABEL_IN_CATEGORIES: "Every row's label is one of the contract's label categories.",
    SPLIT_VALUES_KNOWN: "Every row's split is train, validation or holdout; train has rows.",
    EVERY_LABEL_EVENT_KEPT: "The version holds every label event of its window whose label was "
    "known at its as-of time, each once (the point-in-time join lost none).",
    FEATURES_NOT_FROM_THE_FUTURE: "On a sample of rows, the features are those of a feature row "
    "of the same entity at or before the label event: none read from later.",
}
_SUFFIX = (
    " Blocking: the candidate does not train on a failed version. Evaluated on the latest "
    "version (`delta_version` in the result)."
)


def _latest(instance: dg.DagsterInstance, key: dg.AssetKey) -> dict[str, object]:
    records = instance.fetch_materializations(key, limit=1).records
    if not records or records[0].asset_materialization is None:
        return {}
    return {k: v.value for k, v in records[0].asset_materialization.metadata.items()}


def build_training_set_checks(contract: DatasetContract) -> dg.AssetChecksDefinition:
    """The four blocking checks of the training set's newest version."""
    asset = keys.training_dataset_key(contract)
    specs = [
        dg.AssetCheckSpec(name, asset=asset, blocking=True, description=text + _SUFFIX)
        for name, text in DESCRIPTIONS.items()
    ]

    @dg.multi_asset_check(
        name=f"check_{contract.dataset}_training",
        specs=specs,
        description="Labels, splits, completeness and point-in-time of the newest training set.",
    )
    def training_set_checks(context: dg.AssetCheckExecutionContext, lake: DeltaLakeResource):
        meta = _latest(context.instance, asset)
        version = int(meta["delta_version"])  # type: ignore[call-overload]
        view = contract.view(str(meta.get("feature_view") or "") or None)
        uri = lake.uri(keys.DATASETS, f"{contract.dataset}_training")
        frame = pl.read_delta(uri, version=version, storage_options=dict(lake.storage_options))
        partitions = sorted(frame.get_column(PARTITION).unique().to_list())
        validated = read_partitions(
            lake.uri(keys.VALIDATED, contract.dataset),
            partitions,
            storage_options=lake.storage_options,
        )
        as_of = datetime.fromisoformat(str(meta["as_of"]))
        ts = contract.timestamp_name
        known = pl.col(ts) + pl.duration(
            microseconds=int(contract.label.delay.total_seconds() * 1e6)
        )
        label_events = validated.filter(known <= pl.lit(as_of))
        features = read_partitions(
            lake.uri(keys.FEATURES, feature_table_name(contract, view)),
            partitions,
            storage_options=lake.storage_options,
        )
        outcomes = evaluate_training_set(
            frame,
            label_events,
            features,
            contract,
            view,
            split_column=SPLIT,
            splits=(TRAIN, VALIDATION, HOLDOUT),
        )
        for outcome in outcomes:
            yield dg.AssetCheckResult(
                asset_key=asset,
                check_name=outcome.name,
                passed=outcome.passed,
                severity=dg.AssetCheckSeverity.ERROR,
                description=f"Training-set version {version}.",
                metadata=bounded_metadata({"delta_version": version, **outcome.metadata}),
            )

    return training_set_checks
