"""Validated layer logic: split a raw partition into valid rows, quarantined rows and duplicates.

Pandera is the schema and the source of failure cases. To keep validation near the speed of a
hand-written pass, every row-level rule of the contract is first evaluated as one fused polars
expression; only the rows that fail it are handed to Pandera, which names the check, column and
value of every failure. A test keeps the fused rules and the Pandera schema in agreement.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandera.errors
import pandera.polars as pa
import polars as pl
from pandera.config import ValidationDepth, config_context

from retrain_platform.contracts import DatasetContract
from retrain_platform.contracts.pandera_schema import to_pandera_schema
from retrain_platform.core import platform_columns as pc
from retrain_platform.core.bounded import clip_values
from retrain_platform.core.ingest.quarantine_rows import (
    QUARANTINE_SCHEMA,
    empty_quarantine,
    failures_json,
)


@dataclass(frozen=True)
class ValidationResult:
    """Outcome of validating one or more raw partitions."""

    valid: pl.DataFrame
    quarantine: pl.DataFrame
    duplicates: pl.DataFrame
    schema_failures: tuple[str, ...]

    @property
    def rows_in(self) -> int:
        return self.valid.height + self.quarantine.height + self.duplicates.height


def row_rules(contract: DatasetContract) -> pl.Expr:
    """One boolean expression: true where a row satisfies every row-level rule of the contract."""
    rules: list[pl.Expr] = []
    for col in contract.columns:
        value = pl.col(col.name)
        ok = pl.lit(True)
        if col.min is not None:
            ok = ok & (value >= col.min)
        if col.max is not None:
            ok = ok & (value <= col.max)
        if col.categories is not None:
            ok = ok & value.is_in(list(col.categories))
        ok = ok.fill_null(col.nullable) if col.nullable else ok & value.is_not_null()
        if col.is_numeric and col.dtype.startswith("float"):
            ok = ok & ~value.is_nan().fill_null(False)
        rules.append(ok)
    return pl.all_horizontal(rules)


def schema_failures(frame: pl.DataFrame, schema: pa.DataFrameSchema) -> tuple[str, ...]:
    """Schema-level problems (missing columns, wrong dtypes), checked on the empty frame.

    Pandera runs at schema-only depth here: its data checks cannot fail on zero rows, and skipping
    them saves a fixed ~25 ms (one polars collect per check) on every partition.
    """
    try:
        with config_context(validation_depth=ValidationDepth.SCHEMA_ONLY):
            schema.validate(frame.head(0), lazy=True)
    except pandera.errors.SchemaErrors as exc:
        cases = exc.failure_cases
        return tuple(
            f"{row['column'] or '<table>'}: {row['check']} (found {row['failure_case']})"
            for row in cases.iter_rows(named=True)
        )
    return ()


def _failure_cases(bad: pl.DataFrame, schema: pa.DataFrameSchema) -> pl.DataFrame:
    """Pandera's failure cases for rows known to break a rule: index, check, column, value."""
    try:
        schema.validate(bad, lazy=True)
    except pandera.errors.SchemaErrors as exc:
        cases = exc.failure_cases.filter(pl.col("index").is_not_null())
        return cases.select(
            pl.col("index").cast(pl.Int64),
            pl.col("check").cast(pl.String),
            pl.col("column").cast(pl.String),
            pl.col("failure_case").cast(pl.String).alias("value"),
        )
    return pl.DataFrame(
        schema={"index": pl.Int64, "check": pl.String, "column": pl.String, "value": pl.String}
    )


def _quarantine_from_cases(
    bad: pl.DataFrame, cases: pl.DataFrame, contract: DatasetContract
) -> pl.DataFrame:
    indexed = bad.with_row_index("index").with_columns(pl.col("index").cast(pl.Int64))
    per_row = (
        cases.group_by("index", maintain_order=True)
        .agg(
            pl.col("check").first(),
            pl.col("column").first(),
            pl.col("value").first(),
            pl.struct("check", "column", "value").struct.json_encode().alias("items"),
        )
        .with_columns(
            pl.concat_str([pl.lit("["), pl.col("items").list.join(","), pl.lit("]")]).alias(
                pc.FAILURES
            )
        )
    )
    joined = indexed.join(per_row, on="index", how="left")
    unexplained = joined.filter(pl.col("check").is_null())
    if unexplained.height:
        # Pandera is the source of truth; a row the fused rules reject but Pandera accepts would
        # mean the two disagree, which must never be silent.
        msg = (
            f"{contract.source_path}: fused row rules and the Pandera schema disagree on "
            f"{unexplained.height} row(s) of {contract.dataset}"
        )
        raise AssertionError(msg)
    record = pl.struct(
        [pl.col(c).cast(pl.String) for c in contract.column_names]
    ).struct.json_encode()
    return joined.select(
        pl.col(pc.PARTITION),
        pl.lit(pc.STAGE_VALIDATE).alias(pc.STAGE),
        pl.lit(pc.REASON_CHECK).alias(pc.REASON),
        pl.col("check").alias(pc.CHECK),
        pl.col("column").alias(pc.COLUMN),
        pl.col("value").alias(pc.VALUE),
        pl.col(pc.FAILURES),
        record.alias(pc.RECORD),
        pl.col(pc.SOURCE_FILE),
        pl.col(pc.SOURCE_ROW),
        pl.col(pc.INGESTED_AT),
    ).cast(QUARANTINE_SCHEMA)  # type: ignore[arg-type]


def _key_expr(key: list[str]) -> pl.Expr:
    return pl.col(key[0]) if len(key) == 1 else pl.struct(key)


def _maybe_shared_keys(valid: pl.DataFrame, key: list[str]) -> pl.Series:
    """Rows whose primary key may occur more than once: every duplicate, plus any hash collision.

    Sorting 64-bit hashes of the key and comparing neighbours costs a few tens of milliseconds
    for a million rows, where grouping the keys themselves (`over`, `is_duplicated`) costs
    hundreds; the exact comparison then runs on these few rows only.
    """
    hashes = valid.select(_key_expr(key).hash()).to_series()
    ordered = hashes.sort()
    shared = ordered.filter(ordered == ordered.shift(1))
    return hashes.is_in(shared.implode())


def _deduplicate(
    valid: pl.DataFrame, contract: DatasetContract
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Keep the latest landed row per primary key; the others are returned as duplicates."""
    key = list(contract.primary_key)
    if not key or valid.is_empty():
        return valid, empty_quarantine()
    candidates = _maybe_shared_keys(valid, key)
    if not candidates.any():
        return valid, empty_quarantine()
    order = [pc.INGESTED_AT, pc.SOURCE_FILE, pc.SOURCE_ROW]
    ranked = valid.with_row_index("__row").filter(candidates).sort(order)
    latest = ranked.select(_key_expr(key).is_last_distinct()).to_series()
    losers = ranked.filter(~latest)
    if losers.is_empty():
        return valid, empty_quarantine()
    # Dropping the losers in place keeps the frame in its landed order, which the final sort
    # handles far faster than a concatenation of out-of-order pieces.
    keep = pl.repeat(True, valid.height, eager=True).scatter(losers.get_column("__row"), False)
    winners = valid.filter(keep)
    losers = losers.drop("__row")
    key_value = pl.concat_str([pl.col(k).cast(pl.String) for k in key], separator="|")
    record = pl.struct(
        [pl.col(c).cast(pl.String) for c in contract.column_names]
    ).struct.json_encode()
    column = ",".join(key)
    duplicates = losers.select(
        pl.col(pc.PARTITION),
        pl.lit(pc.STAGE_VALIDATE).alias(pc.STAGE),
        pl.lit(pc.REASON_DUPLICATE).alias(pc.REASON),
        pl.lit("unique_primary_key").alias(pc.CHECK),
        pl.lit(column).alias(pc.COLUMN),
        key_value.alias(pc.VALUE),
        failures_json(pl.lit("unique_primary_key"), pl.lit(column), key_value).alias(pc.FAILURES),
        record.alias(pc.RECORD),
        pl.col(pc.SOURCE_FILE),
        pl.col(pc.SOURCE_ROW),
        pl.col(pc.INGESTED_AT),
    )
    return winners.sort([pc.PARTITION, *order]), duplicates


def validate_rows(
    raw: pl.DataFrame, contract: DatasetContract, schema: pa.DataFrameSchema | None = None
) -> ValidationResult:
    """Validate raw rows against the contract, then resolve primary-key duplicates."""
    schema = schema or to_pandera_schema(contract)
    problems = schema_failures(raw, schema)
    if problems:
        return ValidationResult(raw.head(0), empty_quarantine(), empty_quarantine(), problems)
    ok = raw.select(row_rules(contract).alias("ok")).to_series()
    valid, bad = raw.filter(ok), raw.filter(~ok)
    quarantine = (
        _quarantine_from_cases(bad, _failure_cases(bad, schema), contract)
        if bad.height
        else empty_quarantine()
    )
    valid, duplicates = _deduplicate(valid, contract)
    return ValidationResult(valid, quarantine, duplicates, ())


def summarize_failures(quarantine: pl.DataFrame, limit: int = 50) -> list[dict[str, object]]:
    """Every distinct (reason, check, column) with its row count and up to 3 example values.

    The examples are landed values of any size: each is clipped (`clip_values`), since the summary
    goes into event metadata and alerts, which copy it whole.
    """
    if quarantine.is_empty():
        return []
    grouped = (
        quarantine.group_by(pc.REASON, pc.CHECK, pc.COLUMN)
        .agg(
            pl.len().alias("rows"),
            pl.col(pc.VALUE).drop_nulls().unique().head(3).alias("examples"),
        )
        .sort("rows", descending=True)
        .head(limit)
    )
    return [clip_values(row) for row in grouped.to_dicts()]
