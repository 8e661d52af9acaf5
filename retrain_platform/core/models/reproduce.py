"""Retrain a registered version from its recorded training-set version and configuration.

The candidate run recorded the final fit's exact inputs (`training/record.json`): the dataset
table and Delta version, the typed LightGBM parameters (seed, thread count included), the number
of rounds and the feature list. Refitting with them and scoring the holdout must give the same
predictions, bit for bit, as the registered model.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from retrain_platform.contracts import DatasetContract
from retrain_platform.core.datasets.ref import DatasetRef
from retrain_platform.core.models.candidate_runs import (
    TRAINING_RECORD,
    load_booster,
    load_json,
    version_uri,
)
from retrain_platform.core.models.mlflow_store import MlflowStore
from retrain_platform.core.models.training import LIGHTGBM_VERSION, holdout_rows, predict, refit


@dataclass(frozen=True)
class Reproduction:
    """How the retrained model compares with the registered one on the holdout."""

    version: int
    dataset: DatasetRef
    holdout_rows: int
    max_abs_difference: float
    identical: bool
    recorded_lightgbm: str
    contract_matches: bool
    seconds: float
    scores: np.ndarray

    def summary(self) -> str:
        same = "identical" if self.identical else "DIFFERENT"
        notes = []
        if self.recorded_lightgbm != LIGHTGBM_VERSION:
            notes.append(f"trained with lightgbm {self.recorded_lightgbm}, now {LIGHTGBM_VERSION}")
        if not self.contract_matches:
            notes.append("the contract changed since training")
        return (
            f"version {self.version}: retrained from training set v{self.dataset.version} "
            f"({self.dataset.window_start}..{self.dataset.window_end}) in {self.seconds:.1f} s; "
            f"holdout predictions {same} on {self.holdout_rows} rows "
            f"(max |difference| {self.max_abs_difference:.3g})"
            + (f"; note: {'; '.join(notes)}" if notes else "")
        )


def reproduce_version(
    store: MlflowStore,
    name: str,
    version: int,
    contract: DatasetContract,
    *,
    storage_options: Mapping[str, str] | None = None,
) -> Reproduction:
    """Refit version `version` of registered model `name` and compare holdout predictions."""
    started = time.perf_counter()
    model_version = store.client().get_model_version(name, str(version))
    record = load_json(store, str(model_version.run_id), TRAINING_RECORD)
    dataset = DatasetRef.from_tags(record["dataset"])
    features = list(record["features"])
    frame = dataset.read(storage_options)
    booster = refit(frame, contract, features, record["params"], int(record["num_boost_round"]))
    holdout = holdout_rows(frame)
    retrained = predict(booster, holdout, features)
    registered = predict(load_booster(store, version_uri(name, version)), holdout, features)
    difference = float(np.max(np.abs(retrained - registered))) if retrained.size else 0.0
    return Reproduction(
        version=version,
        dataset=dataset,
        holdout_rows=holdout.height,
        max_abs_difference=difference,
        identical=bool(np.array_equal(retrained, registered)),
        recorded_lightgbm=str(record.get("lightgbm_version", "")),
        contract_matches=dataset.contract_hash in (None, contract.contract_hash),
        seconds=time.perf_counter() - started,
        scores=retrained,
    )
