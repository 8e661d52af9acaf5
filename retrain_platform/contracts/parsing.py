"""Low-level reading of a contract document: key paths, value checks and the errors they raise.

Contracts are written by people, so every mistake is reported as
`ContractError("<file>: <key>: <problem>")`. Every section parser (columns, policy, feature
views, ...) reads its mapping through a `Reader`, which tracks the key path for those messages
and rejects keys nobody asked for.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from typing import Any

VALID_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
_DURATION = re.compile(r"^(\d+)\s*(m|h|d|w)$")
_DURATION_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


class ContractError(ValueError):
    """A contract file is malformed; the message names the file and the key."""


class Reader:
    """Reads one mapping of a contract, tracking the key path for error messages."""

    def __init__(self, path: str, key: str, value: Any) -> None:
        self.path = path
        self.key = key
        if not isinstance(value, dict):
            self.fail(f"expected a mapping, got {type(value).__name__}")
        self.value: dict[str, Any] = value
        self._used: set[str] = set()

    def fail(self, problem: str, key: str | None = None) -> None:
        where = key if key is not None else self.key
        msg = f"{self.path}: {where or '<top level>'}: {problem}"
        raise ContractError(msg)

    def sub(self, name: str) -> str:
        return f"{self.key}.{name}" if self.key else name

    def get(self, name: str, default: Any = None, *, required: bool = False) -> Any:
        self._used.add(name)
        if name not in self.value or self.value[name] is None:
            if required:
                self.fail("missing required key", self.sub(name))
            return default
        return self.value[name]

    def child(self, name: str, *, required: bool = False) -> Reader | None:
        raw = self.get(name, required=required)
        return None if raw is None else Reader(self.path, self.sub(name), raw)

    def mark_used(self, *names: str) -> None:
        """Accept these keys as known without reading them (another parser reads them)."""
        self._used.update(names)

    def finish(self) -> None:
        unknown = sorted(set(self.value) - self._used)
        if unknown:
            known = ", ".join(sorted(self._used))
            self.fail(f"unknown key(s) {', '.join(map(repr, unknown))} (known: {known})")


def parse_duration(text: Any, *, path: str = "<duration>", key: str = "") -> timedelta:
    """Parse '15m', '1h', '2d' or '1w' into a timedelta."""
    match = _DURATION.match(str(text).strip())
    if not match:
        msg = f"{path}: {key}: {text!r} is not a duration like '15m', '6h', '2d' or '1w'"
        raise ContractError(msg)
    return timedelta(**{_DURATION_UNITS[match.group(2)]: int(match.group(1))})


def as_date(reader: Reader, name: str, value: Any) -> date:
    """`value` (read from `reader`'s key `name`) as a date, from YAML's date or 'YYYY-MM-DD'."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        reader.fail(f"{value!r} is not a date (YYYY-MM-DD)", reader.sub(name))
        raise


def as_number(reader: Reader, name: str, value: Any) -> float | None:
    """`value` as a float (None stays None); booleans are not numbers here."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        reader.fail(f"{value!r} is not a number", reader.sub(name))
    return float(value)


def as_list(reader: Reader, name: str, *, required: bool = False) -> list[Any]:
    """The list under key `name` (empty when absent unless `required`)."""
    value = reader.get(name, [], required=required)
    if not isinstance(value, list) or (required and not value):
        reader.fail("expected a non-empty list", reader.sub(name))
    return value


def as_choices(reader: Reader, name: str, allowed: tuple[str, ...]) -> tuple[str, ...]:
    """The non-empty list under key `name`, every entry one of `allowed`."""
    values = as_list(reader, name, required=True)
    for value in values:
        if value not in allowed:
            reader.fail(
                f"unknown {name[:-1]} {value!r} (one of: {', '.join(allowed)})", reader.sub(name)
            )
    return tuple(values)


def compact_duration(span: timedelta) -> str:
    """A duration as a contract writes it: 2d, 30m, 90s."""
    seconds = int(span.total_seconds())
    for unit, size in (("d", 86_400), ("h", 3_600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
