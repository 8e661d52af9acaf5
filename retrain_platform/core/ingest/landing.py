"""The landing zone: which files are there, which are safe to touch, and reading them safely.

A landing file is identified by its name, size and modification time (its fingerprint). Names are
checked before anything uses them: a hostile name (path separators, `..`, control characters, very
long) is refused, never turned into a path or a partition key. Files are parsed in a separate
process, because a corrupt file can abort the parser and must not take the run down with it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

SUPPORTED_SUFFIXES = (".parquet", ".csv", ".jsonl", ".ndjson")
MAX_NAME_LENGTH = 128
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
    """Files in the landing directory that are safe to ingest, and the entries refused."""
    accepted: list[LandingFile] = []
    refused: list[RefusedName] = []
    if not landing_dir.is_dir():
        return accepted, refused
    root = landing_dir.resolve()
    for entry in sorted(os.scandir(landing_dir), key=lambda e: e.name):
        if entry.name.startswith("."):
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
    return accepted, refused


def move_aside(file: LandingFile, rejected_dir: Path, error: str) -> Path:
    """Move an unreadable file aside, with its error beside it; returns the new path."""
    rejected_dir.mkdir(parents=True, exist_ok=True)
    target = rejected_dir / file.name
    if target.exists():
        target = rejected_dir / f"{file.path.stem}.{file.mtime_ns}{file.path.suffix}"
    shutil.move(str(file.path), target)
    record = {
        "file": file.name,
        "size": file.size,
        "landed_at": file.landed_at.isoformat(),
        "moved_at": datetime.now(UTC).isoformat(),
        "error": error,
    }
    target.with_name(target.name + ".error.json").write_text(json.dumps(record, indent=2))
    return target


def read_file(path: Path) -> pl.DataFrame:
    """Parse one landing file: CSV as text (typing happens later, per value), others as stored."""
    suffix = path.suffix.lower()
    if path.stat().st_size == 0:
        msg = "empty file (0 bytes)"
        raise ValueError(msg)
    if suffix == ".csv":
        return pl.read_csv(path, infer_schema=False)
    if suffix == ".parquet":
        return pl.read_parquet(path)
    if suffix in (".jsonl", ".ndjson"):
        return pl.read_ndjson(path, infer_schema_length=None)
    msg = f"unsupported file type {suffix!r}"
    raise ValueError(msg)


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
