"""The per-partition ingest and validation summary printed by the main job."""

from __future__ import annotations

import polars as pl

from retrain_platform.core import platform_columns as pc
from retrain_platform.core.lake import read_partitions, table_exists

REASONS = (pc.REASON_CAST, pc.REASON_MISSING_COLUMN, pc.REASON_CHECK)


def _counts(uri: str, storage_options: dict[str, str] | None, name: str) -> pl.DataFrame:
    if not table_exists(uri, storage_options):
        return pl.DataFrame(schema={pc.PARTITION: pl.String, name: pl.UInt32})
    return (
        pl.scan_delta(uri, storage_options=storage_options or {})
        .group_by(pc.PARTITION)
        .agg(pl.len().alias(name))
        .collect()
    )


def partition_summary(
    *,
    raw_uri: str,
    validated_uri: str,
    quarantine_uri: str,
    storage_options: dict[str, str] | None = None,
) -> pl.DataFrame:
    """One row per partition: landed, raw, valid, quarantined by reason, duplicates removed."""
    raw = _counts(raw_uri, storage_options, "raw")
    valid = _counts(validated_uri, storage_options, "valid")
    if table_exists(quarantine_uri, storage_options):
        quarantine = read_partitions(quarantine_uri, storage_options=storage_options)
        by_reason = quarantine.group_by(pc.PARTITION).agg(
            *[(pl.col(pc.REASON) == r).sum().alias(f"q_{r}") for r in REASONS],
            (pl.col(pc.REASON) == pc.REASON_DUPLICATE).sum().alias("duplicates"),
        )
    else:
        by_reason = pl.DataFrame(schema={pc.PARTITION: pl.String})
    table = raw.join(valid, on=pc.PARTITION, how="full", coalesce=True)
    table = table.join(by_reason, on=pc.PARTITION, how="full", coalesce=True)
    for column in ["raw", "valid", *(f"q_{r}" for r in REASONS), "duplicates"]:
        if column not in table.columns:
            table = table.with_columns(pl.lit(0).alias(column))
    table = table.with_columns(pl.exclude(pc.PARTITION).fill_null(0).cast(pl.Int64))
    return table.select(
        pl.col(pc.PARTITION).alias("partition"),
        (
            pl.col("raw") + pl.col(f"q_{pc.REASON_CAST}") + pl.col(f"q_{pc.REASON_MISSING_COLUMN}")
        ).alias("landed"),
        "raw",
        "valid",
        pl.col(f"q_{pc.REASON_CAST}").alias("q_cast"),
        pl.col(f"q_{pc.REASON_MISSING_COLUMN}").alias("q_missing_col"),
        pl.col(f"q_{pc.REASON_CHECK}").alias("q_check"),
        "duplicates",
    ).sort("partition")
