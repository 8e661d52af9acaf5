"""The history a backtest replays: validated rows, one feature view computed once, the clock.

The view's features are computed as the features layer does (`features.transforms.build_features`
over exactly the validated partitions their windows reach), a chunk of partitions at a time, so a
long history is never featurized in one frame; every feature of an event reads only what was
known at its time, which is why computing them once serves every step of every policy. The
training frame of a window is what the training-set asset freezes (`label_events` as of the
window's time, as-of joined to the view's features) and a partition's scoring frame is what the
monitoring assets read (its feature rows with their labels).

The clock: partition `p` lands `arrival_delay` after it ends; that moment is "now" for the
automation and the retrain sensor of that step, as in the closed-loop demo. A retrain's training
set is frozen as of the end of the newest partition, as the training-set asset does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import polars as pl

from retrain_platform.contracts import DatasetContract
from retrain_platform.contracts.model import FeatureView
from retrain_platform.core import platform_columns as pc
from retrain_platform.core.backtest.source import PreparedSource
from retrain_platform.core.datasets.training_set import build_training_frame, label_events
from retrain_platform.core.datasets.window import DatasetWindow
from retrain_platform.core.features.transforms import build_features
from retrain_platform.core.models.inputs import model_feature_names
from retrain_platform.core.monitoring.drift_warm_up import feature_reach
from retrain_platform.core.partitions import history_partitions, partition_end, partition_start
from retrain_platform.core.progress import ProgressCallback, report

FEATURES = "compute features"
ARRIVAL_DELAY = timedelta(hours=1)  # as the demo: a partition's file lands an hour after it ends
CHUNK_PARTITIONS = 64


@dataclass(frozen=True, eq=False)
class ReplayHistory:
    """Everything a replay reads, per partition in time order."""

    contract: DatasetContract
    view: FeatureView
    features: tuple[str, ...]
    partitions: tuple[str, ...]
    validated: dict[str, pl.DataFrame]
    featured: dict[str, pl.DataFrame]
    scoring: dict[str, pl.DataFrame]
    history_start: datetime
    reach: dict[str, timedelta]
    refused: tuple[str, ...]
    arrival_delay: timedelta = ARRIVAL_DELAY

    def now(self, index: int) -> datetime:
        """When partition `index` has landed: the moment its step decides."""
        return partition_end(self.partitions[index], self.grain) + self.arrival_delay

    def as_of(self, index: int) -> datetime:
        """The training set's time at that step: the end of the newest landed partition (the
        training-set asset's as-of partition), whose labels due by then it holds."""
        return partition_end(self.partitions[index], self.grain)

    @property
    def grain(self) -> str:
        return self.contract.partitioning.grain

    def labels_known_at(self, partition: str) -> datetime:
        """When every label of `partition` is known: its end plus the label delay."""
        return partition_end(partition, self.grain) + self.contract.label.delay

    def rows(self, partition: str) -> int:
        return self.validated[partition].height

    def gaps(self) -> list[tuple[datetime, datetime]]:
        """Refused partitions (rows arrived, none valid), as the drift report reads them."""
        grain = self.grain
        return [(partition_start(p, grain), partition_end(p, grain)) for p in self.refused]

    def training_frame(self, window: DatasetWindow) -> pl.DataFrame:
        """The training set the platform would freeze for `window` (labels known by its time)."""
        validated = pl.concat([self.validated[p] for p in window.partitions])
        features = pl.concat([self.featured[p] for p in window.partitions])
        labels = label_events(validated, self.contract, window)
        return build_training_frame(labels, features, self.contract, self.view, window)


def _join_keys(contract: DatasetContract) -> list[str]:
    return list(contract.primary_key) or [*contract.entity_key_names, contract.timestamp_name]


def view_features(
    rows: pl.DataFrame,
    contract: DatasetContract,
    view: FeatureView,
    partitions: Sequence[str],
    *,
    chunk: int = CHUNK_PARTITIONS,
    progress: ProgressCallback | None = None,
) -> pl.DataFrame:
    """The view's features of every partition, `chunk` partitions at a time, each from the
    validated partitions its windows reach (as the features step reads them)."""
    grain = contract.partitioning.grain
    ordered = list(partitions)
    parts: list[pl.DataFrame] = []
    for start in range(0, len(ordered), chunk):
        batch = ordered[start : start + chunk]
        reach = history_partitions(batch[0], grain, view.lookback)[0]
        history = rows.filter((pl.col(pc.PARTITION) >= reach) & (pl.col(pc.PARTITION) <= batch[-1]))
        parts.append(build_features(history, contract, view, batch))
        report(progress, FEATURES, min(start + chunk, len(ordered)), len(ordered))
    return pl.concat(parts)


def _by_partition(frame: pl.DataFrame) -> dict[str, pl.DataFrame]:
    return {key: part for (key,), part in frame.partition_by(pc.PARTITION, as_dict=True).items()}


def build_history(
    prepared: PreparedSource,
    contract: DatasetContract,
    *,
    view: str | None = None,
    arrival_delay: timedelta = ARRIVAL_DELAY,
    progress: ProgressCallback | None = None,
) -> ReplayHistory:
    """Featurize the prepared source with the contract's view (`view`, default the first)."""
    chosen = contract.view(view)
    partitions = prepared.partitions
    featured = view_features(prepared.rows, contract, chosen, partitions, progress=progress)
    labels = prepared.rows.select([*_join_keys(contract), contract.label_name])
    scoring = featured.drop(contract.label_name, strict=False).join(labels, on=_join_keys(contract))
    features = tuple(model_feature_names(contract, chosen))
    reach = {n: s for n, s in feature_reach(contract, chosen).items() if n in features}
    empty_features = featured.clear()
    empty_scoring = scoring.clear()
    by_features, by_scoring = _by_partition(featured), _by_partition(scoring)
    return ReplayHistory(
        contract=contract,
        view=chosen,
        features=features,
        partitions=partitions,
        validated=_by_partition(prepared.rows),
        featured={p: by_features.get(p, empty_features) for p in partitions},
        scoring={p: by_scoring.get(p, empty_scoring) for p in partitions},
        history_start=partition_start(partitions[0], contract.partitioning.grain),
        reach=reach,
        refused=prepared.refused_partitions,
        arrival_delay=arrival_delay,
    )
