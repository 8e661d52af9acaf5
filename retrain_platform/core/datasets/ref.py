"""A reference to one frozen training-set version: where it is and what was recorded with it.

A model records this reference (as MLflow tags), which is enough to re-read exactly the rows it
was trained and gated on.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import polars as pl
from deltalake import DeltaTable

from retrain_platform.core import platform_columns as pc
from retrain_platform.core.datasets.training_set import (
    HOLDOUT,
    SPLIT,
    TRAINING_WINDOW,
    VALIDATION,
    read_version,
)

TAG_URI = "dataset.uri"
TAG_VERSION = "dataset.version"
TAG_WINDOW_START = "dataset.window_start"
TAG_WINDOW_END = "dataset.window_end"
TAG_HOLDOUT = "dataset.holdout_partitions"
TAG_VIEW = "dataset.view"
TAG_CONTRACT_HASH = "dataset.contract_hash"
TAG_VALIDATION = "dataset.validation_partitions"
TAG_TRAINING_WINDOW = "dataset.training_window"


@dataclass(frozen=True)
class DatasetRef:
    """One training-set version and the window it covers."""

    uri: str
    version: int
    window_start: str
    window_end: str
    holdout_partitions: tuple[str, ...]
    view: str | None
    contract_hash: str | None
    validation_partitions: tuple[str, ...] = ()
    training_window: str = ""  # sliding or expanding ("" for versions frozen before it was kept)

    def tags(self) -> dict[str, str]:
        return {
            TAG_URI: self.uri,
            TAG_VERSION: str(self.version),
            TAG_WINDOW_START: self.window_start,
            TAG_WINDOW_END: self.window_end,
            TAG_HOLDOUT: ",".join(self.holdout_partitions),
            TAG_VIEW: self.view or "",
            TAG_CONTRACT_HASH: self.contract_hash or "",
            TAG_VALIDATION: ",".join(self.validation_partitions),
            TAG_TRAINING_WINDOW: self.training_window,
        }

    @classmethod
    def from_tags(cls, tags: Mapping[str, str]) -> DatasetRef:
        return cls(
            uri=tags[TAG_URI],
            version=int(tags[TAG_VERSION]),
            window_start=tags.get(TAG_WINDOW_START, ""),
            window_end=tags.get(TAG_WINDOW_END, ""),
            holdout_partitions=_partition_list(tags.get(TAG_HOLDOUT, "")),
            view=tags.get(TAG_VIEW) or None,
            contract_hash=tags.get(TAG_CONTRACT_HASH) or None,
            validation_partitions=_partition_list(tags.get(TAG_VALIDATION, "")),
            training_window=tags.get(TAG_TRAINING_WINDOW, ""),
        )

    def read(self, storage_options: Mapping[str, str] | None = None) -> pl.DataFrame:
        """Re-read the version's rows exactly."""
        return read_version(self.uri, self.version, storage_options)


def _partition_list(text: str) -> tuple[str, ...]:
    return tuple(p for p in text.split(",") if p)


def commit_metadata(
    uri: str, version: int, storage_options: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The custom metadata written with one version's commit (empty when there is none)."""
    for entry in DeltaTable(uri, storage_options=dict(storage_options or {})).history():
        if int(entry.get("version", -1)) == version:
            return {k: str(v) for k, v in entry.items()}
    return {}


def describe_version(
    uri: str,
    version: int,
    frame: pl.DataFrame,
    storage_options: Mapping[str, str] | None = None,
) -> DatasetRef:
    """Reference `version` of the training-set table at `uri`, whose rows are `frame`."""
    metadata = commit_metadata(uri, version, storage_options)
    partitions = frame.get_column(pc.PARTITION).unique().sort().to_list()

    def split(name: str) -> tuple[str, ...]:
        rows = frame.filter(pl.col(SPLIT) == name)
        return tuple(rows.get_column(pc.PARTITION).unique().sort().to_list())

    return DatasetRef(
        uri=uri,
        version=version,
        window_start=partitions[0] if partitions else "",
        window_end=partitions[-1] if partitions else "",
        holdout_partitions=split(HOLDOUT),
        view=metadata.get("view"),
        contract_hash=metadata.get("contract_hash"),
        validation_partitions=split(VALIDATION),
        training_window=metadata.get(TRAINING_WINDOW, ""),
    )
