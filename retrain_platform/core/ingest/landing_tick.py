"""One look at the landing zone, as the landing sensor takes it: statuses, moves, requests.

Every file gets a ledger record when its status changes: still arriving (temp files, files
modified within the grace period; a temp file older than `temp_grace` is flagged), refused name,
unreadable (moved aside now, at the tick, not at some later run), empty, all rows outside the
partitions (moved aside), or accepted with its row counts. A rejected file that changed since
it was moved aside is moved back and examined again. Anything that goes wrong with one file is
that file's status; the tick always finishes.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import polars as pl

from retrain_platform.contracts import DatasetContract
from retrain_platform.core.ingest import ledger
from retrain_platform.core.ingest.landing import (
    LandingFile,
    move_aside,
    restore_changed_rejects,
    scan_landing,
)
from retrain_platform.core.ingest.landing_changes import (
    PartitionRequest,
    files_by_partition,
    pending_limit,
    placements,
    plan_requests,
)
from retrain_platform.core.ingest.landing_index import index_files
from retrain_platform.core.ingest.placement import Placement
from retrain_platform.core.ingest.rows import NO_PARTITION


@dataclass(frozen=True)
class LandingSettings:
    """How long a file must be left alone before it is read, and the future horizon."""

    grace_seconds: float = 10.0
    temp_grace: timedelta = timedelta(hours=1)
    future_horizon: timedelta = timedelta(days=1)


@dataclass
class TickPlan:
    """What one tick found and decided."""

    requests: list[PartitionRequest]
    records: list[ledger.LedgerRecord] = field(default_factory=list)
    moved_aside: dict[str, str] = field(default_factory=dict)
    restored: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    files_seen: int = 0


class _Notes:
    """Ledger records for status changes only (the ledger's latest status per file is known)."""

    def __init__(self, existing: pl.DataFrame, now: datetime) -> None:
        self.latest = ledger.latest_status(existing)
        self.now = now
        self.records: list[ledger.LedgerRecord] = []

    def note(self, file: LandingFile, status: str, message: str = "", **values: object) -> bool:
        record = ledger.LedgerRecord.of(file, status, self.now, message=message, **values)
        if self.latest.get(file.name) == (record.fingerprint, status, record.message):
            return False
        self.records.append(record)
        return True


def _accepted_message(placement: Placement) -> str:
    parts = []
    if placement.outside:
        keys = sorted(k for k in placement.outside if k != NO_PARTITION)
        span = f" ({keys[0]}..{keys[-1]})" if keys else ""
        undated = placement.outside.get(NO_PARTITION, 0)
        note = f", {undated} without an event time" if undated else ""
        parts.append(
            f"{placement.rows_outside} row(s) outside the partitions{span}{note}, "
            f"quarantined in {placement.home}"
        )
    if placement.pending:
        parts.append(
            f"{placement.rows_pending} row(s) wait for partition(s) "
            f"{', '.join(sorted(placement.pending))} to open"
        )
    return "; ".join(parts)


def plan_tick(
    contract: DatasetContract,
    *,
    landing_dir: Path,
    rejected_dir: Path,
    index_dir: Path,
    existing: pl.DataFrame,
    valid: Collection[str],
    now: datetime,
    settings: LandingSettings,
    reader_command: Sequence[str] | None = None,
) -> TickPlan:
    """Statuses, moves aside and raw requests for the landing zone as it is now."""
    plan = TickPlan(requests=[])
    notes = _Notes(existing, now)
    plan.restored = restore_changed_rejects(rejected_dir, landing_dir)
    scan = scan_landing(
        landing_dir,
        grace_seconds=settings.grace_seconds,
        temp_grace_seconds=settings.temp_grace.total_seconds(),
    )
    plan.files_seen = len(scan.ready) + len(scan.arriving)
    for file in scan.arriving:
        stale = file.name in scan.stale
        message = f"temp file unchanged since {file.landed_at:%Y-%m-%d %H:%M}" if stale else ""
        if notes.note(file, ledger.ARRIVING, message) and stale:
            plan.warnings.append(f"landing file {file.name}: {message}; still being written?")
    for refused in scan.refused:
        pseudo = LandingFile(refused.name, landing_dir / "-", 0, 0)
        if notes.note(pseudo, ledger.REFUSED_NAME, refused.reason):
            plan.warnings.append(f"refused landing file {refused.name!r}: {refused.reason}")
    entries, _ = index_files(scan.ready, contract, index_dir, reader_command=reader_command)
    pending_until = pending_limit(valid, contract.partitioning.grain, settings.future_horizon)
    placed = placements(scan.ready, entries, valid, pending_until)
    usable: list[LandingFile] = []
    for file in scan.ready:
        entry = entries[file.name]
        if entry.error:
            _reject(plan, notes, file, rejected_dir, ledger.UNREADABLE, entry.error)
            continue
        if entry.empty:
            notes.note(file, ledger.EMPTY, "the file holds no rows", rows_landed=0)
            continue
        placement = placed[file.name]
        if placement.all_outside:
            keys = sorted(placement.outside)
            message = f"all {entry.rows} row(s) fall outside the partitions ({keys[0]}..{keys[-1]})"
            _reject(
                plan,
                notes,
                file,
                rejected_dir,
                ledger.OUTSIDE,
                message,
                rows_landed=entry.rows,
                rows_outside=placement.rows_outside,
            )
            continue
        usable.append(file)
        notes.note(
            file,
            ledger.ACCEPTED,
            _accepted_message(placement),
            rows_landed=entry.rows,
            rows_outside=placement.rows_outside,
            rows_pending=placement.rows_pending,
            partitions=",".join(placement.assigned),
        )
    plan.requests = plan_requests(
        files_by_partition(usable, placed), ledger.ingested_digests(existing)
    )
    plan.records = notes.records
    return plan


def _reject(
    plan: TickPlan,
    notes: _Notes,
    file: LandingFile,
    rejected_dir: Path,
    status: str,
    message: str,
    **values: object,
) -> None:
    try:
        move_aside(file, rejected_dir, message)
    except FileNotFoundError:
        return  # a raw run moved it aside first; its record is already in the ledger
    plan.moved_aside[file.name] = message
    notes.note(file, status, message, **values)
    plan.warnings.append(f"landing file {file.name} moved aside ({status}): {message}")
