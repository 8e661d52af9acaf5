"""The Dagster code location: every active contract's asset graph plus shared resources."""

import warnings
from collections.abc import Sequence

import dagster as dg

from retrain_platform.contracts import DatasetContract, active_contracts
from retrain_platform.defs import (
    checks,
    datasets,
    deployment,
    feature_store,
    features,
    ingest,
    jobs,
    keys,
    models,
    monitoring,
    validate,
)
from retrain_platform.defs.alerting import build_run_failure_sensor
from retrain_platform.defs.automation import automation_sensor
from retrain_platform.defs.executors import executor_from_env
from retrain_platform.home import HomeLayout, layout
from retrain_platform.resources import default_resources

# Partitioned checks and backfill policies are marked beta/preview in Dagster 1.13 but are what the
# platform relies on (per-partition blocking checks, single-run ingest backfills).
warnings.filterwarnings("ignore", category=dg.BetaWarning)
warnings.filterwarnings("ignore", category=dg.PreviewWarning)


# Each layer's `build_defs(contract)`, in lineage order; a layer with nothing to build for a
# contract (no feature views, say) returns empty definitions.
LAYERS = (
    ingest,
    validate,
    features,
    feature_store,
    datasets,
    models,
    deployment,
    monitoring,
    checks,
    jobs,
)


def build_dataset_defs(contract: DatasetContract) -> dg.Definitions:
    """Every asset, check, job, schedule and sensor of one dataset, layer by layer, its assets
    in the dataset's own groups (`<dataset>_<layer group>`, `keys.dataset_group`)."""
    return dg.Definitions.merge(*(layer.build_defs(contract) for layer in LAYERS)).map_asset_specs(
        func=lambda spec: spec.replace_attributes(
            group_name=keys.dataset_group(contract, spec.group_name)
        )
    )


def build_definitions(
    contracts: Sequence[DatasetContract] | None = None, home: HomeLayout | None = None
) -> dg.Definitions:
    """Definitions for `contracts` under `home` (default contracts: those `RETRAIN_CONTRACT`
    chooses, else the ones the demo wrote into the home, else the shipped one)."""
    home = home or layout()
    chosen = active_contracts(home.contract_paths()) if contracts is None else list(contracts)
    return dg.Definitions.merge(
        *(build_dataset_defs(contract) for contract in chosen),
        dg.Definitions(
            sensors=[automation_sensor(), build_run_failure_sensor()],
            resources=default_resources(home),
            executor=executor_from_env(),
        ),
    )


defs = build_definitions()
