"""Asset keys (`<layer>/<dataset>_<role>`, so the lineage reads layer by layer), groups and tags.

The lineage view titles a node with the key's last component only (Dagster 1.13 has no display
name) and cuts it in the middle past 31 characters, so that component alone names the dataset and
the asset's role (`raw/transactions_raw`, not `raw/transactions`), unique within the dataset, and
stays short. Storage does not follow the keys: a layer's Delta table is `<layer>/<dataset>` under
the lake (`lake.uri(keys.RAW, contract.dataset)`), whatever its asset is called.

Each dataset's assets sit in the dataset's own groups, `<dataset>_<group>` (`dataset_group`,
applied when a dataset's definitions are assembled), so several datasets in one code location
each show their whole loop, group by group, in the lineage view.
"""

import dagster as dg

from retrain_platform.contracts import DatasetContract
from retrain_platform.contracts.model import FeatureView

LANDING = "landing"
RAW = "raw"
VALIDATED = "validated"
FEATURES = "features"
DATASETS = "datasets"
QUARANTINE_SUFFIX = "_quarantine"
ONLINE_SUFFIX = "_live"

LEDGER_SUFFIX = "_ledger"

GROUPS = {
    LANDING: "ingest",
    RAW: "ingest",
    VALIDATED: "validate",
    FEATURES: "features",
    DATASETS: "datasets",
}


def dataset_group(contract: DatasetContract, group: str | None) -> str:
    """The dataset's own group for a layer group (`ingest` -> `<dataset>_ingest`)."""
    return f"{contract.dataset}_{group or 'default'}"


def ledger_key(contract: DatasetContract) -> dg.AssetKey:
    """`landing/<dataset>_landing`: the landing zone as the ledger records it (observed, not
    built)."""
    return dg.AssetKey([LANDING, f"{contract.dataset}_{LANDING}"])


def ledger_table(contract: DatasetContract) -> str:
    """Last part of the ledger's Delta table path (`landing/<dataset>_ledger`)."""
    return contract.dataset + LEDGER_SUFFIX


def raw_key(contract: DatasetContract) -> dg.AssetKey:
    """`raw/<dataset>_raw`: the landed files as read, one Delta table (`lake/raw/<dataset>`)."""
    return dg.AssetKey([RAW, f"{contract.dataset}_{RAW}"])


def validated_key(contract: DatasetContract) -> dg.AssetKey:
    """`validated/<dataset>_validated`: the rows that passed (`lake/validated/<dataset>`)."""
    return dg.AssetKey([VALIDATED, f"{contract.dataset}_{VALIDATED}"])


def quarantine_key(contract: DatasetContract) -> dg.AssetKey:
    return dg.AssetKey([VALIDATED, contract.dataset + QUARANTINE_SUFFIX])


def features_key(contract: DatasetContract, view: FeatureView) -> dg.AssetKey:
    return dg.AssetKey([FEATURES, f"{contract.dataset}_{view.name}"])


def feast_registry_key(contract: DatasetContract) -> dg.AssetKey:
    return dg.AssetKey([FEATURES, f"{contract.dataset}_registry"])


def online_store_key(contract: DatasetContract, view: FeatureView) -> dg.AssetKey:
    """`features/<dataset>_<view>_live`: the view's online store, the live values serving reads
    (`_live`, not `_online`, keeps `transactions_card_history_live` within the node title's 31)."""
    return dg.AssetKey([FEATURES, f"{contract.dataset}_{view.name}{ONLINE_SUFFIX}"])


def partitioned_feature_keys(contract: DatasetContract) -> list[dg.AssetKey]:
    """The features table and the online store of every view."""
    return [
        key
        for view in contract.feature_views
        for key in (features_key(contract, view), online_store_key(contract, view))
    ]


def training_dataset_key(contract: DatasetContract) -> dg.AssetKey:
    return dg.AssetKey([DATASETS, f"{contract.dataset}_training"])


def quarantine_table(contract: DatasetContract) -> str:
    """Last part of the quarantine table path (`validated/<dataset>_quarantine`)."""
    return contract.dataset + QUARANTINE_SUFFIX


def tags(contract: DatasetContract, layer: str) -> dict[str, str]:
    return {"layer": layer, "dataset": contract.dataset}
