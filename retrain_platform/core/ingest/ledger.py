"""The landing ledger: a record of every file that appears in the landing zone, and its fate.

An append-only Delta table. The landing sensor appends a record whenever a file's status changes
(arriving, refused name, unreadable, empty, outside the partitions, accepted); every raw run
appends, per file and partition it ingested, the rows that went to raw and to the quarantine, and
the digest of the partition's files. Reading it back gives each file's current status and its
accounting (landed = raw + quarantined + pending, for rejected files: the rows they held), and
each partition's last ingested digest, which is what lets the sensor request nothing twice.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

import polars as pl
from deltalake import write_deltalake

from retrain_platform.core.bounded import clip_text
from retrain_platform.core.ingest.landing import LandingFile
from retrain_platform.core.lake import table_exists, with_commit_retries

ACCEPTED = "accepted"
INGESTED = "ingested"
ARRIVING = "in_progress"
REFUSED_NAME = "refused_name"
UNREADABLE = "unreadable"
EMPTY = "empty"
OUTSIDE = "outside_partitions"
SUPERSEDED = "superseded"
STATUSES = (ACCEPTED, ARRIVING, REFUSED_NAME, UNREADABLE, EMPTY, OUTSIDE, SUPERSEDED)

SCHEMA: dict[str, pl.DataType] = {
    "recorded_at": pl.Datetime("us", "UTC"),
    "file": pl.String(),
    "fingerprint": pl.String(),
    "size": pl.Int64(),
    "modified_at": pl.Datetime("us", "UTC"),
    "status": pl.String(),
    "message": pl.String(),
    "partition": pl.String(),
    "partitions": pl.String(),
    "files_digest": pl.String(),
    "rows_landed": pl.Int64(),
    "rows_raw": pl.Int64(),
    "rows_quarantined": pl.Int64(),
    "quarantined_by_reason": pl.String(),
    "rows_outside": pl.Int64(),
    "rows_pending": pl.Int64(),
    "run_id": pl.String(),
}


# One row per file version (`file_summary`): its status now and where its rows went.
SUMMARY_SCHEMA: dict[str, pl.DataType] = {
    "file": pl.String(),
    "fingerprint": pl.String(),
    "status": pl.String(),
    "size": pl.Int64(),
    "first_seen": SCHEMA["recorded_at"],
    "rows_landed": pl.Int64(),
    "rows_raw": pl.Int64(),
    "rows_quarantined": pl.Int64(),
    "quarantined_by_reason": pl.String(),
    "rows_outside": pl.Int64(),
    "rows_pending": pl.Int64(),
    "partitions": pl.String(),
    "message": pl.String(),
}


@dataclass(frozen=True)
class LedgerRecord:
    """One event of one file version. `partition` is set on the records a raw run writes."""

    recorded_at: datetime
    file: str
    fingerprint: str
    size: int | None
    modified_at: datetime | None
    status: str
    message: str = ""
    partition: str | None = None
    partitions: str | None = None
    files_digest: str | None = None
    rows_landed: int | None = None
    rows_raw: int | None = None
    rows_quarantined: int | None = None
    quarantined_by_reason: str | None = None
    rows_outside: int | None = None
    rows_pending: int | None = None
    run_id: str | None = None

    @classmethod
    def of(cls, file: LandingFile, status: str, at: datetime, **values: object) -> LedgerRecord:
        message = clip_text(str(values.pop("message", "") or ""))
        return cls(
            at, file.name, file.fingerprint, file.size, file.landed_at, status, message, **values
        )  # type: ignore[arg-type]


def to_frame(records: Iterable[LedgerRecord]) -> pl.DataFrame:
    """Records as a frame of the ledger's schema."""
    return pl.DataFrame([asdict(r) for r in records], schema=SCHEMA)


def append(
    uri: str, records: Iterable[LedgerRecord], storage_options: Mapping[str, str] | None = None
) -> int:
    """Append records (a blind append: concurrent appenders never conflict for long)."""
    frame = to_frame(records)
    if frame.is_empty():
        return 0
    if "://" not in uri:
        Path(uri).parent.mkdir(parents=True, exist_ok=True)
    options = dict(storage_options or {})
    with_commit_retries(
        lambda: write_deltalake(uri, frame.to_arrow(), mode="append", storage_options=options), uri
    )
    return frame.height


def read(uri: str, storage_options: Mapping[str, str] | None = None) -> pl.DataFrame:
    """Every record so far (an empty frame with the schema when there is no ledger yet)."""
    if not table_exists(uri, storage_options):
        return pl.DataFrame(schema=SCHEMA)
    return pl.read_delta(uri, storage_options=dict(storage_options or {}))


def ingested_digests(ledger: pl.DataFrame) -> dict[str, str]:
    """Each partition's files digest at its latest ingest."""
    runs = ledger.filter(pl.col("partition").is_not_null() & pl.col("files_digest").is_not_null())
    if runs.is_empty():
        return {}
    latest = runs.sort("recorded_at").group_by("partition").agg(pl.col("files_digest").last())
    return dict(latest.iter_rows())


def latest_status(ledger: pl.DataFrame) -> dict[str, tuple[str, str, str]]:
    """{file: (fingerprint, status, message)} of each file's latest file-level record."""
    level = ledger.filter(pl.col("partition").is_null())
    if level.is_empty():
        return {}
    latest = (
        level.sort("recorded_at")
        .group_by("file")
        .agg(pl.col("fingerprint").last(), pl.col("status").last(), pl.col("message").last())
    )
    return {row[0]: (row[1], row[2], row[3]) for row in latest.iter_rows()}


def _reasons(texts: pl.Series) -> str:
    total: dict[str, int] = {}
    for text in texts.drop_nulls().to_list():
        for reason, n in json.loads(text).items():
            total[reason] = total.get(reason, 0) + int(n)
    return json.dumps(dict(sorted(total.items())))


def file_summary(ledger: pl.DataFrame) -> pl.DataFrame:
    """One row per file version: its status now and its accounting.

    A version whose name has a newer fingerprint is `superseded`; an accepted version all of whose
    partitions have been ingested is `ingested`. rows_raw / rows_quarantined sum the latest
    record of each (version, partition).
    """
    if ledger.is_empty():
        return pl.DataFrame(schema=SUMMARY_SCHEMA)
    ordered = ledger.sort("recorded_at")
    level = ordered.filter(pl.col("partition").is_null())
    versions = level.group_by("file", "fingerprint", maintain_order=True).agg(
        pl.col("status").last(),
        pl.col("size").last(),
        pl.col("recorded_at").first().alias("first_seen"),
        pl.col("recorded_at").last().alias("last_seen"),
        pl.col("rows_landed").drop_nulls().last(),
        pl.col("rows_outside").drop_nulls().last(),
        pl.col("rows_pending").drop_nulls().last(),
        pl.col("partitions").drop_nulls().last(),
        pl.col("message").last(),
    )
    per_partition = (
        ordered.filter(pl.col("partition").is_not_null())
        .group_by("fingerprint", "partition", maintain_order=True)
        .agg(pl.all().last())
    )
    ingested = per_partition.group_by("fingerprint").agg(
        pl.col("rows_raw").sum(),
        pl.col("rows_quarantined").sum(),
        pl.col("quarantined_by_reason"),
        pl.col("partition").sort().str.join(",").alias("ingested_partitions"),
    )
    newest = (
        versions.sort("last_seen")
        .group_by("file")
        .agg(pl.col("fingerprint").last().alias("newest"))
    )
    summary = versions.join(ingested, on="fingerprint", how="left").join(newest, on="file")
    reasons = [
        _reasons(pl.Series(r)) if r is not None else "{}"
        for r in summary.get_column("quarantined_by_reason").to_list()
    ]
    status = (
        pl.when(pl.col("fingerprint") != pl.col("newest"))
        .then(pl.lit(SUPERSEDED))
        .when(
            (pl.col("status") == ACCEPTED)
            & pl.col("rows_raw").is_not_null()
            & (
                pl.col("rows_raw")
                + pl.col("rows_quarantined")
                + pl.col("rows_pending").fill_null(0)
                >= pl.col("rows_landed")
            )
        )
        .then(pl.lit(INGESTED))
        .otherwise(pl.col("status"))
    )
    return (
        summary.with_columns(
            status.alias("status"), pl.Series("quarantined_by_reason", reasons, dtype=pl.String)
        )
        .select(list(SUMMARY_SCHEMA))
        .sort("file", "first_seen")
    )
