"""The landing zone: which files are there, which are safe to touch, and reading them safely.

A landing file is identified by its name, size and modification time (its fingerprint). Names are
checked before anything uses them: a hostile name (path separators, `..`, control characters, very
long) is refused, never turned into a path or a partition key. Files are parsed in a separate
process, because a corrupt file can abort the parser and must not take the run down with it.

The rule for what is read: a dot-prefixed name is a file still being written (a temp file) and is
never read; any other file is read only once its modification time is at least `grace_seconds`
old, so a file still being written in place is not read (or moved aside) half-written. This is
the one place the wall clock is read: file modification times are wall-clock times.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from retrain_platform.core.bounded import clip_text

SUPPORTED_SUFFIXES = (".parquet", ".csv", ".jsonl", ".ndjson")
MAX_NAME_LENGTH = 128
ERROR_SUFFIX = ".error.json"
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


@dataclass(frozen=True)
class LandingFile:
    """One file in the landing zone, with the fingerprint that tells when it changed."""

    name: str
    path: Path
    size: int
    mtime_ns: int

    @property
    def fingerprint(self) -> str:
        return f"{self.name}:{self.size}:{self.mtime_ns}"

    @property
    def landed_at(self) -> datetime:
        """When the file landed (its modification time): deterministic across re-runs."""
        return datetime.fromtimestamp(self.mtime_ns / 1e9, tz=UTC)


@dataclass(frozen=True)
class LandingScan:
    """One look at a landing directory: what may be read now, what is still arriving, what not."""

    ready: list[LandingFile]
    arriving: list[LandingFile]
    refused: list[RefusedName]
    stale: frozenset[str] = frozenset()


@dataclass(frozen=True)
class RefusedName:
    """A directory entry that was not accepted as a landing file, and why."""

    name: str
    reason: str


def name_problem(name: str) -> str | None:
    """Why a file name is refused, or None when it is safe to use."""
    if len(name) > MAX_NAME_LENGTH:
        return f"name is {len(name)} characters long (at most {MAX_NAME_LENGTH})"
    if "/" in name or "\\" in name or ".." in name:
        return "name contains a path separator or '..'"
    if not _SAFE_NAME.match(name):
        return "name has characters other than letters, digits, '.', '_' and '-'"
    if not name.lower().endswith(SUPPORTED_SUFFIXES):
        return f"unsupported file type (expected one of {', '.join(SUPPORTED_SUFFIXES)})"
    return None


def list_landing_files(landing_dir: Path) -> tuple[list[LandingFile], list[RefusedName]]:
    """Files in the landing directory that are safe to ingest, and the entries refused.

    Dot-prefixed entries (temp files) are in neither list; `scan_landing` reports them.
    """
    accepted, refused, _ = _list_entries(landing_dir)
    return accepted, refused


def scan_landing(
    landing_dir: Path,
    *,
    grace_seconds: float,
    temp_grace_seconds: float = 3600.0,
    now_ns: int | None = None,
) -> LandingScan:
    """Split the landing directory into files ready to read, files still arriving, and refusals.

    Arriving: temp (dot-prefixed) files, and files modified less than `grace_seconds` ago; temp
    files unmodified for `temp_grace_seconds` are also listed as stale.
    """
    accepted, refused, temp = _list_entries(landing_dir)
    now_ns = time.time_ns() if now_ns is None else now_ns
    limit = now_ns - int(grace_seconds * 1e9)
    stale_limit = now_ns - int(temp_grace_seconds * 1e9)
    ready = [f for f in accepted if f.mtime_ns <= limit]
    arriving = [f for f in accepted if f.mtime_ns > limit]
    stale = frozenset(f.name for f in temp if f.mtime_ns <= stale_limit)
    return LandingScan(ready, [*temp, *arriving], refused, stale)


def _list_entries(
    landing_dir: Path,
) -> tuple[list[LandingFile], list[RefusedName], list[LandingFile]]:
    accepted: list[LandingFile] = []
    refused: list[RefusedName] = []
    temp: list[LandingFile] = []
    if not landing_dir.is_dir():
        return accepted, refused, temp
    root = landing_dir.resolve()
    for entry in sorted(os.scandir(landing_dir), key=lambda e: e.name):
        if entry.name.startswith("."):
            if entry.name.startswith(".tmp-") or not entry.is_file(follow_symlinks=False):
                continue  # the platform's own atomic-write temp files, and directories
            stat = entry.stat(follow_symlinks=False)
            temp.append(LandingFile(entry.name, Path(entry.path), stat.st_size, stat.st_mtime_ns))
            continue
        problem = name_problem(entry.name)
        if problem is None and entry.is_symlink():
            target = Path(entry.path).resolve()
            if root not in target.parents:
                problem = "symbolic link pointing outside the landing zone"
        if problem is None and not entry.is_file():
            problem = "not a regular file"
        if problem is not None:
            refused.append(RefusedName(entry.name, problem))
            continue
        stat = entry.stat()
        accepted.append(LandingFile(entry.name, Path(entry.path), stat.st_size, stat.st_mtime_ns))
    return accepted, refused, temp


def move_aside(file: LandingFile, rejected_dir: Path, error: str) -> Path:
    """Move an unreadable file aside, with its error beside it; returns the new path."""
    rejected_dir.mkdir(parents=True, exist_ok=True)
    target = rejected_dir / file.name
    if target.exists():
        target = rejected_dir / f"{file.path.stem}.{file.mtime_ns}{file.path.suffix}"
    shutil.move(str(file.path), target)
    stat = target.stat()
    record = {
        "file": file.name,
        "size": stat.st_size,
        "mtime_ns": stat.st_mtime_ns,
        "landed_at": file.landed_at.isoformat(),
        "moved_at": datetime.now(UTC).isoformat(),
        "error": clip_text(error),
    }
    target.with_name(target.name + ERROR_SUFFIX).write_text(json.dumps(record, indent=2))
    return target


def restore_changed_rejects(rejected_dir: Path, landing_dir: Path) -> list[str]:
    """Move back into the landing zone every rejected file that changed since it was moved aside.

    A rejected file that a writer finished (or replaced) is examined again rather than stranded.
    Returns the names moved back.
    """
    restored: list[str] = []
    if not rejected_dir.is_dir():
        return restored
    for record_path in sorted(rejected_dir.glob("*" + ERROR_SUFFIX)):
        data = rejected_dir / record_path.name[: -len(ERROR_SUFFIX)]
        try:
            record = json.loads(record_path.read_text())
            stat = data.stat()
        except (OSError, ValueError):
            continue
        if (stat.st_size, stat.st_mtime_ns) == (record.get("size"), record.get("mtime_ns")):
            continue
        target = landing_dir / str(record.get("file", data.name))
        if name_problem(target.name) is not None or target.exists():
            continue
        landing_dir.mkdir(parents=True, exist_ok=True)
        shutil.move(str(data), target)
        record_path.unlink(missing_ok=True)
        restored.append(target.name)
    return restored


def read_file(path: Path) -> pl.DataFrame:
    """Parse one landing file: CSV as text (typing happens later, per value), others as stored.

    A 0-byte file is an empty frame. Nested and binary columns become JSON / hex text, so every
    later step (typing, quarantine records) deals with flat values only; a byte-order mark is
    dropped from the header.
    """
    suffix = path.suffix.lower()
    if path.stat().st_size == 0:
        return pl.DataFrame()
    if suffix == ".csv":
        frame = pl.read_csv(path, infer_schema=False)
    elif suffix == ".parquet":
        frame = pl.read_parquet(path)
    elif suffix in (".jsonl", ".ndjson"):
        frame = pl.read_ndjson(path, infer_schema_length=None)
    else:
        msg = f"unsupported file type {suffix!r}"
        raise ValueError(msg)
    return flatten_values(frame)


def flatten_values(frame: pl.DataFrame) -> pl.DataFrame:
    """Nested (list, array, struct) columns as JSON text, binary as hex; header BOMs removed."""
    renames = {c: c.lstrip("\ufeff") for c in frame.columns if c.startswith("\ufeff")}
    frame = frame.rename(renames) if renames else frame
    exprs = []
    for name, dtype in frame.schema.items():
        if dtype.is_nested():
            wrapped = pl.struct(pl.col(name).alias("v")).struct.json_encode()
            text = wrapped.str.strip_prefix('{"v":').str.strip_suffix("}")
            exprs.append(pl.when(pl.col(name).is_null()).then(None).otherwise(text).alias(name))
        elif dtype == pl.Binary:
            exprs.append(pl.col(name).bin.encode("hex").alias(name))
        elif dtype == pl.Null:
            exprs.append(pl.col(name).cast(pl.String))
    return frame.with_columns(exprs) if exprs else frame


@dataclass(frozen=True)
class ReadOutcome:
    """What became of one file: its rows, or the error that stopped it being read."""

    file: LandingFile
    frame: pl.DataFrame | None
    error: str | None


def _run_reader(
    jobs: list[tuple[int, LandingFile]], out_dir: Path, command: Sequence[str]
) -> tuple[dict[int, str | None], int]:
    """Run one reader process over `jobs`; returns {job id: error or None} for those it reported."""
    request = json.dumps([{"id": i, "path": str(f.path)} for i, f in jobs])
    proc = subprocess.run(
        [*command, str(out_dir)], input=request, capture_output=True, text=True, check=False
    )
    done: dict[int, str | None] = {}
    for line in proc.stdout.splitlines():
        try:
            item = json.loads(line)
        except json.JSONDecodeError:
            continue
        done[int(item["id"])] = item.get("error")
    return done, proc.returncode


def read_files_isolated(
    files: Sequence[LandingFile], *, command: Sequence[str] | None = None
) -> list[ReadOutcome]:
    """Read files in a child process; a file that crashes the child is reported, not fatal.

    All files go to one child first. If it dies, the files it did not report are retried one
    child per file, so the crash is pinned on the file that caused it.
    """
    command = list(command or [sys.executable, "-m", "retrain_platform.core.ingest.file_reader"])
    if not files:
        return []
    jobs = list(enumerate(files))
    with tempfile.TemporaryDirectory(prefix="retrain-read-") as tmp:
        out_dir = Path(tmp)
        done, code = _run_reader(jobs, out_dir, command)
        if code != 0:
            for job in jobs:
                if job[0] in done:
                    continue
                single, single_code = _run_reader([job], out_dir, command)
                done[job[0]] = single.get(job[0], _crash_message(single_code))
        outcomes = []
        for i, file in jobs:
            error = done.get(i, "reader reported nothing for this file")
            frame = None if error else pl.read_ipc(out_dir / f"{i}.arrow")
            outcomes.append(ReadOutcome(file, frame, error))
        return outcomes


def _crash_message(code: int) -> str:
    if code < 0:
        return f"the parser crashed (killed by signal {-code}) while reading this file"
    return f"the parser process exited with status {code} while reading this file"
