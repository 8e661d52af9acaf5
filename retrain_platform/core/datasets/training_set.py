"""Versioned, point-in-time training datasets: label events joined to features, split by time.

A training set is frozen as a new version of one Delta table (never overwriting an earlier one),
so any earlier version can be re-read exactly by its number. Which partitions it covers and how
they split by time is the window's (`core.datasets.window`, from the contract's policy): the most
recent partitions are the holdout (never used for model selection), the ones before them
validation, the rest train; partitions left out because their blocking checks failed are listed
with the version, and so are the window's kind and its splits.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import polars as pl
from deltalake import CommitProperties, DeltaTable, write_deltalake

from retrain_platform.contracts import DatasetContract
from retrain_platform.contracts.model import FeatureView
from retrain_platform.core import platform_columns as pc
from retrain_platform.core.datasets.point_in_time import asof_join, label_columns
from retrain_platform.core.datasets.window import (
    HOLDOUT,
    TRAIN,
    VALIDATION,
    DatasetWindow,
    make_window,
)
from retrain_platform.core.lake import read_partitions

# the window's names, re-exported: the split values and the window builder
__all__ = ["EXCLUDED", "HOLDOUT", "SPLIT", "TRAIN", "VALIDATION", "DatasetWindow", "make_window"]

SPLIT = "_split"
EXCLUDED = "excluded_partitions"  # commit metadata: partitions left out, with their failed checks
TRAINING_WINDOW = "training_window"  # commit metadata: sliding or expanding
SPLITS = "splits"  # commit metadata: the partitions of each split


def label_events(
    validated: pl.DataFrame, contract: DatasetContract, window: DatasetWindow
) -> pl.DataFrame:
    """Label events of the window whose label was known by the as-of time."""
    ts = contract.timestamp_name
    known = pl.col(ts) + pl.duration(microseconds=int(contract.label.delay.total_seconds() * 1e6))
    return validated.filter(
        pl.col(pc.PARTITION).is_in(window.partitions) & (known <= pl.lit(window.as_of))
    ).select([*label_columns(contract), pc.PARTITION])


Join = Callable[[pl.DataFrame, pl.DataFrame], pl.DataFrame]


def build_training_frame(
    labels: pl.DataFrame,
    features: pl.DataFrame,
    contract: DatasetContract,
    view: FeatureView,
    window: DatasetWindow,
    join: Join | None = None,
) -> pl.DataFrame:
    """Labels joined as of their time to the view's features, with the time-ordered split.

    `join(labels, features)` replaces the default polars as-of join (Feast's retrieval path).
    """
    joined = join(labels, features) if join else asof_join(labels, features, contract, view)
    split = window.split_of()
    return joined.with_columns(pl.col(pc.PARTITION).replace_strict(split).alias(SPLIT))


def write_version(
    uri: str,
    frame: pl.DataFrame,
    *,
    metadata: Mapping[str, str],
    storage_options: Mapping[str, str] | None = None,
) -> int:
    """Write the frame as the table's next version and return its number; earlier versions
    stay readable by number."""
    options = dict(storage_options or {})
    write_deltalake(
        uri,
        frame.to_arrow(),
        mode="overwrite",
        schema_mode="overwrite",
        storage_options=options,
        commit_properties=CommitProperties(custom_metadata=dict(metadata)),
    )
    return DeltaTable(uri, storage_options=options).version()


@dataclass(frozen=True)
class DatasetVersion:
    """What was frozen: the version number and the figures recorded with it."""

    version: int
    window: DatasetWindow
    rows: int
    label_rate: float
    split_rows: dict[str, int]
    features: list[str]
    contract_hash: str

    def commit_metadata(self) -> dict[str, str]:
        return {
            "as_of": self.window.as_of.isoformat(),
            "window": f"{self.window.partitions[0]}..{self.window.partitions[-1]}",
            "rows": str(self.rows),
            "label_rate": f"{self.label_rate:.6f}",
            "contract_hash": self.contract_hash,
            EXCLUDED: json.dumps({k: list(v) for k, v in self.window.excluded.items()}),
            TRAINING_WINDOW: self.window.kind,
            SPLITS: json.dumps(self.window.splits()),
        }


def freeze_training_set(
    contract: DatasetContract,
    view: FeatureView,
    window: DatasetWindow,
    *,
    validated_uri: str,
    features_uri: str,
    dataset_uri: str,
    storage_options: Mapping[str, str] | None = None,
    extra_metadata: Mapping[str, str] | None = None,
    join: Join | None = None,
) -> tuple[DatasetVersion, pl.DataFrame]:
    """Build the window's training set (fast path unless `join` is given), write a new version."""
    labels, features = load_window_inputs(
        contract,
        view,
        window,
        validated_uri=validated_uri,
        features_uri=features_uri,
        storage_options=storage_options,
    )
    frame = build_training_frame(labels, features, contract, view, window, join)
    rate = float((frame.get_column(contract.label_name) == contract.label.positive).mean() or 0.0)
    stats = DatasetVersion(
        -1,
        window,
        frame.height,
        rate,
        dict(frame.group_by(SPLIT).len().iter_rows()),
        view.feature_names(contract.label_name),
        contract.contract_hash,
    )
    version = write_version(
        dataset_uri,
        frame,
        storage_options=storage_options,
        metadata={**stats.commit_metadata(), **(extra_metadata or {})},
    )
    return DatasetVersion(
        version, window, stats.rows, rate, stats.split_rows, stats.features, stats.contract_hash
    ), frame


def read_version(
    uri: str, version: int, storage_options: Mapping[str, str] | None = None
) -> pl.DataFrame:
    """Re-read a recorded training-set version exactly (Delta time travel)."""
    return pl.read_delta(uri, version=version, storage_options=dict(storage_options or {}))


def version_history(uri: str, storage_options: Mapping[str, str] | None = None) -> pl.DataFrame:
    """One row per written version with the metadata recorded at commit."""
    history = DeltaTable(uri, storage_options=dict(storage_options or {})).history()
    return pl.DataFrame(
        [
            {
                k: str(v)
                for k, v in entry.items()
                if k
                in (
                    "version",
                    "timestamp",
                    "as_of",
                    "window",
                    "rows",
                    "label_rate",
                    "contract_hash",
                    EXCLUDED,
                    TRAINING_WINDOW,
                    SPLITS,
                )
            }
            for entry in history
        ]
    )


def load_window_inputs(
    contract: DatasetContract,
    view: FeatureView,
    window: DatasetWindow,
    *,
    validated_uri: str,
    features_uri: str,
    storage_options: Mapping[str, str] | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The window's label events and the features of the same partitions."""
    validated = read_partitions(validated_uri, window.partitions, storage_options=storage_options)
    features = read_partitions(features_uri, window.partitions, storage_options=storage_options)
    return label_events(validated, contract, window), features
