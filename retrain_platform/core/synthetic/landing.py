"""Writing a run of days as landing files (Parquet, CSV or mixed), late files and broken files.

Files are written atomically (a temp name, then a rename), so a sensor never reads half a file.
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from retrain_platform.contracts.model import DatasetContract
from retrain_platform.core.progress import ProgressCallback, report
from retrain_platform.core.synthetic.columns import _FAULT, _LATE, _check_seed, _rng
from retrain_platform.core.synthetic.faults import (
    _FAULT_KEEP_BYTES,
    _FRAME_FAULTS,
    Fault,
    _check_faults,
    _fault_days,
)
from retrain_platform.core.synthetic.world import DriftSpec, generate_day

FILE_FORMATS = ("parquet", "csv", "mixed")
GENERATING = "generate daily files"

_PARQUET_OPTIONS: dict[str, Any] = {
    "compression": "zstd",
    "compression_level": 3,
    "statistics": True,
    "row_group_size": 262_144,
}


@dataclass(frozen=True)
class GeneratedFile:
    """One written file: `rows` readable data rows; `fault` the comma-joined fault kinds or None."""

    path: Path
    day: date
    rows: int
    fault: str | None


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _encode(frame: pl.DataFrame, file_format: str) -> bytes:
    buffer = io.BytesIO()
    if file_format == "csv":
        frame.write_csv(buffer)
    else:
        frame.write_parquet(buffer, **_PARQUET_OPTIONS)
    return buffer.getvalue()


def _corrupt(frame: pl.DataFrame, rng: np.random.Generator) -> bytes:
    """A truncated parquet file: its first 40 % of bytes, then random bytes to the full length."""
    valid = _encode(frame, "parquet")
    keep = int(len(valid) * _FAULT_KEEP_BYTES)
    garbage = bytearray(rng.bytes(len(valid) - keep))
    if garbage[-4:] == b"PAR1":
        garbage[-1] ^= 0xFF
    return valid[:keep] + bytes(garbage)


def _write_file(
    contract: DatasetContract,
    landing_dir: Path,
    day: date,
    frame: pl.DataFrame,
    *,
    file_format: str,
    kinds: list[str],
    rng: np.random.Generator,
) -> GeneratedFile:
    for kind, apply in _FRAME_FAULTS.items():
        if kind in kinds:
            frame = apply(frame, contract, rng)
    if "empty" in kinds:
        data, rows = b"", 0
    elif "corrupt" in kinds:
        file_format, data, rows = "parquet", _corrupt(frame, rng), 0
    else:
        file_format = "csv" if "wrong_type" in kinds else file_format
        data, rows = _encode(frame, file_format), frame.height
    path = landing_dir / f"{contract.dataset}_{day:%Y-%m-%d}.{file_format}"
    _write_atomic(path, data)
    return GeneratedFile(path, day, rows, ",".join(kinds) or None)


def _split_late(
    frame: pl.DataFrame, contract: DatasetContract, seed: int, day: date, late_share: float
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(on-time rows, rows that arrive with the next day's file), chosen by the seed."""
    rng = _rng(contract, seed, _LATE, day.toordinal())
    late = np.zeros(frame.height, dtype=bool)
    count = round(late_share * frame.height)
    late[rng.choice(frame.height, count, replace=False)] = True
    mask = pl.Series(late)
    return frame.filter(~mask), frame.filter(mask)


def _check_landing_args(
    contract: DatasetContract, *, days: int, rows_per_day: int, file_format: str, late_share: float
) -> None:
    if days < 1:
        msg = f"days must be >= 1, got {days}"
        raise ValueError(msg)
    if rows_per_day < 0:
        msg = f"rows_per_day must be >= 0, got {rows_per_day}"
        raise ValueError(msg)
    if file_format not in FILE_FORMATS:
        msg = f"unknown file_format {file_format!r} (one of: {', '.join(FILE_FORMATS)})"
        raise ValueError(msg)
    if not 0 <= late_share < 1:
        msg = f"late_share must be in [0, 1), got {late_share}"
        raise ValueError(msg)
    if contract.timestamp_from_row_index is not None:
        msg = (
            f"{contract.source_path}: the contract derives event timestamps from row positions; "
            "the synthetic source only writes files that carry the timestamp column"
        )
        raise ValueError(msg)


def write_landing_files(
    contract: DatasetContract,
    landing_dir: Path,
    *,
    start: date,
    days: int,
    rows_per_day: int = 20_000,
    seed: int = 0,
    drift: DriftSpec | None = None,
    faults: Sequence[Fault] = (),
    file_format: str = "parquet",
    late_share: float = 0.03,
    progress: ProgressCallback | None = None,
) -> list[GeneratedFile]:
    """Write one file per day, `{dataset}_{YYYY-MM-DD}.{parquet|csv}`, into `landing_dir`.

    A file holds its day's on-time events plus the previous day's late ones (`late_share` of each
    day arrive a day late); the last day's late events go into one extra file for the day after the
    range. "mixed" alternates parquet and csv by day. A `wrong_type` fault always writes csv and a
    `corrupt` one a truncated parquet file. Same arguments, same bytes. `progress` is called
    (`GENERATING`) as each day's file is written.
    """
    _check_seed(seed)
    _check_landing_args(
        contract,
        days=days,
        rows_per_day=rows_per_day,
        file_format=file_format,
        late_share=late_share,
    )
    range_days = [start + timedelta(days=i) for i in range(days)]
    _check_faults(contract, faults, range_days)
    faulted = _fault_days(contract, faults, range_days, seed)
    landing_dir.mkdir(parents=True, exist_ok=True)

    def write(index: int, day: date, frame: pl.DataFrame) -> GeneratedFile:
        fmt = ("parquet", "csv")[index % 2] if file_format == "mixed" else file_format
        rng = _rng(contract, seed, _FAULT, day.toordinal())
        kinds = faulted.get(day, [])
        return _write_file(contract, landing_dir, day, frame, file_format=fmt, kinds=kinds, rng=rng)

    written = []
    carried: pl.DataFrame | None = None
    for index, day in enumerate(range_days):
        events = generate_day(contract, day, rows=rows_per_day, seed=seed, drift=drift)
        on_time, late = _split_late(events, contract, seed, day, late_share)
        frame = on_time if carried is None else pl.concat([carried, on_time])
        written.append(write(index, day, frame))
        carried = late
        report(progress, GENERATING, index + 1, days)
    if carried is not None and not carried.is_empty():
        written.append(write(days, start + timedelta(days=days), carried))
    return written
