"""Metadata that makes a materialization readable in the UI: schema, counts, preview, versions.

Every value here may come from landed data, which can be megabytes long; the event log copies
metadata whole, so `preview` clips cells and `recorded` clips every value and records it once
(on the materialization, not on the step output as well).
"""

import re
from collections.abc import Mapping
from typing import Any

import dagster as dg
import polars as pl

from retrain_platform.contracts import DatasetContract
from retrain_platform.core.bounded import MAX_VALUE_CHARS, clip_text, clip_values

PREVIEW_ROWS = 5
PREVIEW_CHARS = 40  # characters of a text cell shown in a preview
_CLIPPED = re.compile(r"…\[\d+ chars\]\Z")  # the marker `clip_text` ends a clipped value with
_MARKER_CHARS = 32


def column_schema(contract: DatasetContract) -> dg.TableSchema:
    """The contract's columns as a Dagster table schema (the asset's Columns tab)."""
    columns = []
    for col in contract.columns:
        other = []
        if col.min is not None:
            other.append(f">= {col.min:g}")
        if col.max is not None:
            other.append(f"<= {col.max:g}")
        if col.categories is not None:
            other.append("in " + ", ".join(map(str, col.categories)))
        role = (
            "entity"
            if col in contract.entity_keys
            else "timestamp"
            if col == contract.event_timestamp
            else "label"
            if col == contract.label.column
            else "identifier"
            if col in contract.identifiers
            else "feature"
        )
        columns.append(
            dg.TableColumn(
                col.name,
                col.dtype,
                description=col.description or None,
                constraints=dg.TableColumnConstraints(
                    nullable=col.nullable, unique=(col.name,) == contract.primary_key, other=other
                ),
                tags={"role": role},
            )
        )
    return dg.TableSchema(columns=columns)


def preview(frame: pl.DataFrame, columns: list[str] | None = None) -> dg.MetadataValue:
    """A few rows as a Markdown code block, text cells cut to `PREVIEW_CHARS`."""
    head = frame.select(columns).head(PREVIEW_ROWS) if columns else frame.head(PREVIEW_ROWS)
    head = head.with_columns(pl.col(pl.String).str.slice(0, PREVIEW_CHARS))
    with pl.Config(tbl_rows=PREVIEW_ROWS, tbl_cols=-1, fmt_str_lengths=40, tbl_width_chars=400):
        return dg.MetadataValue.md(f"```\n{head}\n```")


def table_link(uri: str) -> dg.MetadataValue:
    return dg.MetadataValue.path(uri) if "://" not in uri else dg.MetadataValue.url(uri)


def _clip(value: Any) -> Any:
    """`clip_values`, but a string clipped earlier stays as it is (its marker has the length)."""
    if isinstance(value, str):
        clipped = len(value) <= MAX_VALUE_CHARS + _MARKER_CHARS and _CLIPPED.search(value)
        return value if clipped else clip_text(value)
    if isinstance(value, Mapping):
        return {_clip(k): _clip(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clip(v) for v in value]
    return clip_values(value)


def bounded(value: object) -> Any:
    """A metadata value with every data-derived string in it clipped (`clip_text`)."""
    if isinstance(value, dg.JsonMetadataValue):
        return dg.MetadataValue.json(_clip(value.data))
    if isinstance(value, dg.TextMetadataValue):
        return dg.MetadataValue.text(_clip(value.text))
    if isinstance(value, dg.MetadataValue):
        return value  # markdown previews, schemas, links: bounded where they are built
    if isinstance(value, Mapping | list | tuple):
        return dg.MetadataValue.json(_clip(value))
    return _clip(value)


def bounded_metadata(metadata: Mapping[str, object]) -> dict[str, Any]:
    """`bounded` applied to every value (and key) of a metadata mapping."""
    return {_clip(key): bounded(value) for key, value in metadata.items()}


def recorded(
    context: dg.AssetExecutionContext, key: dg.AssetKey, metadata: Mapping[str, object]
) -> dg.MaterializeResult:
    """The materialization of `key` with `metadata` (bounded) recorded on it once.

    Metadata given to `MaterializeResult` is also copied into the step's STEP_OUTPUT event;
    `add_asset_metadata` puts it on the ASSET_MATERIALIZATION event only.
    """
    context.add_asset_metadata(bounded_metadata(metadata), asset_key=key)
    return dg.MaterializeResult(asset_key=key)
