"""Checks of the registered model and the deployment: the alias serves the contract's inputs.

`models/<dataset>_registered` -> `challenger_serves_contract_inputs` (blocking: the deployment
does not move `champion` to a version that cannot serve); `deployment/<dataset>_champion` ->
`champion_serves_contract_inputs` (ERROR, not blocking: nothing downstream of it runs in the
same job, and the service reads the alias directly).
"""

import dagster as dg

from retrain_platform.contracts import DatasetContract
from retrain_platform.core.deployment.alias_check import check_alias
from retrain_platform.core.deployment.registry import CHALLENGER, CHAMPION
from retrain_platform.defs import model_keys as mk
from retrain_platform.defs.metadata import bounded_metadata
from retrain_platform.resources.tracking import MlflowResource

CHALLENGER_SERVES = "challenger_serves_contract_inputs"
CHAMPION_SERVES = "champion_serves_contract_inputs"

_WHAT = (
    "resolves to a registered version that loads as the service loads it (model.lgb, digest "
    "checked) and whose logged signature and feature names are the contract view's model "
    "inputs, in order."
)


def _alias_check(
    contract: DatasetContract, asset: dg.AssetKey, alias: str, name: str, blocking: bool
) -> dg.AssetChecksDefinition:
    tail = (
        " Blocking: the deployment does not run after a failure."
        if blocking
        else " Not blocking: nothing downstream runs in the same job."
    )

    @dg.asset_check(
        asset=asset,
        name=name,
        blocking=blocking,
        description=f"MLflow alias `{alias}` {_WHAT}{tail}",
    )
    def alias_serves(mlflow: MlflowResource) -> dg.AssetCheckResult:
        outcome = check_alias(
            mlflow.store(), contract, mlflow.registry_model_name(contract), alias, name
        )
        return dg.AssetCheckResult(
            passed=outcome.passed,
            severity=dg.AssetCheckSeverity.ERROR,
            metadata=bounded_metadata(outcome.metadata),
            description=f"Alias {alias}: version {outcome.metadata.get('version')}.",
        )

    return alias_serves


def build_checks(contract: DatasetContract) -> list[dg.AssetChecksDefinition]:
    """The registered model's (blocking) and the deployment's alias checks."""
    return [
        _alias_check(
            contract, mk.registered_model_key(contract), CHALLENGER, CHALLENGER_SERVES, True
        ),
        _alias_check(contract, mk.deployment_key(contract), CHAMPION, CHAMPION_SERVES, False),
    ]
