"""The raw step end to end: landing files to the raw Delta table for a set of partitions.

Unreadable files are moved aside with their error and do not stop the others; untypable rows and
rows outside the partitions go to the quarantine table (stage `ingest`); each partition is replaced
in one atomic commit, and then what each file gave each partition is recorded in the landing
ledger.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from retrain_platform.contracts import DatasetContract
from retrain_platform.core import platform_columns as pc
from retrain_platform.core.ingest import ledger
from retrain_platform.core.ingest.landing import (
    LandingFile,
    ReadOutcome,
    RefusedName,
    move_aside,
    read_files_isolated,
    scan_landing,
)
from retrain_platform.core.ingest.landing_changes import (
    files_by_partition,
    files_digest,
    pending_limit,
    placements,
)
from retrain_platform.core.ingest.landing_index import index_files
from retrain_platform.core.ingest.landing_tick import LandingSettings
from retrain_platform.core.ingest.rows import IngestResult, ingest_partitions
from retrain_platform.core.lake import overwrite_partitions


@dataclass
class RawStepReport:
    """What one raw step did, per partition and per file."""

    partitions: list[str]
    raw_version: int
    quarantine_version: int
    rows_raw: dict[str, int]
    rows_rejected: dict[str, int]
    files_used: list[str]
    files_moved_aside: dict[str, str] = field(default_factory=dict)
    refused_names: list[RefusedName] = field(default_factory=list)
    schema_issues: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    result: IngestResult | None = None

    def landed(self, partition: str) -> int:
        return self.rows_raw.get(partition, 0) + self.rows_rejected.get(partition, 0)


def _counts(frame: pl.DataFrame) -> dict[str, int]:
    return dict(frame.group_by(pc.PARTITION).len().iter_rows())


def _reject(file: LandingFile, rejected_dir: Path, error: str, moved: dict[str, str]) -> None:
    try:
        move_aside(file, rejected_dir, error)
        moved[file.name] = error
    except FileNotFoundError:
        pass  # another run (or the sensor) moved it aside first


def run_raw_step(
    contract: DatasetContract,
    partitions: Sequence[str],
    *,
    landing_dir: Path,
    rejected_dir: Path,
    index_dir: Path,
    raw_uri: str,
    quarantine_uri: str,
    storage_options: Mapping[str, str] | None = None,
    commit_metadata: Mapping[str, str] | None = None,
    reader_command: Sequence[str] | None = None,
    valid: Collection[str] | None = None,
    settings: LandingSettings | None = None,
    ledger_uri: str | None = None,
    now: datetime | None = None,
) -> RawStepReport:
    """Ingest every landed row of `partitions` into the raw table (idempotent per partition).

    `valid` is the set of open partition keys (rows outside it are quarantined in their file's
    home partition); None takes every key the files have as open. With `ledger_uri`, each file's
    rows per partition and each partition's files digest are appended to the landing ledger.
    """
    settings = settings or LandingSettings(grace_seconds=0.0)
    scan = scan_landing(landing_dir, grace_seconds=settings.grace_seconds)
    files, refused = scan.ready, scan.refused
    entries, frames = index_files(files, contract, index_dir, reader_command=reader_command)
    moved: dict[str, str] = {}
    wanted = set(partitions)
    readable = []
    for file in files:
        entry = entries[file.name]
        if entry.error:
            _reject(file, rejected_dir, entry.error, moved)
        elif not entry.empty:
            readable.append(file)
    keys = valid if valid is not None else {k for f in readable for k in entries[f.name].partitions}
    pending_until = pending_limit(keys, contract.partitioning.grain, settings.future_horizon)
    placed = placements(readable, entries, keys, pending_until)
    grouped = {p: fs for p, fs in files_by_partition(readable, placed).items() if p in wanted}
    usable = sorted(
        {f.name: f for fs in grouped.values() for f in fs}.values(), key=lambda f: f.name
    )
    cached = [ReadOutcome(f, frames[f.name], None) for f in usable if f.name in frames]
    fresh = read_files_isolated([f for f in usable if f.name not in frames], command=reader_command)
    for outcome in fresh:
        if outcome.frame is None:
            _reject(outcome.file, rejected_dir, outcome.error or "unreadable", moved)
    result = ingest_partitions([*cached, *fresh], contract, partitions, placed)
    for name, error in result.file_errors.items():
        if name not in moved:
            moved[name] = error
    metadata = dict(commit_metadata or {})
    raw_version = overwrite_partitions(
        raw_uri, result.raw, partitions, storage_options=storage_options, commit_metadata=metadata
    )
    quarantine_version = overwrite_partitions(
        quarantine_uri,
        result.quarantine,
        partitions,
        storage_options=storage_options,
        extra_predicate={pc.STAGE: pc.STAGE_INGEST},
        commit_metadata=metadata,
    )
    if ledger_uri is not None:
        records = ingest_records(
            result,
            {p: [f for f in fs if f.name not in moved] for p, fs in grouped.items()},
            now=now or datetime.now(UTC),
            run_id=metadata.get("dagster_run_id"),
        )
        by_name = {f.name: f for f in files}
        records += [
            ledger.LedgerRecord.of(
                by_name[name], ledger.UNREADABLE, now or datetime.now(UTC), message=error
            )
            for name, error in moved.items()
            if name in by_name
        ]
        ledger.append(ledger_uri, records, storage_options)
    return RawStepReport(
        partitions=sorted(wanted),
        raw_version=raw_version,
        quarantine_version=quarantine_version,
        rows_raw=_counts(result.raw),
        rows_rejected=_counts(result.quarantine),
        files_used=sorted(result.files_read),
        files_moved_aside=moved,
        refused_names=refused,
        schema_issues=result.schema_issues,
        result=result,
    )


def ingest_records(
    result: IngestResult,
    grouped: Mapping[str, Sequence[LandingFile]],
    *,
    now: datetime,
    run_id: str | None,
) -> list[ledger.LedgerRecord]:
    """Ledger records of one run: per file and partition, rows to raw and quarantined by reason."""
    raw = dict(
        ((f, p), n)
        for f, p, n in result.raw.group_by(pc.SOURCE_FILE, pc.PARTITION).len().iter_rows()
    )
    reasons: dict[tuple[str, str], dict[str, int]] = {}
    for f, p, reason, n in (
        result.quarantine.group_by(pc.SOURCE_FILE, pc.PARTITION, pc.REASON).len().iter_rows()
    ):
        reasons.setdefault((f, p), {})[reason] = n
    records = []
    for partition, files in sorted(grouped.items()):
        digest = files_digest(files)
        for file in files:
            counts = reasons.get((file.name, partition), {})
            records.append(
                ledger.LedgerRecord.of(
                    file,
                    ledger.ACCEPTED,
                    now,
                    partition=partition,
                    files_digest=digest,
                    rows_raw=raw.get((file.name, partition), 0),
                    rows_quarantined=sum(counts.values()),
                    quarantined_by_reason=json.dumps(dict(sorted(counts.items()))),
                    run_id=run_id,
                )
            )
    return records
