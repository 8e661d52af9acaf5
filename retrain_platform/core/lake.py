"""Delta Lake tables partitioned by the platform's partition column.

Writes replace whole partitions in one atomic commit (a predicate overwrite), so re-running a
partition is idempotent and a crash mid-write leaves the previous version in place. Concurrent
writers of other partitions can make a commit fail; it is retried.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterable, Mapping
from pathlib import Path

import polars as pl
from deltalake import CommitProperties, DeltaTable, write_deltalake
from deltalake.exceptions import CommitFailedError, TableNotFoundError

from retrain_platform.core.platform_columns import PARTITION

COMMIT_RETRIES = 8


def table_uri(root: str, layer: str, dataset: str) -> str:
    """Where a layer's table lives: `{root}/{layer}/{dataset}` (the asset key is the path)."""
    return f"{root.rstrip('/')}/{layer}/{dataset}"


def _sql_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def partition_predicate(partitions: Iterable[str], extra: Mapping[str, str] | None = None) -> str:
    """SQL predicate selecting the given partitions (and optional equality filters)."""
    keys = sorted(set(partitions))
    clause = f"{PARTITION} IN ({', '.join(_sql_literal(k) for k in keys)})"
    for column, value in (extra or {}).items():
        clause += f" AND {column} = {_sql_literal(value)}"
    return clause


def table_exists(uri: str, storage_options: Mapping[str, str] | None = None) -> bool:
    return _open(uri, dict(storage_options or {})) is not None


def overwrite_partitions(
    uri: str,
    frame: pl.DataFrame,
    partitions: Iterable[str],
    *,
    storage_options: Mapping[str, str] | None = None,
    extra_predicate: Mapping[str, str] | None = None,
    commit_metadata: Mapping[str, str] | None = None,
) -> int:
    """Replace the given partitions with `frame` in one commit; returns the new table version.

    Partitions in `partitions` with no rows in `frame` end up empty, so a re-run that finds fewer
    rows leaves no stale ones behind.
    """
    partitions = sorted(set(partitions))
    stray = set(frame.get_column(PARTITION).unique().to_list()) - set(partitions)
    if stray:
        msg = f"{uri}: rows for partitions {sorted(stray)} outside the ones being written"
        raise ValueError(msg)
    options = dict(storage_options or {})
    properties = CommitProperties(custom_metadata=dict(commit_metadata or {}))
    if uri.startswith("/") or "://" not in uri:
        Path(uri).parent.mkdir(parents=True, exist_ok=True)
    data = frame.to_arrow()
    for attempt in range(COMMIT_RETRIES):
        try:
            # Creating the table as its own commit makes every data write a predicate overwrite:
            # two first writers of one partition then conflict (and retry) instead of both
            # committing blind overwrites whose rows would end up side by side.
            existing = _open(uri, options) or DeltaTable.create(
                uri,
                data.schema,
                mode="ignore",
                partition_by=[PARTITION],
                storage_options=options,
            )
            write_deltalake(
                existing,
                data,
                mode="overwrite",
                partition_by=[PARTITION],
                predicate=partition_predicate(partitions, extra_predicate),
                commit_properties=properties,
            )
            return existing.version()
        except CommitFailedError:
            if attempt == COMMIT_RETRIES - 1:
                raise
            time.sleep(min(2.0, 0.05 * 2**attempt) * (1 + random.random()))
    msg = f"{uri}: no commit after {COMMIT_RETRIES} attempts"
    raise CommitFailedError(msg)


def _open(uri: str, options: dict[str, str]) -> DeltaTable | None:
    try:
        return DeltaTable(uri, storage_options=options)
    except TableNotFoundError:
        return None


def read_partitions(
    uri: str,
    partitions: Iterable[str] | None = None,
    *,
    storage_options: Mapping[str, str] | None = None,
    version: int | None = None,
) -> pl.DataFrame:
    """Read the given partitions (all when None) of a Delta table."""
    scan = pl.scan_delta(uri, version=version, storage_options=dict(storage_options or {}))
    if partitions is not None:
        scan = scan.filter(pl.col(PARTITION).is_in(sorted(set(partitions))))
    return scan.collect()


def table_version(uri: str, storage_options: Mapping[str, str] | None = None) -> int | None:
    """Current version of a table, None when it does not exist yet."""
    try:
        return DeltaTable(uri, storage_options=dict(storage_options or {})).version()
    except TableNotFoundError:
        return None
