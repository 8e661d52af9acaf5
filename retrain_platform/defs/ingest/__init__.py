"""The ingest layer in Dagster: the raw asset and the landing-zone sensor that requests it."""

import dagster as dg

from retrain_platform.contracts import DatasetContract
from retrain_platform.defs.ingest.landing_sensor import build_landing_sensor
from retrain_platform.defs.ingest.ledger import build_ledger_spec
from retrain_platform.defs.ingest.raw import build_raw_asset


def build_defs(contract: DatasetContract) -> dg.Definitions:
    """`landing/<dataset>_landing` (the ledger), `raw/<dataset>_raw` and
    `<dataset>_landing_sensor`."""
    return dg.Definitions(
        assets=[build_ledger_spec(contract), build_raw_asset(contract)],
        sensors=[build_landing_sensor(contract)],
    )
