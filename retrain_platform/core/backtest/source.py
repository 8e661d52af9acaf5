"""A historical source read, typed and validated once, as the raw and validated layers would."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl

from retrain_platform.contracts import DatasetContract
from retrain_platform.core import platform_columns as pc
from retrain_platform.core.ingest.landing import LandingFile, list_landing_files, read_file
from retrain_platform.core.ingest.rows import conform_file
from retrain_platform.core.models.inputs import stable_order
from retrain_platform.core.progress import ProgressCallback, report
from retrain_platform.core.validate.rows import validate_rows


@dataclass(frozen=True)
class PreparedSource:
    """A source's validated rows, their partitions in time order, and what was held back."""

    rows: pl.DataFrame
    partitions: tuple[str, ...]
    files: tuple[str, ...]
    rows_read: int
    rows_rejected: int
    rows_quarantined: int
    duplicates: int
    # partitions whose rows were all refused (quarantined, none valid): gaps in the history
    refused_partitions: tuple[str, ...] = ()


def source_files(source: Path) -> list[LandingFile]:
    """The file itself, or the landing-safe files of a directory in name order."""
    if source.is_dir():
        files, _refused = list_landing_files(source)
        if not files:
            msg = f"{source}: no readable landing file (.parquet, .csv, .jsonl, .ndjson)"
            raise FileNotFoundError(msg)
        return files
    stat = source.stat()
    return [LandingFile(source.name, source, stat.st_size, stat.st_mtime_ns)]


READING = "read source files"


def prepare_source(
    source: Path, contract: DatasetContract, *, progress: ProgressCallback | None = None
) -> PreparedSource:
    """Read, type and validate every row of the source, as the raw and validated layers do.

    Validation runs once over all partitions: its rules are per row and its de-duplication per
    primary key, so the result is the one partition-by-partition validation would give.
    `progress` is called (`READING`) as each file is read.
    """
    files = source_files(source)
    conformed = []
    for done, file in enumerate(files, 1):
        conformed.append(conform_file(read_file(file.path), file, contract))
        report(progress, READING, done, len(files))
    raw = pl.concat([c.rows for c in conformed])
    validated = validate_rows(raw, contract)
    if validated.schema_failures:
        msg = f"{source}: rows do not match the contract: {'; '.join(validated.schema_failures)}"
        raise ValueError(msg)
    rows = stable_order(validated.valid, contract)
    partitions = tuple(sorted(rows.get_column(pc.PARTITION).unique().to_list()))
    quarantined = validated.quarantine
    refused = (
        set(quarantined.get_column(pc.PARTITION).unique().to_list()) - set(partitions)
        if pc.PARTITION in quarantined.columns
        else set()
    )
    return PreparedSource(
        rows=rows,
        partitions=partitions,
        files=tuple(c.file.name for c in conformed),
        rows_read=sum(c.rows.height + c.rejected.height for c in conformed),
        rows_rejected=sum(c.rejected.height for c in conformed),
        rows_quarantined=validated.quarantine.height,
        duplicates=validated.duplicates.height,
        refused_partitions=tuple(sorted(p for p in refused if p is not None)),
    )
