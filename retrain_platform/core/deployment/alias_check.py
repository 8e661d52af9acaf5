"""Whether a registry alias serves what the contract expects: a loadable version whose logged
signature is the contract's model inputs.

The version is loaded the way the service loads it (its `model.lgb` only, digest checked), and
the signature is read from its `MLmodel` metadata (read as data, never loaded as a flavor); both
the signature and the booster's own feature names must be the contract view's model inputs, in
order.
"""

from __future__ import annotations

import mlflow
from mlflow.exceptions import MlflowException

from retrain_platform.contracts import DatasetContract
from retrain_platform.core.bounded import clip_text
from retrain_platform.core.datasets.ref import TAG_VIEW
from retrain_platform.core.deployment.registry import alias_version
from retrain_platform.core.models.inputs import model_feature_names
from retrain_platform.core.models.loading import ModelIntegrityError, load_registered_booster
from retrain_platform.core.models.mlflow_store import MlflowStore
from retrain_platform.core.validate.table_checks import CheckOutcome


def signature_inputs(store: MlflowStore, name: str, version: int) -> list[str] | None:
    """Input column names of a registered version's logged signature (None: no signature)."""
    store.activate()
    info = mlflow.models.get_model_info(f"models:/{name}/{version}")
    if info.signature is None:
        return None
    return list(info.signature.inputs.input_names())


def check_alias(
    store: MlflowStore, contract: DatasetContract, name: str, alias: str, check_name: str
) -> CheckOutcome:
    """`alias` of `name` resolves to a loadable version whose signature matches the contract."""
    client = store.client()
    version = alias_version(client, name, alias)
    meta: dict[str, object] = {"model": name, "alias": alias, "version": version}
    if version is None:
        return CheckOutcome(check_name, False, {**meta, "problem": f"alias {alias} is not set"})
    view_name = client.get_model_version(name, str(version)).tags.get(TAG_VIEW) or None
    try:
        expected = model_feature_names(contract, contract.view(view_name))
        artifact = load_registered_booster(store, name, version)
        logged = signature_inputs(store, name, version)
    except (ModelIntegrityError, MlflowException, ValueError) as exc:
        return CheckOutcome(check_name, False, {**meta, "problem": clip_text(str(exc))})
    booster = list(artifact.booster.feature_name())
    problems = []
    if logged is None:
        problems.append("no logged signature")
    elif logged != expected:
        problems.append("signature inputs are not the contract's model inputs")
    if booster != expected:
        problems.append("the model's feature names are not the contract's model inputs")
    return CheckOutcome(
        check_name,
        not problems,
        {
            **meta,
            "view": view_name or contract.view().name,
            "inputs": len(expected),
            "missing": sorted(set(expected) - set(logged or [])),
            "unexpected": sorted(set(logged or []) - set(expected)),
            "problems": problems,
            "model_sha256": artifact.sha256,
        },
    )
