"""Writing one day of features (~30k entities x 47 features) into Feast's sqlite online store.

Three ways, each into its own fresh platform home with the same applied Feast objects:

- feast_materialize: `FeatureStore.materialize` over the day (reads the Delta source itself);
- feast_write_to_online_store: `FeatureStore.write_to_online_store` with each entity's newest row;
- platform_fast_writer: `retrain_platform.core.online_store.write_online` (via FeastResource), into
  the empty table and again over the same rows (every cell replaced: the update path).

Then the three stores must give the same `get_online_features` answer for a sample of entities.
Run with `python -m benchmarks.online_store [entities]`. No assertion on time.
"""

from __future__ import annotations

import math
import os
import platform
import sys
import tempfile
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import polars as pl

from retrain_platform.contracts import DEFAULT_CONTRACT_PATH, load_contract
from retrain_platform.contracts.feast_objects import (
    feast_source_uri,
    feature_service_name,
    feature_view_name,
    features_table_uri,
)
from retrain_platform.core.feature_layer import write_parquet_mirror
from retrain_platform.core.features import build_features
from retrain_platform.core.ingest import conform_file
from retrain_platform.core.lake import overwrite_partitions
from retrain_platform.core.landing import LandingFile
from retrain_platform.core.online_store import newest_rows
from retrain_platform.core.synthetic import generate_day
from retrain_platform.feature_store import FeastResource

DAY = date(2026, 3, 1)
SEED = 3
ENTITIES = 30_000
SAMPLE = 500


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


def timed(fn) -> tuple[float, object]:  # noqa: ANN001
    started = time.perf_counter()
    result = fn()
    return time.perf_counter() - started, result


def same(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    return a == b


def main(entities: int = ENTITIES) -> None:
    frame, contract, view = day_of_features(entities)
    key = view.entity_keys[0]
    features = view.feature_names(contract.label_name)
    print(
        f"{frame.height} rows, {frame[key].n_unique()} entities, {len(features)} features "
        f"= {frame.height * len(features)} online rows; python {platform.python_version()}, "
        f"{os.cpu_count()} cpus"
    )
    with tempfile.TemporaryDirectory() as tmp:
        lake = str(Path(tmp) / "lake")
        partitions = frame["_partition"].unique().to_list()
        overwrite_partitions(features_table_uri(lake, contract, view), frame, partitions)
        write_parquet_mirror(frame, partitions, feast_source_uri(lake, contract, view))
        homes = {
            name: FeastResource(home=str(Path(tmp) / name))
            for name in ("materialize", "write_to_online_store", "fast")
        }
        for resource in homes.values():
            resource.apply(contract, lake)
        newest = newest_rows(frame, list(view.entity_keys), contract.timestamp_name)
        start = datetime.combine(DAY, datetime.min.time(), tzinfo=timezone.utc)

        results: dict[str, float] = {}
        store = homes["materialize"].store()
        results["feast_materialize"], _ = timed(
            lambda: store.materialize(
                start_date=start,
                end_date=start + timedelta(days=1),
                feature_views=[feature_view_name(contract, view)],
            )
        )
        store = homes["write_to_online_store"].store()
        pandas_frame = newest.to_pandas()
        results["feast_write_to_online_store"], _ = timed(
            lambda: store.write_to_online_store(feature_view_name(contract, view), pandas_frame)
        )
        fast = homes["fast"]
        results["platform_fast_writer (empty table)"], stats = timed(
            lambda: fast.write_online(contract, view, frame)
        )
        results["platform_fast_writer (update)"], stats2 = timed(
            lambda: fast.write_online(contract, view, frame)
        )

        base = results["feast_materialize"]
        print("\n| method | seconds | vs materialize |\n|---|---:|---:|")
        for name, seconds in results.items():
            print(f"| {name} | {seconds:.2f} | {base / seconds:.1f}x |")
        print(f"\nfast writer phases (empty table): {stats['timings']}")
        print(f"fast writer phases (update): {stats2['timings']}")

        sample = newest.select(key).sample(min(SAMPLE, newest.height), seed=SEED)
        entity_rows = [{key: v} for v in sample[key].to_list()]
        answers = {
            name: r.online_features(contract, view, entity_rows) for name, r in homes.items()
        }
        reference = answers["materialize"]
        service = feature_service_name(contract, view)
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
    main(int(sys.argv[1]) if len(sys.argv) > 1 else ENTITIES)
