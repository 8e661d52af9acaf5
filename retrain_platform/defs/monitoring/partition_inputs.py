"""What both monitoring assets read of a partition: the model features of the champion's view."""

import polars as pl

from retrain_platform.contracts import DatasetContract
from retrain_platform.contracts.model import FeatureView
from retrain_platform.core.features.transforms import feature_table_name
from retrain_platform.core.lake import read_partitions
from retrain_platform.core.monitoring.reference import Champion
from retrain_platform.defs import keys
from retrain_platform.resources import DeltaLakeResource


def champion_view(contract: DatasetContract, champion: Champion) -> FeatureView:
    """The feature view the champion was trained on."""
    return contract.view(champion.dataset.view)


def partition_features(
    contract: DatasetContract, champion: Champion, lake: DeltaLakeResource, partition: str
) -> pl.DataFrame:
    """A partition's rows of the champion's feature table."""
    table = feature_table_name(contract, champion_view(contract, champion))
    return read_partitions(
        lake.uri(keys.FEATURES, table), [partition], storage_options=lake.storage_options
    )
