"""Metadata that makes a materialization readable in the UI: schema, counts, preview, versions."""

import dagster as dg
import polars as pl

from retrain_platform.contracts import DatasetContract

PREVIEW_ROWS = 5


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
    """A few rows as a Markdown code block."""
    head = frame.select(columns).head(PREVIEW_ROWS) if columns else frame.head(PREVIEW_ROWS)
    with pl.Config(tbl_rows=PREVIEW_ROWS, tbl_cols=-1, fmt_str_lengths=40, tbl_width_chars=400):
        return dg.MetadataValue.md(f"```\n{head}\n```")


def table_link(uri: str) -> dg.MetadataValue:
    return dg.MetadataValue.path(uri) if "://" not in uri else dg.MetadataValue.url(uri)
