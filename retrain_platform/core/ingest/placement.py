"""Where a landed file's rows go: partitions in range, rows outside the range, rows not yet due.

The landing index knows, per file, how many rows fall in each partition key computed from the
event time. Keys before the contract's start or after the last open partition are outside the
partitions: those rows are quarantined (reason `outside_partitions`, the event time as the value)
in the file's home partition, the in-range partition holding most of its rows, so that no row is
dropped. Rows dated after the last open partition but no later than the future horizon wait in the
landing zone until their partition opens (clock skew, a file for the period about to start).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Placement:
    """One file version's rows by destination."""

    home: str | None
    assigned: dict[str, int] = field(default_factory=dict)
    outside: dict[str, int] = field(default_factory=dict)
    pending: dict[str, int] = field(default_factory=dict)

    @property
    def rows_outside(self) -> int:
        return sum(self.outside.values())

    @property
    def rows_pending(self) -> int:
        return sum(self.pending.values())

    @property
    def all_outside(self) -> bool:
        """No row can go to raw now or later: the file is rejected whole."""
        return self.home is None and not self.pending and bool(self.outside)


def place(
    partitions: Mapping[str, int], valid: Collection[str], pending_until: str | None
) -> Placement:
    """Destinations of a file's rows, given the open partition keys and the horizon's key."""
    last_open = max(valid) if valid else None
    inside: dict[str, int] = {}
    outside: dict[str, int] = {}
    pending: dict[str, int] = {}
    for key, rows in partitions.items():
        if key in valid:
            inside[key] = rows
        elif (
            last_open is not None and pending_until is not None and last_open < key <= pending_until
        ):
            pending[key] = rows
        else:
            outside[key] = rows
    home = min(inside, key=lambda k: (-inside[k], k)) if inside else None
    assigned = dict(inside)
    if home is not None and outside:
        assigned[home] += sum(outside.values())
    return Placement(home, dict(sorted(assigned.items())), outside, pending)
