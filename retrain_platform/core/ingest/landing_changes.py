"""Which partitions to (re)ingest: those whose landing files differ from what was last ingested.

A partition's content is the set of landing files (by fingerprint: name, size, modification
time) with rows in it; its digest is a hash of that set. The raw step records the digest of what
it ingested in the landing ledger, so a partition is requested exactly when its digest differs
from the last one ingested: a new, changed or removed file requests its partitions again; a lost
or rewound sensor cursor, a restarted daemon or a backfill run outside the sensor request nothing
twice; a run that died (killed, failed) leaves no digest and its partition is requested again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta

from retrain_platform.core.ingest.landing import LandingFile
from retrain_platform.core.ingest.landing_index import IndexEntry
from retrain_platform.core.ingest.placement import Placement, place
from retrain_platform.core.partitions import partition_end, partition_key_of


@dataclass(frozen=True)
class PartitionRequest:
    """One raw partition to ingest, the digest of its files, and their names."""

    partition: str
    digest: str
    files: tuple[str, ...]

    @property
    def content_key(self) -> str:
        return f"{self.partition}:{self.digest}"


def files_digest(files: Iterable[LandingFile]) -> str:
    """Hash of a set of file versions (order does not matter)."""
    prints = sorted(f.fingerprint for f in files)
    return hashlib.sha1("\n".join(prints).encode()).hexdigest()[:16]


def pending_limit(valid: Collection[str], grain: str, horizon: timedelta) -> str | None:
    """Key of the last partition a row may wait for: `horizon` past the last open partition."""
    if not valid or horizon <= timedelta(0):
        return None
    end = partition_end(max(valid), grain) + horizon - timedelta(microseconds=1)
    return partition_key_of(end, grain)


def placements(
    files: Iterable[LandingFile],
    entries: Mapping[str, IndexEntry],
    valid: Collection[str],
    pending_until: str | None,
) -> dict[str, Placement]:
    """Placement of every readable, non-empty file."""
    out: dict[str, Placement] = {}
    for file in files:
        entry = entries.get(file.name)
        if entry is None or entry.error or entry.empty:
            continue
        out[file.name] = place(entry.partitions, valid, pending_until)
    return out


def files_by_partition(
    files: Iterable[LandingFile], placed: Mapping[str, Placement]
) -> dict[str, list[LandingFile]]:
    """The files that make up each open partition (rows in it, or outside rows homed in it)."""
    grouped: dict[str, list[LandingFile]] = {}
    for file in files:
        placement = placed.get(file.name)
        if placement is None or placement.all_outside:
            continue
        for key in placement.assigned:
            grouped.setdefault(key, []).append(file)
    return grouped


def plan_requests(
    grouped: Mapping[str, Iterable[LandingFile]], ingested: Mapping[str, str]
) -> list[PartitionRequest]:
    """A request for every partition whose files digest is not the one last ingested."""
    requests = []
    for partition, files in sorted(grouped.items()):
        chosen = list(files)
        digest = files_digest(chosen)
        if ingested.get(partition) == digest:
            continue
        names = tuple(sorted(f.name for f in chosen))
        requests.append(PartitionRequest(partition, digest, names))
    return requests
