"""Which partitions to (re)ingest given the landing zone now and what was already requested.

Pure bookkeeping for the landing sensor: a file is new or changed when its fingerprint differs
from the one remembered in the cursor; its partitions come from the landing index. Run keys are
derived from the partition and the fingerprints that caused the request, so a restarted sensor
that lost its cursor still cannot request the same work twice.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from retrain_platform.core.ingest.landing import LandingFile, RefusedName
from retrain_platform.core.ingest.landing_index import IndexEntry


@dataclass
class LandingCursor:
    """Fingerprints of the files already turned into requests, and refused names already logged."""

    seen: dict[str, str] = field(default_factory=dict)
    refused: list[str] = field(default_factory=list)

    @classmethod
    def parse(cls, text: str | None) -> LandingCursor:
        if not text:
            return cls()
        raw = json.loads(text)
        return cls(dict(raw.get("seen", {})), list(raw.get("refused", [])))

    def dumps(self) -> str:
        return json.dumps({"seen": self.seen, "refused": self.refused}, sort_keys=True)


@dataclass(frozen=True)
class PartitionRequest:
    partition: str
    run_key: str
    files: tuple[str, ...]


@dataclass
class LandingChanges:
    """The outcome of one look at the landing zone."""

    requests: list[PartitionRequest]
    unreadable: dict[str, str]
    newly_refused: list[RefusedName]
    outside_partitions: dict[str, list[str]]
    cursor: LandingCursor


def changed_files(files: Iterable[LandingFile], cursor: LandingCursor) -> list[LandingFile]:
    return [f for f in files if cursor.seen.get(f.name) != f.fingerprint]


def plan_requests(
    changed: Iterable[LandingFile],
    entries: Mapping[str, IndexEntry],
    refused: Iterable[RefusedName],
    cursor: LandingCursor,
    valid_partitions: set[str],
) -> LandingChanges:
    """Partitions to request for the changed files; the new cursor remembers them."""
    by_partition: dict[str, list[LandingFile]] = {}
    unreadable: dict[str, str] = {}
    outside: dict[str, list[str]] = {}
    new_cursor = LandingCursor(dict(cursor.seen), list(cursor.refused))
    for file in changed:
        entry = entries[file.name]
        new_cursor.seen[file.name] = file.fingerprint
        if entry.error:
            unreadable[file.name] = entry.error
            continue
        for partition in entry.partitions:
            if partition in valid_partitions:
                by_partition.setdefault(partition, []).append(file)
            else:
                outside.setdefault(file.name, []).append(partition)
    requests = []
    for partition, files in sorted(by_partition.items()):
        prints = sorted(f.fingerprint for f in files)
        digest = hashlib.sha1("\n".join(prints).encode()).hexdigest()[:16]
        requests.append(
            PartitionRequest(
                partition, f"{partition}:{digest}", tuple(sorted(f.name for f in files))
            )
        )
    newly_refused = [r for r in refused if r.name not in cursor.refused]
    new_cursor.refused = sorted({*cursor.refused, *(r.name for r in newly_refused)})
    return LandingChanges(requests, unreadable, newly_refused, outside, new_cursor)
