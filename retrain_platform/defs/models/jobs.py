"""The retrain job of one dataset: freeze a training set, train, gate, approve and deploy."""

from typing import Any

import dagster as dg

from retrain_platform.contracts import DatasetContract
from retrain_platform.defs import keys
from retrain_platform.defs import model_keys as mk


def retrain_job_name(contract: DatasetContract) -> str:
    return f"{contract.dataset}_retrain_job"


def model_asset_keys(contract: DatasetContract) -> list[dg.AssetKey]:
    """The retrain job's steps after the training set: candidate (+ gate), approval, deployment."""
    return [
        mk.candidate_model_key(contract),
        mk.registered_model_key(contract),
        mk.deployment_key(contract),
    ]


def build_retrain_job(contract: DatasetContract) -> Any:  # an unresolved asset job
    """`<dataset>_retrain_job`; a gate rejection ends it after the gate (approval and deployment
    skipped, the run succeeds, the rejected version is still registered and recorded)."""
    return dg.define_asset_job(
        retrain_job_name(contract),
        selection=dg.AssetSelection.assets(
            keys.training_dataset_key(contract), *model_asset_keys(contract)
        ),
        description=(
            "Freeze a training set, train a challenger, gate it against the champion, and "
            "deploy it when the gate passes."
        ),
        tags={"dataset": contract.dataset},
    )
