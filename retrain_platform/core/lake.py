"""Delta Lake tables partitioned by the platform's partition column.

Writes replace whole partitions in one atomic commit (a predicate overwrite), so re-running a
partition is idempotent and a crash mid-write leaves the previous version in place. Concurrent
writers of other partitions can make a commit fail; it is retried.

Schema evolution: a column the data has and the table does not (a column added to the
contract) is added to the table in the same commit (Delta schema merge); older partitions read
back with nulls in it. A column the table has and the data lacks (removed from the contract),
or a column whose type changed, is refused with a `SchemaEvolutionError` that names the table,
the column and how to proceed, before anything is written.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TypeVar

import polars as pl
import pyarrow as pa
from deltalake import CommitProperties, DeltaTable, Schema, write_deltalake
from deltalake.exceptions import CommitFailedError, TableNotFoundError

from retrain_platform.core.platform_columns import PARTITION

COMMIT_RETRIES = 8
T = TypeVar("T")


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


class SchemaEvolutionError(ValueError):
    """The data cannot be written into the table without dropping or retyping a column."""


def _type_name(delta_type: object) -> str:
    """`double`, `string`, ... for primitive types; the full description for nested ones."""
    name = getattr(delta_type, "type", None)
    return (
        name
        if isinstance(name, str) and name not in ("struct", "array", "map")
        else str(delta_type)
    )


def _schema_change(existing: DeltaTable, data: pa.Schema, uri: str) -> bool:
    """True when `data` adds columns to the table; raises when it drops or retypes one."""
    table = {f.name: _type_name(f.type) for f in existing.schema().fields}
    incoming = {f.name: _type_name(f.type) for f in Schema.from_arrow(data).fields}
    removed = sorted(set(table) - set(incoming))
    if removed:
        msg = (
            f"{uri}: column(s) {', '.join(removed)} are in the table but not in the data (removed "
            "from the contract?). Columns are only ever added: put them back in the contract, or "
            "give the changed dataset a new name (a new table) and backfill it"
        )
        raise SchemaEvolutionError(msg)
    retyped = [f"{c} ({table[c]} -> {incoming[c]})" for c in table if table[c] != incoming[c]]
    if retyped:
        msg = (
            f"{uri}: column(s) {', '.join(retyped)} changed type. A type is never changed in "
            "place: add the column under a new name (and remove the old one from the contract "
            "later, in a new table), or give the changed dataset a new name and backfill it"
        )
        raise SchemaEvolutionError(msg)
    return bool(set(incoming) - set(table))


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

    def commit() -> int:
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
        evolve = _schema_change(existing, data.schema, uri)
        write_deltalake(
            existing,
            data,
            mode="overwrite",
            partition_by=[PARTITION],
            predicate=partition_predicate(partitions, extra_predicate),
            commit_properties=properties,
            schema_mode="merge" if evolve else None,
        )
        return existing.version()

    return with_commit_retries(commit, uri)


def with_commit_retries(commit: Callable[[], T], uri: str) -> T:
    """Run `commit`, again after a short random back-off when a concurrent writer won the race."""
    for attempt in range(COMMIT_RETRIES):
        try:
            return commit()
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
