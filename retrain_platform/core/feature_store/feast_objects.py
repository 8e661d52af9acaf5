"""Feast objects generated from a contract's feature view: entities, source, view and service.

Every name comes from the contract: an entity per entity key (its join key is the column),
`<table>_source` reading the Parquet mirror of the view's Delta table, `<table>_fv` serving the
view's features and `<table>_v<version>` a feature service whose suffix is the view's version
(`core.features.version`: it changes whenever the contract's columns, the served features or
their meaning do), so a model trained on one feature set keeps resolving the same service.

A view with no entity keys is served per series: its entity is the series column (`_series`, a
string holding the dataset's name, present in the features table like any key). Feast 0.67 also
has entity-less views (a hidden `__dummy` entity), but an explicit key keeps one read and write
path for every view: the same online writers, `entity_rows=[{"_series": <dataset>}]` online and
the same entity frame for historical retrieval.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl
from feast import Entity, FeatureService, FeatureView, Field, FileSource, ValueType
from feast.data_format import ParquetFormat
from feast.types import (
    Bool,
    FeastType,
    Float32,
    Float64,
    Int32,
    Int64,
    String,
    UnixTimestamp,
)

from retrain_platform.contracts.dtypes import POLARS_DTYPES
from retrain_platform.contracts.model import DatasetContract
from retrain_platform.contracts.model import FeatureView as ContractView
from retrain_platform.core.features.transforms import feature_columns, feature_table_name
from retrain_platform.core.features.version import view_version
from retrain_platform.core.lake import table_uri

# Contract dtype -> Feast type. Feast has no 8/16-bit integers (widened to Int32) and no date type
# (a date is served as the Unix timestamp of its midnight, UTC).
FEAST_TYPES: dict[str, FeastType] = {
    "bool": Bool,
    "int8": Int32,
    "int16": Int32,
    "int32": Int32,
    "int64": Int64,
    "float32": Float32,
    "float64": Float64,
    "string": String,
    "date": UnixTimestamp,
    "datetime": UnixTimestamp,
}
# Types Feast can serialize into an entity key (`feast.infra.key_encoding_utils._serialize_val`).
ENTITY_KEY_VALUE_TYPES = (
    ValueType.STRING,
    ValueType.INT32,
    ValueType.INT64,
    ValueType.UNIX_TIMESTAMP,
)


def contract_dtype(dtype: pl.DataType) -> str:
    """The contract dtype name of a polars dtype the platform writes (derived features included)."""
    for name, candidate in POLARS_DTYPES.items():
        if dtype == candidate:
            return name
    msg = f"polars dtype {dtype} has no contract dtype (one of {list(POLARS_DTYPES)})"
    raise KeyError(msg)


def feast_type(dtype: str | pl.DataType) -> FeastType:
    """Feast type of a contract dtype name or of a polars dtype."""
    return FEAST_TYPES[dtype if isinstance(dtype, str) else contract_dtype(dtype)]


def feature_types(contract: DatasetContract, view: ContractView) -> dict[str, FeastType]:
    """Feast type of every feature the view serves, in serving order."""
    columns = feature_columns(contract, view)
    return {name: feast_type(columns[name]) for name in view.feature_names(contract.label_name)}


def entity_value_types(contract: DatasetContract, view: ContractView) -> dict[str, ValueType]:
    """Feast value type of each entity key (join key) of the view."""
    types = {}
    for key in view.entity_keys:
        dtype = contract.key_column(key).dtype
        value_type = FEAST_TYPES[dtype].to_value_type()
        if value_type not in ENTITY_KEY_VALUE_TYPES:
            msg = (
                f"{contract.source_path}: entity key {key!r} has dtype "
                f"{dtype!r}, which Feast cannot use as an entity key"
            )
            raise ValueError(msg)
        types[key] = value_type
    return types


def features_table_uri(lake_uri: str, contract: DatasetContract, view: ContractView) -> str:
    """The view's features Delta table."""
    return table_uri(lake_uri, "features", feature_table_name(contract, view))


def feast_source_uri(lake_uri: str, contract: DatasetContract, view: ContractView) -> str:
    """The Parquet mirror of the features table that Feast's offline source reads.

    Feast 0.67's file offline store accepts `DeltaFormat` but reads the folder as plain Parquet,
    so after a partition overwrite it mixes the files the Delta log removed with the current
    ones; the features step keeps one Parquet file per partition here instead.
    """
    return table_uri(lake_uri, "features", f"{feature_table_name(contract, view)}_feast")


def feature_view_name(contract: DatasetContract, view: ContractView) -> str:
    return f"{feature_table_name(contract, view)}_fv"


def feature_service_name(contract: DatasetContract, view: ContractView) -> str:
    """`<table>_v<view version>`: a new name whenever the view's definition changes."""
    return f"{feature_table_name(contract, view)}_v{view_version(contract, view)}"


@dataclass(frozen=True)
class FeastObjects:
    """The Feast objects of one contract feature view."""

    entities: tuple[Entity, ...]
    source: FileSource
    feature_view: FeatureView
    feature_service: FeatureService

    @property
    def objects(self) -> list[Entity | FileSource | FeatureView | FeatureService]:
        """Everything to pass to `FeatureStore.apply`."""
        return [*self.entities, self.source, self.feature_view, self.feature_service]

    @property
    def names(self) -> dict[str, object]:
        return {
            "entities": [e.name for e in self.entities],
            "source": self.source.name,
            "feature_view": self.feature_view.name,
            "feature_service": self.feature_service.name,
        }


def to_feast_objects(
    contract: DatasetContract, view: ContractView, source_path: str
) -> FeastObjects:
    """Feast objects of `view`, reading its features at `source_path` (the Parquet mirror)."""
    table = feature_table_name(contract, view)
    entities = tuple(
        Entity(
            name=key,
            join_keys=[key],
            value_type=value_type,
            description=contract.key_column(key).description,
        )
        for key, value_type in entity_value_types(contract, view).items()
    )
    source = FileSource(
        name=f"{table}_source",
        path=source_path,
        file_format=ParquetFormat(),
        timestamp_field=contract.timestamp_name,
        description=f"Parquet mirror of the {contract.dataset} view {view.name} features table.",
    )
    types = feature_types(contract, view)
    entity_fields = [
        Field(name=key, dtype=FEAST_TYPES[contract.key_column(key).dtype])
        for key in view.entity_keys
    ]
    feature_view = FeatureView(
        name=feature_view_name(contract, view),
        entities=list(entities),
        ttl=view.ttl,
        schema=[*entity_fields, *(Field(name=n, dtype=t) for n, t in types.items())],
        source=source,
        online=True,
        description=f"Point-in-time features of {contract.dataset} per "
        f"{', '.join(view.entity_keys)} (view {view.name}).",
        owner=contract.owner,
        tags={"dataset": contract.dataset, "contract_hash": contract.contract_hash},
    )
    service = FeatureService(
        name=feature_service_name(contract, view),
        features=[feature_view],
        description=f"The {len(types)} features of {feature_view.name}, as models consume them.",
        owner=contract.owner,
        tags={"dataset": contract.dataset, "feature_view": feature_view.name},
    )
    return FeastObjects(entities, source, feature_view, service)


def contract_feast_objects(contract: DatasetContract, lake_uri: str) -> list[FeastObjects]:
    """Feast objects of every feature view of `contract`, reading the lake at `lake_uri`."""
    return [
        to_feast_objects(contract, view, feast_source_uri(lake_uri, contract, view))
        for view in contract.feature_views
    ]
