"""Quarantine rows of the ingest stage: untypable rows, rows of files missing a contract column,
and rows whose event time falls outside the partitions, each with its reason, check, column,
value and the whole original record as JSON (the quarantine table's schema is defined here).
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from retrain_platform.core import platform_columns as pc
from retrain_platform.core.ingest.placement import Placement

QUARANTINE_SCHEMA: dict[str, pl.DataType] = {
    pc.PARTITION: pl.String(),
    pc.STAGE: pl.String(),
    pc.REASON: pl.String(),
    pc.CHECK: pl.String(),
    pc.COLUMN: pl.String(),
    pc.VALUE: pl.String(),
    pc.FAILURES: pl.String(),
    pc.RECORD: pl.String(),
    pc.SOURCE_FILE: pl.String(),
    pc.SOURCE_ROW: pl.Int64(),
    pc.INGESTED_AT: pl.Datetime("us", "UTC"),
}


def empty_quarantine() -> pl.DataFrame:
    return pl.DataFrame(schema=QUARANTINE_SCHEMA)


def rejected_rows(
    source: pl.DataFrame,
    typed: pl.DataFrame,
    missing: tuple[str, ...],
    original: Sequence[str],
    home_partition: str | None,
) -> pl.DataFrame:
    """Quarantine rows for one file's untypable rows; `source` carries the failed column name."""
    if source.is_empty():
        return empty_quarantine()
    if missing:
        reason, check = pc.REASON_MISSING_COLUMN, "column_present"
        column = pl.lit(",".join(missing), dtype=pl.String)
        value = pl.lit(None, dtype=pl.String)
    else:
        reason, check = pc.REASON_CAST, "castable_to_contract_dtype"
        column = pl.col(pc.COLUMN)
        value = pl.coalesce(
            [pl.when(pl.col(pc.COLUMN) == c).then(pl.col(c).cast(pl.String)) for c in original]
        )
    out = source.select(
        pl.struct([pl.col(c).cast(pl.String) for c in original])
        .struct.json_encode()
        .alias(pc.RECORD),
        pl.col(pc.SOURCE_ROW),
        column.alias(pc.COLUMN),
        value.alias(pc.VALUE),
    ).with_columns(
        typed.get_column(pc.PARTITION).fill_null(home_partition).alias(pc.PARTITION),
        typed.get_column(pc.SOURCE_FILE).alias(pc.SOURCE_FILE),
        typed.get_column(pc.INGESTED_AT).alias(pc.INGESTED_AT),
        pl.lit(pc.STAGE_INGEST).alias(pc.STAGE),
        pl.lit(reason).alias(pc.REASON),
        pl.lit(check).alias(pc.CHECK),
    )
    return out.with_columns(
        failures_json(pl.col(pc.CHECK), pl.col(pc.COLUMN), pl.col(pc.VALUE)).alias(pc.FAILURES)
    ).select(list(QUARANTINE_SCHEMA))


def file_outside_rows(
    source: pl.DataFrame,
    rows: pl.DataFrame,
    rejected: pl.DataFrame,
    original: Sequence[str],
    ts: str,
    placement: Placement,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Move typed rows outside the partitions (or with no event time) to the quarantine."""
    home = placement.home or ""
    keys = sorted(placement.outside)
    out = pl.col(pc.PARTITION).is_in(keys) | pl.col(pc.PARTITION).is_null()
    mask = rows.select(out.alias("m")).to_series()
    quarantined = _outside_rows(source.filter(mask), rows.filter(mask), original, ts, home)
    rehomed = rejected.with_columns(
        pl.when(out).then(pl.lit(home)).otherwise(pl.col(pc.PARTITION)).alias(pc.PARTITION)
    )
    return rows.filter(~mask), pl.concat([rehomed, quarantined])


def _outside_rows(
    source: pl.DataFrame, typed: pl.DataFrame, original: Sequence[str], ts: str, home: str
) -> pl.DataFrame:
    """Quarantine rows for typed rows whose event time falls outside the partitions."""
    if source.is_empty():
        return empty_quarantine()
    value = typed.get_column(ts).cast(pl.String)
    out = source.select(
        pl.struct([pl.col(c).cast(pl.String) for c in original])
        .struct.json_encode()
        .alias(pc.RECORD),
        pl.col(pc.SOURCE_ROW),
    ).with_columns(
        pl.lit(ts, dtype=pl.String).alias(pc.COLUMN),
        value.alias(pc.VALUE),
        pl.lit(home).alias(pc.PARTITION),
        typed.get_column(pc.SOURCE_FILE).alias(pc.SOURCE_FILE),
        typed.get_column(pc.INGESTED_AT).alias(pc.INGESTED_AT),
        pl.lit(pc.STAGE_INGEST).alias(pc.STAGE),
        pl.lit(pc.REASON_OUTSIDE).alias(pc.REASON),
        pl.lit("event_time_in_partitions").alias(pc.CHECK),
    )
    return out.with_columns(
        failures_json(pl.col(pc.CHECK), pl.col(pc.COLUMN), pl.col(pc.VALUE)).alias(pc.FAILURES)
    ).select(list(QUARANTINE_SCHEMA))


def failures_json(check: pl.Expr, column: pl.Expr, value: pl.Expr) -> pl.Expr:
    """A one-element JSON list [{check, column, value}] describing a single failure."""
    item = pl.struct(
        check.alias("check"), column.alias("column"), value.cast(pl.String).alias("value")
    ).struct.json_encode()
    return pl.concat_str([pl.lit("["), item, pl.lit("]")])
