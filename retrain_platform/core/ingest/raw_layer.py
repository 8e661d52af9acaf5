"""The raw step end to end: landing files to the raw Delta table for a set of partitions.

Unreadable files are moved aside with their error and do not stop the others; untypable rows go
to the quarantine table (stage `ingest`); each partition is replaced in one atomic commit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from retrain_platform.contracts import DatasetContract
from retrain_platform.core import platform_columns as pc
from retrain_platform.core.ingest.landing import (
    LandingFile,
    ReadOutcome,
    RefusedName,
    list_landing_files,
    move_aside,
    read_files_isolated,
)
from retrain_platform.core.ingest.landing_index import index_files
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
) -> RawStepReport:
    """Ingest every landed row of `partitions` into the raw table (idempotent per partition)."""
    files, refused = list_landing_files(landing_dir)
    entries, frames = index_files(files, contract, index_dir, reader_command=reader_command)
    moved: dict[str, str] = {}
    usable: list[LandingFile] = []
    wanted = set(partitions)
    for file in files:
        entry = entries[file.name]
        if entry.error:
            try:
                move_aside(file, rejected_dir, entry.error)
                moved[file.name] = entry.error
            except FileNotFoundError:
                pass  # another run moved it aside first
        elif wanted & set(entry.partitions):
            usable.append(file)
    cached = [ReadOutcome(f, frames[f.name], None) for f in usable if f.name in frames]
    fresh = read_files_isolated([f for f in usable if f.name not in frames], command=reader_command)
    for outcome in fresh:
        if outcome.frame is None:
            moved[outcome.file.name] = outcome.error or "unreadable"
            move_aside(outcome.file, rejected_dir, moved[outcome.file.name])
    result = ingest_partitions([*cached, *fresh], contract, partitions)
    moved.update({k: v for k, v in result.file_errors.items() if k not in moved})
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
