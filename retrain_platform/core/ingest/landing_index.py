"""A small per-file index of which partitions each landing file's rows belong to.

Finding the partitions of a file means parsing it, so the answer is kept per file fingerprint
(name, size, modification time): the landing sensor and every ingest run share it, and a file is
parsed again only when it changes. One JSON document per file keeps concurrent runs from
contending for a shared index file.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from retrain_platform.contracts import DatasetContract
from retrain_platform.core.bounded import clip_text
from retrain_platform.core.ingest.landing import LandingFile, read_files_isolated
from retrain_platform.core.ingest.rows import FileSchemaError, file_partitions


@dataclass(frozen=True)
class IndexEntry:
    """The partitions of one file version (row counts per partition), or why it cannot be read."""

    fingerprint: str
    partitions: dict[str, int]
    error: str | None = None
    rows: int | None = None

    @property
    def empty(self) -> bool:
        return self.error is None and not self.partitions


def _entry_path(index_dir: Path, file: LandingFile) -> Path:
    digest = hashlib.sha1(file.name.encode()).hexdigest()[:16]
    return index_dir / f"{digest}.json"


def _load(path: Path) -> IndexEntry | None:
    try:
        raw = json.loads(path.read_text())
        return IndexEntry(
            raw["fingerprint"], dict(raw["partitions"]), raw.get("error"), raw.get("rows")
        )
    except (OSError, ValueError, KeyError):
        return None


def _store(path: Path, entry: IndexEntry) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = json.dumps(
        {
            "fingerprint": entry.fingerprint,
            "partitions": entry.partitions,
            "error": entry.error,
            "rows": entry.rows,
        }
    )
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    with os.fdopen(fd, "w") as handle:
        handle.write(payload)
    os.replace(tmp, path)


def index_files(
    files: Sequence[LandingFile],
    contract: DatasetContract,
    index_dir: Path,
    *,
    reader_command: Sequence[str] | None = None,
) -> tuple[dict[str, IndexEntry], dict[str, pl.DataFrame]]:
    """Index entries for `files` (by name), and the frames parsed to build the new ones.

    Any failure of one file (parser crash, a type that cannot be handled, a bad timestamp column)
    becomes that file's error; it never stops the others.
    """
    entries: dict[str, IndexEntry] = {}
    stale: list[LandingFile] = []
    for file in files:
        cached = _load(_entry_path(index_dir, file))
        if cached is not None and cached.fingerprint == file.fingerprint:
            entries[file.name] = cached
        else:
            stale.append(file)
    frames: dict[str, pl.DataFrame] = {}
    for outcome in read_files_isolated(stale, command=reader_command):
        file = outcome.file
        if outcome.frame is None:
            entry = IndexEntry(file.fingerprint, {}, outcome.error)
        elif outcome.frame.height == 0:
            entry = IndexEntry(file.fingerprint, {}, None, 0)  # 0 bytes, a header, 0 row groups
        else:
            try:
                counts = file_partitions(outcome.frame, file, contract)
                entry = IndexEntry(file.fingerprint, counts, None, outcome.frame.height)
                frames[file.name] = outcome.frame
            except FileSchemaError as exc:
                entry = IndexEntry(file.fingerprint, {}, clip_text(str(exc)))
            except Exception as exc:  # noqa: BLE001 - one poison file never stops the others
                message = f"{file.name}: {type(exc).__name__}: {exc}"
                entry = IndexEntry(file.fingerprint, {}, clip_text(message))
        _store(_entry_path(index_dir, file), entry)
        entries[file.name] = entry
    return entries, frames
