"""The models layer of one dataset: candidate, evaluation gate, registered model, retrain job.

`<dataset>_retrain_job` freezes a training-set version, trains the candidate, runs the gate,
approves and deploys (the deployment asset is the deployment layer's); `run_retrain_cycle` runs
that job in-process for the CLI and the demo.
"""

import dagster as dg

from retrain_platform.contracts import DatasetContract
from retrain_platform.defs.models.candidate import build_candidate_model_asset
from retrain_platform.defs.models.cycle import RetrainOutcome, run_retrain_cycle
from retrain_platform.defs.models.gate import build_evaluation_gate
from retrain_platform.defs.models.jobs import build_retrain_job, model_asset_keys, retrain_job_name
from retrain_platform.defs.models.registered import build_registered_model_asset

__all__ = [
    "RetrainOutcome",
    "build_defs",
    "model_asset_keys",
    "retrain_job_name",
    "run_retrain_cycle",
]


def build_defs(contract: DatasetContract) -> dg.Definitions:
    """Candidate, gate, registered model and the retrain job (nothing without feature views)."""
    if not contract.feature_views:
        return dg.Definitions()
    return dg.Definitions(
        assets=[build_candidate_model_asset(contract), build_registered_model_asset(contract)],
        asset_checks=[build_evaluation_gate(contract)],
        jobs=[build_retrain_job(contract)],
    )
