"""Request models generated from the contract at startup.

Every field's type, range and categories come from the contract (contract columns) or from the
feature view's schema (derived columns), so a payload the model could not score is refused with
a 422 that names the field (FastAPI reports pydantic's location, e.g.
`body.rows.0.amount`), never a 500. Unknown fields are refused too: a misspelt feature must not
silently become a missing value.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import polars as pl
from pydantic import BaseModel, ConfigDict, Field, create_model, model_validator

from retrain_platform.contracts import DatasetContract
from retrain_platform.contracts.model import Column, FeatureView
from retrain_platform.core.features.transforms import feature_columns

MAX_BATCH = 1000
_INT_BOUNDS = {
    "int8": (-(2**7), 2**7 - 1),
    "int16": (-(2**15), 2**15 - 1),
    "int32": (-(2**31), 2**31 - 1),
    "int64": (-(2**63), 2**63 - 1),
}
_FORBID = ConfigDict(extra="forbid")


def _column_field(column: Column, *, required: bool) -> tuple[Any, Any]:
    """(annotation, FieldInfo) of a contract column: dtype, range, categories, nullability."""
    constraints: dict[str, Any] = {}
    annotation: Any
    if column.categories is not None:
        annotation = Literal[tuple(column.categories)]  # type: ignore[valid-type]
    elif column.dtype in _INT_BOUNDS:
        low, high = _INT_BOUNDS[column.dtype]
        annotation = int
        constraints = {
            "strict": True,
            "ge": max(low, column.min) if column.min is not None else low,
            "le": min(high, column.max) if column.max is not None else high,
        }
    elif column.dtype in ("float32", "float64"):
        annotation = float
        constraints = {"strict": True, "allow_inf_nan": False}
        if column.min is not None:
            constraints["ge"] = column.min
        if column.max is not None:
            constraints["le"] = column.max
    elif column.dtype == "bool":
        annotation = bool
        constraints = {"strict": True}
    elif column.dtype in ("date", "datetime"):
        annotation = datetime
    else:
        annotation = str
        constraints = {"strict": True}
    if column.nullable:
        annotation = annotation | None
    # `...` given to `Field` itself makes the field required (a nullable one may be null but
    # must be present); setting `FieldInfo.default` afterwards would not.
    default = ... if required else None
    return annotation, Field(default, description=column.description or None, **constraints)


def _derived_field(dtype: pl.DataType, *, required: bool) -> tuple[Any, Any]:
    """A column the view derives: typed by its polars dtype, nullable (windows may be empty);
    a model input must be present (possibly null)."""
    default = ... if required else None
    if dtype == pl.Boolean():
        return bool | None, Field(default, strict=True)
    if dtype.is_integer():
        return int | None, Field(default, strict=True)
    if dtype.is_numeric():
        return float | None, Field(default, strict=True, allow_inf_nan=False)
    if dtype.is_temporal():
        return datetime | None, Field(default)
    return str | None, Field(default, strict=True)


@dataclass(frozen=True)
class RequestSchemas:
    """The generated models of one contract and view, and the names they validate."""

    entity: type[BaseModel]
    row: type[BaseModel]
    request: type[BaseModel]
    entity_keys: tuple[str, ...]
    row_features: tuple[str, ...]


def build_schemas(
    contract: DatasetContract,
    view: FeatureView,
    model_features: list[str],
    *,
    max_batch: int = MAX_BATCH,
) -> RequestSchemas:
    """Pydantic models of `POST /predict` for `contract`'s `view`.

    A request holds `entities` (entity keys only: features come from the online store) or
    `rows` (entity keys plus the view's features, as full rows), 1 to `max_batch` of them. For a
    keyless view (one series) an entity is `{}`: the series' newest features.
    Every model input is required in a row (a nullable one may be null, but must be given);
    other view features are optional but validated when present.
    """
    title = "".join(part.title() for part in contract.dataset.split("_"))
    keys = tuple(view.entity_keys)
    # a keyless view's key is the series column: nothing to send, the service fills it in
    asked = () if view.keyless else keys
    entity_fields = {k: _column_field(contract.key_column(k), required=True) for k in asked}
    entity = create_model(f"{title}Entity", __config__=_FORBID, **entity_fields)  # type: ignore[call-overload]

    schema = feature_columns(contract, view)
    contract_names = {c.name for c in contract.columns}
    row_fields: dict[str, Any] = dict(entity_fields)
    names = view.feature_names(contract.label_name)
    wanted = set(model_features)
    for name in names:
        if name in contract_names:
            row_fields[name] = _column_field(contract.column(name), required=name in wanted)
        else:
            row_fields[name] = _derived_field(schema[name], required=name in wanted)
    row_fields[contract.timestamp_name] = (datetime | None, Field(None))
    row = create_model(f"{title}Row", __config__=_FORBID, **row_fields)  # type: ignore[call-overload]

    def _exactly_one(self: Any) -> Any:
        given = [name for name in ("entities", "rows") if getattr(self, name) is not None]
        if len(given) != 1:
            msg = "give exactly one of 'entities' (keys, features from the online store) or 'rows'"
            raise ValueError(msg)
        return self

    request = create_model(  # type: ignore[call-overload]
        f"{title}PredictRequest",
        __config__=_FORBID,
        __validators__={"exactly_one": model_validator(mode="after")(_exactly_one)},
        entities=(
            list[entity] | None,  # type: ignore[valid-type]
            Field(None, min_length=1, max_length=max_batch),
        ),
        rows=(list[row] | None, Field(None, min_length=1, max_length=max_batch)),  # type: ignore[valid-type]
    )
    return RequestSchemas(entity, row, request, keys, tuple(names))
