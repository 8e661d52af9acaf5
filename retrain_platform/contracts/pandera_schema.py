"""The Pandera (polars backend) schema of a validated table, derived from its contract."""

from __future__ import annotations

import pandera.polars as pa

from retrain_platform.contracts.dtypes import polars_dtype
from retrain_platform.contracts.model import Column, DatasetContract


def column_checks(col: Column) -> list[pa.Check]:
    """Row-level checks of one column, in the order failures are reported."""
    checks = []
    if col.min is not None:
        checks.append(pa.Check.ge(col.min))
    if col.max is not None:
        checks.append(pa.Check.le(col.max))
    if col.categories is not None:
        checks.append(pa.Check.isin(list(col.categories)))
    return checks


def to_pandera_schema(
    contract: DatasetContract, *, extra_columns: bool = True
) -> pa.DataFrameSchema:
    """Schema of the contract columns: dtype, nullability, ranges and categories.

    Primary-key uniqueness is not part of the schema: duplicates are resolved (the latest landed
    row wins) rather than rejected. `extra_columns` admits the platform's lineage columns.
    """
    columns = {
        col.name: pa.Column(
            polars_dtype(col.dtype),
            checks=column_checks(col),
            nullable=col.nullable,
            description=col.description or None,
        )
        for col in contract.columns
    }
    return pa.DataFrameSchema(
        columns, strict=not extra_columns, name=contract.dataset, ordered=False
    )
