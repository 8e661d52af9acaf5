"""The champion's training reference for monitoring: its model, features, reference sample and
cached drift profile.

Drift is measured against what the champion was trained on: the train split of the training-set
version recorded on its registry version (`dataset.*` tags), sorted by primary key so that the
deterministic sample (and the profile's fingerprint) is the same on every read. Building a
profile reads a whole training set, so it is cached per champion version as
`<cache_dir>/v<version>.npz`, next to the champion's scores on the same sample (`.scores.npy`,
the reference side of prediction drift); a cache made with another row cap, seed, feature list
or warm-up cut-offs (another history start, see `core.drift`), or in an older format, is
rebuilt.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from retrain_platform.contracts import DatasetContract
from retrain_platform.core.datasets.ref import DatasetRef
from retrain_platform.core.datasets.training_set import read_version
from retrain_platform.core.deployment.registry import CHAMPION, alias_version
from retrain_platform.core.models.candidate_runs import load_booster, version_uri
from retrain_platform.core.models.inputs import model_feature_names
from retrain_platform.core.models.mlflow_store import MlflowStore
from retrain_platform.core.models.training import predict
from retrain_platform.core.monitoring.drift import (
    ReferenceProfile,
    load_profile,
    save_profile,
)
from retrain_platform.core.monitoring.drift_profile import (
    SAMPLE_SEED,
    profile_and_scores,
    train_split,
)


@dataclass(frozen=True, eq=False)
class Champion:
    """The deployed version, the training set it was built on, its inputs and its model."""

    name: str
    version: int
    dataset: DatasetRef
    features: list[str]
    booster: Any


def champion_version(store: MlflowStore, name: str) -> int | None:
    """The version the `champion` alias points to (None before the first deployment)."""
    return alias_version(store.client(), name, CHAMPION)


def champion_dataset(store: MlflowStore, name: str, version: int) -> DatasetRef:
    """The training-set reference recorded on a registry version."""
    return DatasetRef.from_tags(store.client().get_model_version(name, str(version)).tags)


def load_champion(store: MlflowStore, contract: DatasetContract, name: str) -> Champion | None:
    """The current champion with its model loaded, None before the first deployment."""
    version = champion_version(store, name)
    if version is None:
        return None
    dataset = champion_dataset(store, name, version)
    view = contract.view(dataset.view)
    booster = load_booster(store, version_uri(name, version))
    return Champion(name, version, dataset, model_feature_names(contract, view), booster)


def reference_frame(
    champion: Champion,
    contract: DatasetContract,
    storage_options: Mapping[str, str] | None = None,
) -> pl.DataFrame:
    """The train split of the champion's training set, sorted by primary key."""
    frame = read_version(champion.dataset.uri, champion.dataset.version, storage_options)
    return train_split(frame, contract)


@dataclass(frozen=True, eq=False)
class Reference:
    """A champion's drift profile and its scores on the profile's sample."""

    profile: ReferenceProfile
    scores: np.ndarray
    numeric: list[str]
    categorical: list[str]
    cached: bool


def profile_path(cache_dir: Path, version: int) -> Path:
    return cache_dir / f"v{version}.npz"


def _scores_path(cache_dir: Path, version: int) -> Path:
    return cache_dir / f"v{version}.scores.npy"


def _usable(
    profile: ReferenceProfile,
    features: Sequence[str],
    row_cap: int,
    complete_from: Mapping[str, datetime],
) -> bool:
    wanted = {name: start.isoformat() for name, start in complete_from.items()}
    return (
        profile.row_cap == row_cap
        and profile.seed == SAMPLE_SEED
        and sorted(profile.features) == sorted(features)
        and dict(profile.complete_from or {}) == wanted
    )


def _cached_profile(path: Path) -> ReferenceProfile | None:
    try:
        return load_profile(path)
    except ValueError:  # written in an older profile format: rebuilt by the caller
        return None


def load_reference(
    champion: Champion,
    contract: DatasetContract,
    cache_dir: Path,
    *,
    row_cap: int,
    storage_options: Mapping[str, str] | None = None,
    complete_from: Mapping[str, datetime] | None = None,
) -> Reference:
    """The champion's profile and reference scores: from the cache, else built and cached.

    `complete_from` (feature -> time, `core.drift.complete_from`) keeps, per windowed feature,
    only the reference rows whose window lies within the available history.
    """
    cutoffs = {n: t for n, t in (complete_from or {}).items() if n in champion.features}
    path = profile_path(cache_dir, champion.version)
    scores_path = _scores_path(cache_dir, champion.version)
    if path.exists() and scores_path.exists():
        profile = _cached_profile(path)
        if profile is not None and _usable(profile, champion.features, row_cap, cutoffs):
            return Reference(
                profile,
                np.load(scores_path, allow_pickle=False),
                list(profile.numeric),
                list(profile.categorical),
                cached=True,
            )
    frame = reference_frame(champion, contract, storage_options)
    profile, scores = profile_and_scores(
        frame,
        champion.features,
        contract,
        row_cap=row_cap,
        complete_from=cutoffs,
        score=lambda sample: predict(champion.booster, sample, champion.features),
    )
    save_profile(profile, path)
    tmp = scores_path.with_name(f".{scores_path.name}.tmp")
    with tmp.open("wb") as handle:
        np.save(handle, scores, allow_pickle=False)
    tmp.replace(scores_path)
    return Reference(
        profile, scores, list(profile.numeric), list(profile.categorical), cached=False
    )


def profile_frame(profile: ReferenceProfile) -> pl.DataFrame:
    """A frame with each feature's reference distribution (nulls included), from the profile.

    Rows are not the reference's rows (each column is its own sorted values, padded with nulls
    to the sample size), which is all a per-column drift report needs: Evidently's HTML is then
    made without re-reading the training set.
    """
    rows = profile.sample_rows
    columns: dict[str, pl.Series] = {}
    for name, ref in profile.numeric.items():
        padded = np.full(rows, np.nan)
        padded[: ref.rows] = ref.values
        columns[name] = pl.Series(name, padded).fill_nan(None)
    for name, ref in profile.categorical.items():
        values: list[object] = [
            c for c, n in zip(ref.categories, ref.counts, strict=True) for _ in range(n)
        ]
        columns[name] = pl.Series(name, values + [None] * (rows - len(values)))
    return pl.DataFrame(list(columns.values()))
