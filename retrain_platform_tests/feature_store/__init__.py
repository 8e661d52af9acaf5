"""Feature-store tests, and the synthetic feature rows they share."""

from __future__ import annotations

from datetime import date, timedelta
from functools import cache

import polars as pl

from retrain_platform.contracts import DatasetContract
from retrain_platform.contracts.model import FeatureView
from retrain_platform.core import platform_columns as pc
from retrain_platform.core.feature_store.feast_objects import feast_source_uri, features_table_uri
from retrain_platform.core.features.layer import write_parquet_mirror
from retrain_platform.core.features.transforms import build_features, feature_columns
from retrain_platform.core.ingest.landing import LandingFile
from retrain_platform.core.ingest.rows import conform_file
from retrain_platform.core.lake import overwrite_partitions
from retrain_platform.core.synthetic import generate_day

FIRST_DAY = date(2026, 1, 1)
DAYS = 3
ROWS_PER_DAY = 1_500
ENTITIES = 200
SEED = 7


@cache
def feature_rows(contract: DatasetContract, view: FeatureView) -> pl.DataFrame:
    """Features of `DAYS` synthetic days restricted to the `ENTITIES` most active entities."""
    days = [
        generate_day(contract, FIRST_DAY + timedelta(days=i), rows=ROWS_PER_DAY, seed=SEED)
        for i in range(DAYS)
    ]
    keys = list(view.entity_keys)
    top = pl.concat(days).group_by(keys).len().sort(["len", *keys], descending=True).head(ENTITIES)
    rows = pl.concat(
        [
            conform_file(
                day.join(top.select(keys), on=keys, how="semi"),
                LandingFile(f"day{i}.parquet", None, 1, 0),
                contract,
            ).rows
            for i, day in enumerate(days)
        ]
    )
    return build_features(rows, contract, view)


def partition_keys(frame: pl.DataFrame) -> list[str]:
    return sorted(frame.get_column(pc.PARTITION).unique().to_list())


def write_features(
    lake_uri: str, contract: DatasetContract, view: FeatureView, frame: pl.DataFrame
) -> str:
    """Write `frame`'s partitions to the view's features Delta table and the Parquet mirror
    Feast reads, as the features step does; returns the Delta table's URI."""
    uri = features_table_uri(lake_uri, contract, view)
    overwrite_partitions(uri, frame, partition_keys(frame))
    write_parquet_mirror(frame, partition_keys(frame), feast_source_uri(lake_uri, contract, view))
    return uri


def served(
    feast,
    contract: DatasetContract,
    view: FeatureView,  # noqa: ANN001 - FeastResource
    entities: pl.DataFrame,
) -> pl.DataFrame:
    """What Feast's `get_online_features` answers for `entities`, typed like the features."""
    keys = list(view.entity_keys)
    answer = feast.online_features(contract, view, entities.select(keys).to_dicts())
    schema = feature_columns(contract, view)
    names = [*keys, *view.feature_names(contract.label_name)]
    return pl.DataFrame({n: answer[n] for n in names}, schema={n: schema[n] for n in names})


def features_only(
    frame: pl.DataFrame, contract: DatasetContract, view: FeatureView
) -> pl.DataFrame:
    """The entity keys and the view's features of `frame`, in the order Feast serves them."""
    return frame.select(*view.entity_keys, *view.feature_names(contract.label_name))
