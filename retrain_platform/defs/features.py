"""The features layer: one point-in-time feature table per contract feature view."""

import dagster as dg
import polars as pl

from retrain_platform.contracts import DatasetContract
from retrain_platform.contracts.model import FeatureView
from retrain_platform.core.features.layer import distribution_summary, run_feature_step
from retrain_platform.core.features.transforms import feature_columns, feature_table_name
from retrain_platform.defs import keys
from retrain_platform.defs.automation import follows_upstream
from retrain_platform.defs.freshness import data_freshness_policy
from retrain_platform.defs.metadata import preview, table_link
from retrain_platform.defs.partitions import partitions_for
from retrain_platform.resources import DeltaLakeResource


def _schema(contract: DatasetContract, view: FeatureView) -> dg.TableSchema:
    derived = set(view.derived_names(contract.label_name))
    roles = {key: "entity" for key in view.entity_keys} | {name: "derived" for name in derived}
    return dg.TableSchema(
        columns=[
            dg.TableColumn(name, str(dtype), tags={"role": roles.get(name, "input")})
            for name, dtype in feature_columns(contract, view).items()
        ]
    )


def _keyed_by(view: FeatureView) -> str:
    if view.keyless:
        return f"`{view.entity_keys[0]}` (no entity keys: the dataset is one series)"
    return ", ".join(f"`{key}`" for key in view.entity_keys)


def build_features_asset(contract: DatasetContract, view: FeatureView) -> dg.AssetsDefinition:
    """`features/<dataset>_<view>`: per-event features as known at each event's time."""
    table = feature_table_name(contract, view)

    @dg.asset(
        key=keys.features_key(contract, view),
        deps=[keys.validated_key(contract)],
        group_name=keys.GROUPS[keys.FEATURES],
        partitions_def=partitions_for(contract),
        freshness_policy=data_freshness_policy(contract),
        backfill_policy=dg.BackfillPolicy.single_run(),
        automation_condition=follows_upstream(),
        kinds={"polars", "delta"},
        tags=keys.tags(contract, keys.FEATURES),
        owners=[contract.owner],
        description=(
            f"Point-in-time features of view `{view.name}` per {contract.dataset} event, "
            f"keyed by {_keyed_by(view)} "
            f"(windows {view.closure} the event, lookback {view.lookback}); reads the "
            "validated partitions its windows reach."
        ),
        metadata={"dagster/column_schema": _schema(contract, view)},
    )
    def features_asset(
        context: dg.AssetExecutionContext, lake: DeltaLakeResource
    ) -> dg.MaterializeResult:
        uri = lake.uri(keys.FEATURES, table)
        report = run_feature_step(
            contract,
            view,
            list(context.partition_keys),
            validated_uri=lake.uri(keys.VALIDATED, contract.dataset),
            features_uri=uri,
            storage_options=lake.storage_options,
            commit_metadata={"dagster_run_id": context.run.run_id},
            mirror_uri=lake.uri(keys.FEATURES, f"{table}_feast"),
        )
        names = view.feature_names(contract.label_name)
        summary = distribution_summary(report.features, names)
        with pl.Config(tbl_rows=-1, tbl_cols=-1, float_precision=4, tbl_width_chars=200):
            summary_md = dg.MetadataValue.md(f"```\n{summary}\n```")
        null_shares = dict(zip(summary["feature"], summary["null_share"], strict=True))
        context.log.info(
            f"features {table}, {len(report.partitions)} partition(s): "
            f"{report.features.height} rows "
            f"from {report.history_rows} validated rows in "
            f"{len(report.history_partitions)} partitions"
        )
        return dg.MaterializeResult(
            metadata={
                "dagster/row_count": report.features.height,
                "history_partitions": (
                    f"{report.history_partitions[0]}..{report.history_partitions[-1]}"
                ),
                "history_rows": report.history_rows,
                "features": len(names),
                "max_null_share": max(null_shares.values(), default=0.0),
                "null_shares": dg.MetadataValue.json(null_shares),
                "distribution": summary_md,
                "delta_version": report.version,
                "table": table_link(uri),
                "preview": preview(
                    report.features, [*view.entity_keys, contract.timestamp_name, *names[:8]]
                ),
            }
        )

    return features_asset


def build_defs(contract: DatasetContract) -> dg.Definitions:
    """One `features/<dataset>_<view>` table per feature view."""
    return dg.Definitions(
        assets=[build_features_asset(contract, view) for view in contract.feature_views]
    )
