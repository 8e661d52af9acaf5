"""Reading the small values of a feature view: windows, lists and choices of known words.

The pieces `feature_views` reads each transform section with; every problem names the file and
key through the `Reader`.
"""

from __future__ import annotations

import re
from typing import Any

from retrain_platform.contracts.model import Window
from retrain_platform.contracts.parsing import ContractError, Reader, parse_duration

EVENTS_PATTERN = re.compile(r"^(\d+)\s*(ev|events?)$")
NAME_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
CLOSURES = ("before", "including")


def parse_window(reader: Reader, key: str, text: Any) -> Window:

    raw = str(text).strip()
    match = EVENTS_PATTERN.match(raw)
    if match:
        count = int(match.group(1))
        if count < 1:
            reader.fail("an event window needs at least 1 event", key)
        return Window(raw.replace(" ", ""), events=count)
    try:
        duration = parse_duration(raw, path=reader.path, key=key)
    except ContractError:
        reader.fail(f"{raw!r} is not a window like '1h', '7d' or '10 events'", key)
        raise
    return Window(raw, duration=duration)


def read_list(reader: Reader, name: str, *, required: bool = False) -> list[Any]:
    value = reader.get(name, [], required=required)
    if not isinstance(value, list) or (required and not value):
        reader.fail("expected a non-empty list", reader.sub(name))
    return value


def read_windows(reader: Reader) -> tuple[Window, ...]:
    return tuple(
        parse_window(reader, f"{reader.sub('windows')}[{i}]", w)
        for i, w in enumerate(read_list(reader, "windows", required=True))
    )


def read_choices(reader: Reader, name: str, allowed: tuple[str, ...]) -> tuple[str, ...]:
    values = read_list(reader, name, required=True)
    for value in values:
        if value not in allowed:
            reader.fail(
                f"unknown {name[:-1]} {value!r} (one of: {', '.join(allowed)})", reader.sub(name)
            )
    return tuple(values)
