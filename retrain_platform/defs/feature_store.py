"""Feature-store assets: the Feast registry of a dataset and each view's online store.

`features/<dataset>_registry` applies the Feast objects generated from the contract;
`features/<dataset>_<view>_live` writes each features partition's newest row per entity into
Feast's online store: sqlite in the embedded default, Redis in the production profile (late
partitions never overwrite newer online values).
"""

import time

import dagster as dg

from retrain_platform.contracts import DatasetContract
from retrain_platform.contracts.model import FeatureView
from retrain_platform.core.features.transforms import feature_table_name
from retrain_platform.core.lake import read_partitions
from retrain_platform.defs import keys
from retrain_platform.defs.automation import follows_upstream
from retrain_platform.defs.partitions import partitions_for
from retrain_platform.home import PRODUCTION_PROFILE, profile
from retrain_platform.resources import DeltaLakeResource
from retrain_platform.resources.feast import FeastResource

# Feast's file registry is one protobuf file rewritten on every apply: applies must not overlap.
REGISTRY_POOL = "feast_registry"
LAYER, GROUP = keys.FEATURES, keys.GROUPS[keys.FEATURES]
registry_key, features_key, online_key = (
    keys.feast_registry_key,
    keys.features_key,
    keys.online_store_key,
)


def _tags(contract: DatasetContract) -> dict[str, str]:
    return {"layer": LAYER, "dataset": contract.dataset}


def build_feast_registry_asset(contract: DatasetContract) -> dg.AssetsDefinition:
    """`features/<dataset>_registry`: entities, sources, views and services in Feast's registry."""

    @dg.asset(
        key=registry_key(contract),
        group_name=GROUP,
        kinds={"feast"},
        tags=_tags(contract),
        owners=[contract.owner],
        code_version=contract.contract_hash,
        pool=REGISTRY_POOL,
        description=(
            f"Feast objects generated from the {contract.dataset} contract (an entity per "
            "entity key, a source on the features' Parquet mirror, a feature view and a "
            "versioned feature service per view), applied to the platform's Feast registry."
        ),
    )
    def feast_registry(
        context: dg.AssetExecutionContext, lake: DeltaLakeResource, feast: FeastResource
    ) -> dg.MaterializeResult:
        from retrain_platform.core.feature_store.feast_objects import (
            feature_service_name,
            feature_view_name,
        )

        applied = feast.apply(contract, lake.root_uri)
        views = contract.feature_views
        label = contract.label_name
        context.log.info(f"applied {len(applied)} Feast objects: {', '.join(applied)}")
        return dg.MaterializeResult(
            metadata={
                "entities": dg.MetadataValue.json(
                    sorted({k for v in views for k in v.entity_keys})
                ),
                "feature_views": dg.MetadataValue.json(
                    [feature_view_name(contract, v) for v in views]
                ),
                "feature_services": dg.MetadataValue.json(
                    [feature_service_name(contract, v) for v in views]
                ),
                "feature_count": sum(len(v.feature_names(label)) for v in views),
                "objects_applied": len(applied),
                "registry": dg.MetadataValue.path(feast.config().registry.path),
            }
        )

    return feast_registry


def build_online_store_asset(contract: DatasetContract, view: FeatureView) -> dg.AssetsDefinition:
    """`features/<table>_live`: each entity's newest features of a partition, served online."""
    table = feature_table_name(contract, view)
    # A registry apply (any contract edit) must not rewrite every partition: only the features
    # partitions drive this asset; the registry is a dependency that must exist, not a trigger.
    condition = follows_upstream().replace(
        "any_deps_updated",
        dg.AutomationCondition.any_deps_updated().ignore(
            dg.AssetSelection.assets(registry_key(contract))
        ),
    )

    @dg.asset(
        key=online_key(contract, view),
        group_name=GROUP,
        partitions_def=partitions_for(contract),
        backfill_policy=dg.BackfillPolicy.single_run(),
        deps=[features_key(contract, view), registry_key(contract)],
        automation_condition=condition,
        kinds={"feast", "redis" if profile() == PRODUCTION_PROFILE else "sqlite"},
        tags=_tags(contract),
        owners=[contract.owner],
        description=(
            f"The newest {view.name} features of "
            + ("the series" if view.keyless else f"each {', '.join(view.entity_keys)}")
            + " in a partition, upserted into Feast's online store. An online value with a newer "
            "event time is kept (late partitions); the same event time is replaced (corrections)."
        ),
    )
    def online_store(
        context: dg.AssetExecutionContext, lake: DeltaLakeResource, feast: FeastResource
    ) -> dg.MaterializeResult:
        started = time.perf_counter()
        partitions = list(context.partition_keys)
        frame = read_partitions(
            lake.uri(LAYER, table), partitions, storage_options=lake.storage_options
        )
        stats = feast.write_online(contract, view, frame)
        context.log.info(
            f"{table} {partitions[0]}..{partitions[-1]}: {stats['entities']} entities online, "
            f"{stats['entities_skipped_as_older']} kept newer values, {stats['seconds']:.2f}s"
        )
        return dg.MaterializeResult(
            metadata={
                "dagster/row_count": frame.height,
                "rows_read": frame.height,
                "entities": stats["entities"],
                "entities_skipped_as_older": stats["entities_skipped_as_older"],
                "online_rows_written": stats["cells_written"],
                "rows_without_entity_key": stats["rows_without_entity_key"],
                "write_seconds": round(float(stats["seconds"]), 3),
                "seconds": round(time.perf_counter() - started, 3),
            }
        )

    return online_store


def build_defs(contract: DatasetContract) -> dg.Definitions:
    """The Feast registry and each view's online store (nothing without feature views)."""
    if not contract.feature_views:
        return dg.Definitions()
    return dg.Definitions(
        assets=[
            build_feast_registry_asset(contract),
            *(build_online_store_asset(contract, view) for view in contract.feature_views),
        ]
    )
