"""The validated step end to end for one partition: raw rows to valid, quarantined and duplicates.

Reads the raw partition, validates it (Pandera), writes valid rows to the validated table and
failures plus duplicates to the quarantine table (stage `validate`), and evaluates the table-level
checks. Invariant: raw rows = valid + quarantined + duplicates removed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

import polars as pl

from retrain_platform.contracts import DatasetContract
from retrain_platform.core import platform_columns as pc
from retrain_platform.core.ingest.rows import raw_schema
from retrain_platform.core.lake import overwrite_partitions, read_partitions, table_exists
from retrain_platform.core.validate.rows import ValidationResult, summarize_failures, validate_rows
from retrain_platform.core.validate.table_checks import CheckOutcome, evaluate_partition


@dataclass
class ValidatedStepReport:
    """What one validated step did and how its checks came out."""

    partition: str
    rows_raw: int
    validation: ValidationResult
    ingest_rejected: pl.DataFrame
    validated_version: int
    quarantine_version: int
    checks: list[CheckOutcome]

    @property
    def failures(self) -> list[dict[str, object]]:
        return summarize_failures(
            pl.concat(
                [self.ingest_rejected, self.validation.quarantine, self.validation.duplicates]
            )
        )


def _read_or_empty(
    uri: str,
    partition: str,
    schema: Mapping[str, pl.DataType],
    storage_options: Mapping[str, str] | None,
) -> pl.DataFrame:
    if not table_exists(uri, storage_options):
        return pl.DataFrame(schema=dict(schema))
    return read_partitions(uri, [partition], storage_options=storage_options)


def run_validated_step(
    contract: DatasetContract,
    partition: str,
    *,
    raw_uri: str,
    validated_uri: str,
    quarantine_uri: str,
    storage_options: Mapping[str, str] | None = None,
    commit_metadata: Mapping[str, str] | None = None,
) -> ValidatedStepReport:
    """Validate one raw partition and write its valid rows and its quarantine."""
    schema = raw_schema(contract)
    raw = _read_or_empty(raw_uri, partition, schema, storage_options).select(list(schema))
    result = validate_rows(raw, contract)
    rejected = pl.concat([result.quarantine, result.duplicates])
    metadata = dict(commit_metadata or {})
    validated_version = overwrite_partitions(
        validated_uri,
        result.valid,
        [partition],
        storage_options=storage_options,
        commit_metadata=metadata,
    )
    quarantine_version = overwrite_partitions(
        quarantine_uri,
        rejected,
        [partition],
        storage_options=storage_options,
        extra_predicate={pc.STAGE: pc.STAGE_VALIDATE},
        commit_metadata=metadata,
    )
    quarantine = read_partitions(quarantine_uri, [partition], storage_options=storage_options)
    ingest_rejected = quarantine.filter(pl.col(pc.STAGE) == pc.STAGE_INGEST)
    schema_problems = list(result.schema_failures)
    missing = (
        ingest_rejected.filter(pl.col(pc.REASON) == pc.REASON_MISSING_COLUMN)
        .group_by(pc.SOURCE_FILE, pc.COLUMN)
        .len()
        .sort(pc.SOURCE_FILE)
    )
    schema_problems += [
        f"{file}: missing column(s) {cols} ({n} rows quarantined)"
        for file, cols, n in missing.iter_rows()
    ]
    checks = evaluate_partition(
        result.valid,
        contract,
        schema_problems=schema_problems,
        refused_rows=ingest_rejected.height + result.quarantine.height,
    )
    return ValidatedStepReport(
        partition,
        raw.height,
        result,
        ingest_rejected,
        validated_version,
        quarantine_version,
        checks,
    )


def newest_event(
    contract: DatasetContract, validated_uri: str, storage_options: Mapping[str, str] | None = None
) -> datetime | None:
    """Timestamp of the newest validated event (None when the table is empty or missing)."""
    if not table_exists(validated_uri, storage_options):
        return None
    scan = pl.scan_delta(validated_uri, storage_options=dict(storage_options or {}))
    return scan.select(pl.col(contract.timestamp_name).max()).collect().item()
