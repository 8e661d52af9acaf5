"""The datasets layer: versioned point-in-time training sets frozen in Delta.

The window and its split are the contract policy's (`core.datasets.window`): a run with no config,
as the retrain sensor requests it, trains on exactly that window; a hand-launched run may
override any of its values.

A validated partition whose blocking checks failed may still hold rows (a thin day, a file with
a missing column beside good ones); the training set leaves it out. Which partitions those are
is read from the latest check evaluations per partition on the Dagster instance.
"""

from collections.abc import Sequence
from typing import Literal

import dagster as dg
import polars as pl
from pydantic import Field

from retrain_platform.contracts import DatasetContract
from retrain_platform.contracts.model import FeatureView
from retrain_platform.core import platform_columns as pc
from retrain_platform.core.datasets.point_in_time import feast_join
from retrain_platform.core.datasets.training_set import EXCLUDED, Join, freeze_training_set
from retrain_platform.core.datasets.window import (
    HOLDOUT,
    DatasetWindow,
    select_window,
    window_spec,
)
from retrain_platform.core.features.transforms import feature_columns, feature_table_name
from retrain_platform.core.lake import read_partitions, table_exists
from retrain_platform.core.partitions import partition_end
from retrain_platform.core.validate.table_checks import BLOCKING_CHECKS
from retrain_platform.defs import keys
from retrain_platform.defs.metadata import bounded, table_link
from retrain_platform.resources import DeltaLakeResource
from retrain_platform.resources.feast import FeastResource

FAILED = "FAILED"  # a check execution's status when its result did not pass
POLICY = "policy"  # a run-config value meaning "the contract policy's"


class TrainingDatasetConfig(dg.Config):
    """Which window of labelled partitions to freeze, and how to split it by time.

    Every window field left unset is the contract policy's value (what sensor-requested retrains
    use); set one only to override it for a run launched by hand.
    """

    as_of: str | None = Field(
        None,
        description="The window ends where labels are due at the end of this partition (key); "
        "default: the newest validated partition.",
    )
    training_window: Literal["policy", "sliding", "expanding"] = Field(
        POLICY,
        description="Newest window_partitions labelled partitions (sliding) or every labelled "
        "partition (expanding); default: the contract's policy.training_window.",
    )
    window_partitions: int | None = Field(
        None, description="Partitions in the window, newest last; default: the policy's."
    )
    validation_partitions: int | None = Field(
        None,
        description="Partitions before the holdout used for model selection; default: the "
        "policy's.",
    )
    holdout_partitions: int | None = Field(
        None, description="Most recent partitions, kept for the gate; default: the policy's."
    )
    view: str | None = Field(None, description="Feature view to join (default: the first).")
    join: Literal["polars", "feast"] = Field(
        "polars",
        description="Point-in-time join: polars as-of join over Delta (fast, default) or Feast's "
        "historical retrieval (same rows and values; every label row kept either way).",
    )


def build_training_dataset_asset(contract: DatasetContract) -> dg.AssetsDefinition:
    """`datasets/<dataset>_training`: a new Delta version per materialization."""

    @dg.asset(
        key=keys.training_dataset_key(contract),
        deps=[
            keys.validated_key(contract),
            *(keys.features_key(contract, view) for view in contract.feature_views),
        ],
        group_name=keys.GROUPS[keys.DATASETS],
        kinds={"polars", "delta"},
        tags=keys.tags(contract, keys.DATASETS),
        owners=[contract.owner],
        description=(
            f"{contract.dataset} label events joined to the features known at each "
            "event's time (labels known by the as-of time only), split by time into "
            "train / validation / holdout; each run writes a new Delta version. Window "
            f"(policy): {_policy_window(contract)}."
        ),
    )
    def training_dataset(
        context: dg.AssetExecutionContext,
        config: TrainingDatasetConfig,
        lake: DeltaLakeResource,
        feast: FeastResource,
    ) -> dg.MaterializeResult:
        view = contract.view(config.view)
        validated_uri = lake.uri(keys.VALIDATED, contract.dataset)
        if not table_exists(validated_uri, lake.storage_options):
            msg = f"{contract.dataset}: no validated data yet ({validated_uri})"
            raise dg.Failure(msg)
        available = sorted(
            read_partitions(validated_uri, storage_options=lake.storage_options)
            .get_column(pc.PARTITION)
            .unique()
            .to_list()
        )
        window = _window(contract, config, available, context.instance)
        uri = lake.uri(keys.DATASETS, f"{contract.dataset}_training")
        version, _ = freeze_training_set(
            contract,
            view,
            window,
            validated_uri=validated_uri,
            features_uri=lake.uri(keys.FEATURES, feature_table_name(contract, view)),
            dataset_uri=uri,
            storage_options=lake.storage_options,
            extra_metadata={
                "dagster_run_id": context.run.run_id,
                "view": view.name,
                "join": config.join,
            },
            join=_feast_join(contract, view, feast) if config.join == "feast" else None,
        )
        context.log.info(
            f"training set v{version.version}: {version.rows} rows, "
            f"label rate {version.label_rate:.4f}, {window.describe()}"
            + (
                f", {len(window.excluded)} partition(s) left out (blocking checks failed)"
                if window.excluded
                else ""
            )
        )
        return dg.MaterializeResult(
            metadata={
                "delta_version": version.version,
                "dagster/row_count": version.rows,
                "rows": version.rows,
                "label_rate": version.label_rate,
                "window_start": window.partitions[0],
                "window_end": window.partitions[-1],
                "as_of": window.as_of.isoformat(),
                "training_window": window.kind,
                "window_partitions": len(window.partitions),
                "splits": dg.MetadataValue.json(window.splits()),
                "split_rows": dg.MetadataValue.json(version.split_rows),
                "holdout_partitions": dg.MetadataValue.json(window.splits()[HOLDOUT]),
                "features": dg.MetadataValue.json(version.features),
                EXCLUDED: bounded({k: list(v) for k, v in window.excluded.items()}),
                "feature_view": view.name,
                "join": config.join,
                "contract_hash": version.contract_hash,
                "table": table_link(uri),
            }
        )

    return training_dataset


def _policy_window(contract: DatasetContract) -> str:
    spec = window_spec(contract)
    sliding = spec.kind == "sliding"
    length = f"the newest {spec.partitions}" if sliding else f"every (at least {spec.partitions})"
    return (
        f"{spec.kind}, {length} labelled partitions, the newest {spec.holdout} the holdout and "
        f"the {spec.validation} before them validation"
    )


def _window(
    contract: DatasetContract,
    config: TrainingDatasetConfig,
    available: Sequence[str],
    instance: dg.DagsterInstance,
) -> DatasetWindow:
    """The policy's window (with the run's overrides) at the end of the as-of partition."""
    as_of = config.as_of or available[-1]
    spec = window_spec(
        contract,
        kind=None if config.training_window == POLICY else config.training_window,
        partitions=config.window_partitions,
        validation=config.validation_partitions,
        holdout=config.holdout_partitions,
    )
    try:
        return select_window(
            contract,
            [p for p in available if p <= as_of],
            partition_end(as_of, contract.partitioning.grain),
            spec=spec,
            excluded=failed_blocking_checks(instance, contract, available),
        )
    except ValueError as error:
        raise dg.Failure(str(error)) from error


def failed_blocking_checks(
    instance: dg.DagsterInstance, contract: DatasetContract, partitions: Sequence[str]
) -> dict[str, list[str]]:
    """Partitions whose latest evaluation of a blocking validated check failed, with those checks.

    Only the latest evaluation per (check, partition) counts: a partition re-validated and passing
    since is not left out.
    """
    check_keys = [dg.AssetCheckKey(keys.validated_key(contract), name) for name in BLOCKING_CHECKS]
    infos = instance.event_log_storage.get_asset_check_partition_info(
        check_keys, partition_keys=list(partitions)
    )
    failed: dict[str, list[str]] = {}
    for info in infos:
        if info.partition_key is not None and info.latest_execution_status.value == FAILED:
            failed.setdefault(info.partition_key, []).append(info.check_key.name)
    return {partition: sorted(checks) for partition, checks in sorted(failed.items())}


def _feast_join(contract: DatasetContract, view: FeatureView, feast: FeastResource) -> Join:
    """Labels joined through Feast's historical retrieval of the view's feature service."""
    schema = feature_columns(contract, view)

    def join(labels: pl.DataFrame, _features: pl.DataFrame) -> pl.DataFrame:
        return feast_join(
            labels,
            contract,
            view,
            lambda entity_df: feast.historical_features(contract, view, entity_df),
            schema,
        )

    return join


def build_defs(contract: DatasetContract) -> dg.Definitions:
    """`datasets/<dataset>_training` (nothing without feature views)."""
    if not contract.feature_views:
        return dg.Definitions()
    return dg.Definitions(assets=[build_training_dataset_asset(contract)])
