"""Keys, groups and names of the models and deployment layers, and the run tags they read.

As in `keys`, a key's last component is `<dataset>_<role>`, the node's title in the lineage view.
"""

import dagster as dg

from retrain_platform.contracts import DatasetContract

MODELS = "models"
DEPLOYMENT = "deployment"
GROUPS = {MODELS: "models", DEPLOYMENT: "deployment"}
EVALUATION_GATE = "evaluation_gate"
DECISIONS_SUFFIX = "_decisions"


def candidate_model_key(contract: DatasetContract) -> dg.AssetKey:
    return dg.AssetKey([MODELS, f"{contract.dataset}_candidate"])


def registered_model_key(contract: DatasetContract) -> dg.AssetKey:
    return dg.AssetKey([MODELS, f"{contract.dataset}_registered"])


def deployment_key(contract: DatasetContract) -> dg.AssetKey:
    """`deployment/<dataset>_champion`: the model version the `champion` alias serves."""
    return dg.AssetKey([DEPLOYMENT, f"{contract.dataset}_champion"])


def decisions_table(contract: DatasetContract) -> str:
    """Last part of the decision history's path (`deployment/<dataset>_decisions`)."""
    return contract.dataset + DECISIONS_SUFFIX


def tags(contract: DatasetContract, layer: str) -> dict[str, str]:
    return {"layer": layer, "dataset": contract.dataset}
