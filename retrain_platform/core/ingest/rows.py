"""Raw layer logic: landed files to typed rows of the contract, with lineage, per partition.

A landed row that cannot be represented in the contract's types is not dropped: it goes to the
quarantine with reason `cast` (or `missing_column` when its file lacks a contract column), the
column that failed and the whole original record as JSON.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import polars as pl

from retrain_platform.contracts import DatasetContract
from retrain_platform.contracts.dtypes import cast_expr, parse_datetimes, polars_dtype
from retrain_platform.core import platform_columns as pc
from retrain_platform.core.bounded import clip_text
from retrain_platform.core.ingest.landing import LandingFile, ReadOutcome
from retrain_platform.core.ingest.placement import Placement
from retrain_platform.core.ingest.quarantine_rows import (
    empty_quarantine,
    file_outside_rows,
    rejected_rows,
)
from retrain_platform.core.partitions import partition_key_expr

NO_PARTITION = ""  # index key of rows with no event time: outside every partition


class FileSchemaError(ValueError):
    """A landed file cannot be placed in partitions at all (for example, no event timestamp)."""


@dataclass(frozen=True)
class ConformedFile:
    """One file's rows in contract types, and the rows that could not be typed."""

    file: LandingFile
    rows: pl.DataFrame
    rejected: pl.DataFrame
    missing_columns: tuple[str, ...] = ()
    unexpected_columns: tuple[str, ...] = ()


def raw_schema(contract: DatasetContract) -> dict[str, pl.DataType]:
    """Schema of the raw and validated tables: contract columns then lineage columns."""
    schema = {c.name: polars_dtype(c.dtype) for c in contract.columns}
    schema.update(
        {
            pc.PARTITION: pl.String(),
            pc.SOURCE_FILE: pl.String(),
            pc.SOURCE_ROW: pl.Int64(),
            pc.INGESTED_AT: pl.Datetime("us", "UTC"),
        }
    )
    return schema


def _with_timestamp(frame: pl.DataFrame, contract: DatasetContract) -> pl.DataFrame:
    derived = contract.timestamp_from_row_index
    if derived is None or contract.timestamp_name in frame.columns:
        return frame
    step_us = int(derived.every.total_seconds() * 1_000_000)
    start = pl.lit(derived.start).cast(pl.Datetime("us")).dt.replace_time_zone("UTC")
    offset = pl.duration(microseconds=pl.col(pc.SOURCE_ROW) * step_us)
    return frame.with_columns((start + offset).alias(contract.timestamp_name))


def conform_file(
    frame: pl.DataFrame,
    file: LandingFile,
    contract: DatasetContract,
    placement: Placement | None = None,
) -> ConformedFile:
    """Type one file's rows to the contract and assign partitions; untypable rows are rejected.

    With a `placement`, rows whose partition is outside the range are rejected too (reason
    `outside_partitions`, the event time as the value) and filed under its home partition.
    """
    grain = contract.partitioning.grain
    original = frame.columns
    frame = frame.with_row_index(pc.SOURCE_ROW).with_columns(pl.col(pc.SOURCE_ROW).cast(pl.Int64))
    frame = _with_timestamp(frame, contract)
    wanted = contract.column_names
    missing = tuple(c for c in wanted if c not in frame.columns)
    unexpected = tuple(c for c in original if c not in wanted)
    ts = contract.timestamp_name
    if ts in missing:
        msg = f"{file.name}: no event timestamp column {ts!r} (columns: {', '.join(original)})"
        raise FileSchemaError(msg)

    parsed = {
        col.name: parse_datetimes(frame.get_column(col.name))
        for col in contract.columns
        if col.dtype == "datetime"
        and col.name in frame.columns
        and frame.schema[col.name] == pl.String
    }
    typed_exprs, failed_exprs = [], []
    for col in contract.columns:
        if col.name in missing:
            typed_exprs.append(pl.lit(None, dtype=polars_dtype(col.dtype)).alias(col.name))
            continue
        if col.name in parsed:
            typed = pl.lit(parsed[col.name])
            failed = pl.col(col.name).is_not_null() & typed.is_null()
        else:
            typed, failed = cast_expr(col.name, frame.schema[col.name], col.dtype)
        typed_exprs.append(typed.alias(col.name))
        failed_exprs.append(failed.fill_null(False).alias(col.name))
    failures = frame.select(failed_exprs) if failed_exprs else pl.DataFrame()
    typed = frame.select([*typed_exprs, pl.col(pc.SOURCE_ROW)]).with_columns(
        pl.lit(file.name).alias(pc.SOURCE_FILE),
        pl.lit(file.landed_at).cast(pl.Datetime("us", "UTC")).alias(pc.INGESTED_AT),
        partition_key_expr(pl.col(ts), grain).alias(pc.PARTITION),
    )
    failed_column = (
        failures.select(
            pl.coalesce([pl.when(pl.col(c)).then(pl.lit(c)) for c in failures.columns]).alias(
                pc.COLUMN
            )
        ).to_series()
        if failures.width
        else pl.Series(pc.COLUMN, [None] * frame.height, dtype=pl.String)
    )
    bad_mask = (
        pl.Series([True] * frame.height, dtype=pl.Boolean)
        if missing
        else failed_column.is_not_null()
    )

    placed = typed.get_column(pc.PARTITION).drop_nulls()
    if placed.is_empty() and frame.height:
        msg = f"{file.name}: no row has a readable event timestamp in column {ts!r}"
        raise FileSchemaError(msg)
    home_partition = placed.mode().sort().item(0) if not placed.is_empty() else None

    rejected = rejected_rows(
        frame.with_columns(failed_column).filter(bad_mask),
        typed.filter(bad_mask),
        missing,
        original,
        home_partition,
    )
    rows = typed.filter(~bad_mask)
    if placement is not None and placement.home is not None:
        rows, rejected = file_outside_rows(
            frame.filter(~bad_mask), rows, rejected, original, ts, placement
        )
    return ConformedFile(
        file, rows.select(list(raw_schema(contract))), rejected, missing, unexpected
    )


@dataclass
class IngestResult:
    """Typed raw rows and ingest-stage quarantine for a set of partitions, plus what went wrong."""

    raw: pl.DataFrame
    quarantine: pl.DataFrame
    file_errors: dict[str, str] = field(default_factory=dict)
    schema_issues: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    files_read: list[str] = field(default_factory=list)


def ingest_partitions(
    outcomes: Iterable[ReadOutcome],
    contract: DatasetContract,
    partitions: Iterable[str],
    placed: Mapping[str, Placement] | None = None,
) -> IngestResult:
    """Union the rows of the given partitions from every readable file, with lineage columns.

    `placed` (by file name) sends rows outside the partitions to the quarantine; any failure
    of one file becomes that file's error and never stops the others.
    """
    wanted = sorted(set(partitions))
    raws, quarantines = [], []
    result = IngestResult(raw=pl.DataFrame(), quarantine=empty_quarantine())
    for outcome in outcomes:
        if outcome.frame is None:
            result.file_errors[outcome.file.name] = outcome.error or "unreadable"
            continue
        placement = (placed or {}).get(outcome.file.name)
        try:
            conformed = conform_file(outcome.frame, outcome.file, contract, placement)
        except FileSchemaError as exc:
            result.file_errors[outcome.file.name] = clip_text(str(exc))
            continue
        except Exception as exc:  # noqa: BLE001 - one poison file never stops the others
            message = f"{outcome.file.name}: {type(exc).__name__}: {exc}"
            result.file_errors[outcome.file.name] = clip_text(message)
            continue
        result.files_read.append(outcome.file.name)
        if conformed.missing_columns or conformed.unexpected_columns:
            result.schema_issues[outcome.file.name] = {
                "missing": list(conformed.missing_columns),
                "unexpected": list(conformed.unexpected_columns),
            }
        raws.append(conformed.rows.filter(pl.col(pc.PARTITION).is_in(wanted)))
        quarantines.append(conformed.rejected.filter(pl.col(pc.PARTITION).is_in(wanted)))
    schema = raw_schema(contract)
    result.raw = (pl.concat(raws) if raws else pl.DataFrame(schema=schema)).sort(
        [pc.PARTITION, pc.INGESTED_AT, pc.SOURCE_FILE, pc.SOURCE_ROW]
    )
    if quarantines:
        result.quarantine = pl.concat(quarantines)
    return result


def file_partitions(
    frame: pl.DataFrame, file: LandingFile, contract: DatasetContract
) -> dict[str, int]:
    """Partitions a file's rows fall in, with row counts (what the landing sensor requests)."""
    conformed = conform_file(frame, file, contract)
    counts: dict[str, int] = {}
    for part in (conformed.rows, conformed.rejected):
        for key, n in part.group_by(pc.PARTITION).len().iter_rows():
            name = NO_PARTITION if key is None else key
            counts[name] = counts.get(name, 0) + n
    return dict(sorted(counts.items()))


def describe_schema_issues(issues: dict[str, dict[str, list[str]]]) -> str:
    return json.dumps(issues, sort_keys=True)
