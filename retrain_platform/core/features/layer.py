"""The features step end to end: validated history to one features partition in Delta."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from retrain_platform.contracts import DatasetContract
from retrain_platform.contracts.model import FeatureView
from retrain_platform.core import platform_columns as pc
from retrain_platform.core.features.transforms import build_features, feature_columns
from retrain_platform.core.lake import overwrite_partitions, read_partitions, table_exists
from retrain_platform.core.partitions import history_partitions, partitions_between


@dataclass(frozen=True)
class FeatureStepReport:
    partitions: list[str]
    history_partitions: list[str]
    history_rows: int
    features: pl.DataFrame
    version: int


def run_feature_step(
    contract: DatasetContract,
    view: FeatureView,
    partitions: list[str],
    *,
    validated_uri: str,
    features_uri: str,
    storage_options: Mapping[str, str] | None = None,
    commit_metadata: Mapping[str, str] | None = None,
    mirror_uri: str | None = None,
) -> FeatureStepReport:
    """Compute a view's features for `partitions` (a contiguous range) from exactly the
    validated partitions their windows reach, in one read and one commit."""
    grain = contract.partitioning.grain
    reach = history_partitions(min(partitions), grain, view.lookback)[0]
    needed = partitions_between(reach, max(partitions), grain)
    if table_exists(validated_uri, storage_options):
        history = read_partitions(validated_uri, needed, storage_options=storage_options)
    else:
        history = pl.DataFrame()
    if history.is_empty():
        features = pl.DataFrame(schema=feature_columns(contract, view))
    else:
        features = build_features(history, contract, view, partitions)
    version = overwrite_partitions(
        features_uri,
        features,
        partitions,
        storage_options=storage_options,
        commit_metadata=commit_metadata,
    )
    if mirror_uri is not None:
        write_parquet_mirror(features, partitions, mirror_uri, storage_options=storage_options)
    return FeatureStepReport(sorted(partitions), needed, history.height, features, version)


def mirror_file_name(partition: str) -> str:
    return f"part-{partition.replace(':', '-')}.parquet"


def write_parquet_mirror(
    features: pl.DataFrame,
    partitions: list[str],
    mirror_uri: str,
    *,
    storage_options: Mapping[str, str] | None = None,
) -> None:
    """Replace the Parquet copy of each partition that Feast's offline store reads.

    Feast 0.67's file offline store reads a Delta source as a plain folder of Parquet files, so
    after a partition overwrite it would also read the files the Delta log removed (stale and
    current values mixed). It reads this mirror instead: exactly one file per partition, each
    replaced whole (atomically on a local path).
    """
    local = "://" not in mirror_uri
    if local:
        Path(mirror_uri).mkdir(parents=True, exist_ok=True)
    for partition in partitions:
        part = features.filter(pl.col(pc.PARTITION) == partition)
        target = f"{mirror_uri.rstrip('/')}/{mirror_file_name(partition)}"
        if local:
            temporary = Path(mirror_uri) / f".{mirror_file_name(partition)}.tmp"
            part.write_parquet(temporary)
            os.replace(temporary, target)
        else:
            part.write_parquet(target, storage_options=dict(storage_options or {}))


def distribution_summary(frame: pl.DataFrame, columns: list[str]) -> pl.DataFrame:
    """Per column: null share, mean, std, min, max (numeric columns)."""
    rows = []
    for name in columns:
        series = frame.get_column(name)
        numeric = series.dtype.is_numeric() or series.dtype == pl.Boolean
        values = series.cast(pl.Float64) if numeric else None
        rows.append(
            {
                "feature": name,
                "null_share": round(series.null_count() / max(frame.height, 1), 4),
                "mean": values.mean() if values is not None else None,
                "std": values.std() if values is not None else None,
                "min": values.min() if values is not None else None,
                "max": values.max() if values is not None else None,
            }
        )
    return pl.DataFrame(
        rows,
        schema={
            "feature": pl.String,
            "null_share": pl.Float64,
            "mean": pl.Float64,
            "std": pl.Float64,
            "min": pl.Float64,
            "max": pl.Float64,
        },
    )
