"""Writing one day of features (~30k entities x 47 features) into Feast's sqlite online store.

Feast's sqlite layout has one row per entity and feature (~1.41M rows for 30k x 47), each in the
table b-tree, its primary-key index and the `_ek` index. Each way runs into its own fresh platform
home with the same applied Feast objects:

- feast_materialize: `FeatureStore.materialize` over the day (reads the Parquet source itself);
- feast_write_to_online_store: `FeatureStore.write_to_online_store` with each entity's newest row;
- platform writer (`retrain_platform.core.feature_store.online_sqlite.write_online`, via
  FeastResource), in three
  cases, each repeated: into the empty table; a re-run of the same rows (every cell unchanged, so
  nothing is rewritten); the next day (event time one day later: every cell rewritten, the daily
  case). Split into encode (newest rows, entity keys, value bytes and texts, packing) and write
  (temp-table load, older-row check, the one upsert statement and commit).
- floor: the identical rows (read back from the written table) put into a fresh table of Feast's
  shape by a raw `executemany` INSERT (Python binding per row), and by `INSERT ... SELECT` from an
  in-memory copy (sqlite's b-tree work alone, nothing bound), into the empty table and as the
  next day's upsert over every row (event time one day later, so every row is rewritten).

Then the stores must give the same `get_online_features` answer for a sample of entities.
Run with `python -m benchmarks.online_store [entities] [--repeats N] [--skip-feast]`
(e.g. `200 --repeats 1` as a smoke run). No assertion on time.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import polars as pl

from retrain_platform.contracts import DEFAULT_CONTRACT_PATH, load_contract
from retrain_platform.core.feature_store.feast_objects import (
    feast_source_uri,
    feature_service_name,
    feature_view_name,
    features_table_uri,
)
from retrain_platform.core.feature_store.online_sqlite import OnlineTable, create_table, newest_rows
from retrain_platform.core.features.layer import write_parquet_mirror
from retrain_platform.core.features.transforms import build_features
from retrain_platform.core.ingest.landing import LandingFile
from retrain_platform.core.ingest.rows import conform_file
from retrain_platform.core.lake import overwrite_partitions
from retrain_platform.core.synthetic import generate_day
from retrain_platform.resources.feast import FeastResource

DAY = date(2026, 3, 1)
SEED = 3
ENTITIES = 30_000
SAMPLE = 500
REPEATS = 3


def day_of_features(entities: int) -> tuple[pl.DataFrame, object, object]:
    """One day of features with `entities` distinct entities (one row each)."""
    contract = load_contract(DEFAULT_CONTRACT_PATH)
    view = contract.feature_views[0]
    raw = generate_day(contract, DAY, rows=entities, seed=SEED)
    rows = conform_file(raw, LandingFile("bench.parquet", None, 1, 0), contract).rows
    frame = build_features(rows, contract, view)
    # The synthetic source draws from a pool of a few thousand cards: give every row its own.
    key = view.entity_keys[0]
    ids = pl.int_range(1, frame.height + 1, dtype=frame.schema[key])
    frame = frame.with_columns(ids.alias(key))
    return frame, contract, view


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    started = time.perf_counter()
    result = fn()
    return time.perf_counter() - started, result


def same(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    return a == b


def writer_case(stats: dict) -> dict[str, float]:
    """Encode / write / total seconds of one `write_online` call, from its timings."""
    timings = stats["timings"]
    encode = timings.get("keys", 0.0) + timings.get("encode", 0.0)
    return {
        "encode": encode,
        "write": stats["seconds"] - encode,
        "total": stats["seconds"],
        "cells": stats["cells_written"],
        "load": timings.get("load", 0.0),
        "check": timings.get("check", 0.0),
        "upsert": timings.get("upsert", 0.0),
    }


def floors(table: OnlineTable, directory: Path) -> dict[str, float]:
    """Seconds to put the rows `table` holds into a fresh table of Feast's shape, by plain
    sqlite: the rows are read back first (not timed)."""
    with sqlite3.connect(table.db_path) as source:
        rows = source.execute(
            f'SELECT entity_key, feature_name, value, value_text, event_ts FROM "{table.name}" '
            "ORDER BY entity_key, feature_name"
        ).fetchall()
    insert = (
        'INSERT INTO "t" (entity_key, feature_name, value, value_text, event_ts, '
        "created_ts) VALUES (?, ?, ?, ?, ?, NULL)"
    )
    select = (
        'INSERT INTO "t" (entity_key, feature_name, value, value_text, event_ts, '
        "created_ts) SELECT a, b, c, d, e, NULL FROM m.rows WHERE true"
    )
    next_day = select.replace("SELECT a, b, c, d, e,", "SELECT a, b, c, d, e + 86400,")
    upsert = (
        next_day + " ON CONFLICT(entity_key, feature_name) DO UPDATE SET "
        "value = excluded.value, value_text = excluded.value_text, "
        "event_ts = excluded.event_ts, created_ts = excluded.created_ts"
    )
    out: dict[str, float] = {}
    for name, statements in (
        ("executemany INSERT, empty table", [insert]),
        ("INSERT ... SELECT, empty table", [select]),
        ("INSERT ... SELECT upsert, next day over every row", [select, upsert]),
    ):
        path = directory / f"floor_{len(out)}.db"
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute("PRAGMA cache_size = -65536")
        create_table(conn, "t")
        conn.execute("ATTACH ':memory:' AS m")
        conn.execute("CREATE TABLE m.rows (a, b, c, d, e)")
        conn.executemany("INSERT INTO m.rows VALUES (?, ?, ?, ?, ?)", rows)
        for k, statement in enumerate(statements):
            started = time.perf_counter()
            conn.execute("BEGIN")
            if statement is insert:
                conn.executemany(statement, rows)
            else:
                conn.execute(statement)
            conn.execute("COMMIT")
            if k == len(statements) - 1:
                out[name] = time.perf_counter() - started
        conn.close()
        path.unlink()
    return out


def spread(values: list[float]) -> str:
    return f"{min(values):.2f} / {statistics.median(values):.2f}"


def main(entities: int = ENTITIES, repeats: int = REPEATS, skip_feast: bool = False) -> None:
    frame, contract, view = day_of_features(entities)
    key = view.entity_keys[0]
    features = view.feature_names(contract.label_name)
    cells = frame[key].n_unique() * len(features)
    print(
        f"{frame.height} rows, {frame[key].n_unique()} entities, {len(features)} features "
        f"= {cells} online rows; python {platform.python_version()}, sqlite "
        f"{sqlite3.sqlite_version}, {os.cpu_count()} cpus, load average "
        f"{os.getloadavg()[0]:.2f}; min / median of {repeats} runs"
    )
    with tempfile.TemporaryDirectory() as tmp:
        lake = str(Path(tmp) / "lake")
        partitions = frame["_partition"].unique().to_list()
        overwrite_partitions(features_table_uri(lake, contract, view), frame, partitions)
        write_parquet_mirror(frame, partitions, feast_source_uri(lake, contract, view))
        names = ["fast"] if skip_feast else ["materialize", "write_to_online_store", "fast"]
        homes = {name: FeastResource(home=str(Path(tmp) / name)) for name in names}
        for resource in homes.values():
            resource.apply(contract, lake)
        newest = newest_rows(frame, list(view.entity_keys), contract.timestamp_name)
        start = datetime.combine(DAY, datetime.min.time(), tzinfo=timezone.utc)

        feast: dict[str, float] = {}
        if not skip_feast:
            store = homes["materialize"].store()
            feast["feast_materialize"], _ = timed(
                lambda: store.materialize(
                    start_date=start,
                    end_date=start + timedelta(days=1),
                    feature_views=[feature_view_name(contract, view)],
                )
            )
            store = homes["write_to_online_store"].store()
            pandas_frame = newest.to_pandas()
            feast["feast_write_to_online_store"], _ = timed(
                lambda: store.write_to_online_store(feature_view_name(contract, view), pandas_frame)
            )

        fast = homes["fast"]
        table = fast.online_table(contract, view)
        next_day = frame.with_columns(pl.col(contract.timestamp_name) + timedelta(days=1))
        cases: dict[str, list[dict[str, float]]] = {
            "writer: empty table": [],
            "writer: re-run, unchanged": [],
            "writer: next day, all rewritten": [],
        }
        for run in range(repeats):
            if run:
                Path(table.db_path).unlink()
            cases["writer: empty table"].append(
                writer_case(fast.write_online(contract, view, frame))
            )
            cases["writer: re-run, unchanged"].append(
                writer_case(fast.write_online(contract, view, frame))
            )
            cases["writer: next day, all rewritten"].append(
                writer_case(fast.write_online(contract, view, next_day))
            )
        floor_runs = [floors(table, Path(tmp)) for _ in range(repeats)]

        print(
            "\n| method | encode s | write s | total s | cells written | cells/s (median) "
            "| vs materialize | vs write_to_online_store |\n"
            "|---|---:|---:|---:|---:|---:|---:|---:|"
        )

        def ratios(seconds: float) -> str:
            parts = [
                f"{feast[name] / seconds:.1f}x" if name in feast else "-"
                for name in ("feast_materialize", "feast_write_to_online_store")
            ]
            return " | ".join(parts)

        for name, seconds in feast.items():
            print(
                f"| {name} | - | - | {seconds:.2f} | {cells} | {cells / seconds:,.0f} | "
                f"{ratios(seconds)} |"
            )
        for name, runs in cases.items():
            totals = [r["total"] for r in runs]
            median = statistics.median(totals)
            print(
                f"| {name} | {spread([r['encode'] for r in runs])} | "
                f"{spread([r['write'] for r in runs])} | {spread(totals)} | "
                f"{int(runs[0]['cells'])} | {cells / median:,.0f} | {ratios(median)} |"
            )
        for name in floor_runs[0]:
            seconds = [f[name] for f in floor_runs]
            median = statistics.median(seconds)
            print(
                f"| floor: {name} | - | {spread(seconds)} | {spread(seconds)} | {cells} | "
                f"{cells / median:,.0f} | {ratios(median)} |"
            )
        print("\nwriter phases, median s (write = load + check + upsert; upsert includes commit):")
        for name, runs in cases.items():
            phases = {p: statistics.median(r[p] for r in runs) for p in ("load", "check", "upsert")}
            print(f"  {name}: " + ", ".join(f"{p} {v:.3f}" for p, v in phases.items()))

        cases_frame = newest
        sample = cases_frame.select(key).sample(min(SAMPLE, cases_frame.height), seed=SEED)
        entity_rows = [{key: v} for v in sample[key].to_list()]
        if not skip_feast:
            fresh = FeastResource(home=str(Path(tmp) / "fast_check"))
            fresh.apply(contract, lake)
            fresh.write_online(contract, view, frame)
            homes = {**homes, "fast": fresh}
        answers = {
            name: r.online_features(contract, view, entity_rows) for name, r in homes.items()
        }
        reference = answers[names[0]]
        service = feature_service_name(contract, view)
        print()
        for name, answer in answers.items():
            mismatches = sum(
                not same(a, b)
                for column in reference
                for a, b in zip(reference[column], answer[column], strict=True)
            )
            print(
                f"{name}: {len(entity_rows)} entities via {service}: "
                f"{'identical' if mismatches == 0 else f'{mismatches} cells differ'}"
            )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("entities", nargs="?", type=int, default=ENTITIES)
    parser.add_argument("--repeats", type=int, default=REPEATS)
    parser.add_argument("--skip-feast", action="store_true")
    args = parser.parse_args()
    main(args.entities, args.repeats, args.skip_feast)
