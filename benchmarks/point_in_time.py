"""Point-in-time training-set joins: the platform's polars as-of join against Feast's retrieval.

For 100k and 1M label events against a ~1M-row features table (the default contract's view over
synthetic days), times the default path (`core.point_in_time.asof_join`) and Feast's historical
retrieval through the same wrapper the training set uses (`feast_join`, which keeps the label rows
Feast's file store drops), checks the two frames are identical, and prints a table.
Run with `python -m benchmarks.point_in_time [days]`. No assertion on time.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import polars as pl
from polars.testing import assert_frame_equal

from retrain_platform.contracts import DEFAULT_CONTRACT_PATH, load_contract
from retrain_platform.core.datasets.point_in_time import asof_join, feast_join, label_columns
from retrain_platform.core.feature_store.feast_objects import feast_source_uri
from retrain_platform.core.features.layer import write_parquet_mirror
from retrain_platform.core.features.transforms import build_features, feature_columns
from retrain_platform.core.ingest.landing import LandingFile
from retrain_platform.core.ingest.rows import conform_file
from retrain_platform.core.synthetic import generate_day
from retrain_platform.resources.feast import FeastResource

START = date(2026, 2, 1)
ROWS_PER_DAY = 20_000
ENTITIES = 100_000


def features_table(contract, view, days: int) -> pl.DataFrame:
    rows = pl.concat(
        [
            conform_file(
                generate_day(contract, START + timedelta(days=i), rows=ROWS_PER_DAY, seed=9),
                LandingFile(f"d{i}.parquet", None, 1, i),
                contract,
            ).rows  # type: ignore[arg-type]
            for i in range(days)
        ]
    )
    features = build_features(rows, contract, view)
    key = view.entity_keys[0]
    spread = (pl.int_range(pl.len()) % ENTITIES).cast(features.schema[key])
    return features.with_columns(spread.alias(key))


def labels_for(features: pl.DataFrame, contract, n: int) -> pl.DataFrame:
    """`n` label events one second after sampled feature rows (with replacement above the size)."""
    ts, label = contract.timestamp_name, contract.label_name
    carried = [c for c in label_columns(contract) if c != label]
    sample = features.select(carried).sample(n, with_replacement=n > features.height, seed=2)
    return sample.with_columns(
        pl.col(ts) + pl.duration(seconds=1),
        (pl.int_range(pl.len()) % 16 == 0).cast(pl.Int8).alias(label),
    )


def timed(fn):  # noqa: ANN001, ANN201 - benchmark helper
    started = time.perf_counter()
    result = fn()
    return time.perf_counter() - started, result


def main(argv: list[str]) -> int:
    days = int(argv[1]) if len(argv) > 1 else 50
    contract = load_contract(DEFAULT_CONTRACT_PATH)
    view = contract.feature_views[0]
    print(f"python={sys.version.split()[0]} cpu_count={os.cpu_count()} polars={pl.__version__}")
    seconds, features = timed(lambda: features_table(contract, view, days))
    print(
        f"features table: {features.height:,} rows x {len(view.feature_names(contract.label_name))}"
        f" features, built in {seconds:.1f} s"
    )
    schema = feature_columns(contract, view)
    with tempfile.TemporaryDirectory() as tmp:
        lake = str(Path(tmp) / "lake")
        partitions = features.get_column("_partition").unique().to_list()
        write_parquet_mirror(features, partitions, feast_source_uri(lake, contract, view))
        feast = FeastResource(home=tmp)
        feast.apply(contract, lake)
        rows = []
        for n in (100_000, 1_000_000):
            labels = labels_for(features, contract, n)
            fast_s, fast = timed(lambda labels=labels: asof_join(labels, features, contract, view))
            feast_s, through_feast = timed(
                lambda labels=labels: feast_join(
                    labels,
                    contract,
                    view,
                    lambda entity_df: feast.historical_features(contract, view, entity_df),
                    schema,
                )
            )
            assert_frame_equal(fast, through_feast, check_exact=True)
            rows.append(
                {
                    "labels": n,
                    "polars_asof_s": round(fast_s, 2),
                    "feast_s": round(feast_s, 2),
                    "feast_vs_polars": round(feast_s / fast_s, 1),
                    "rows_kept": f"{fast.height:,}/{labels.height:,}",
                    "identical": True,
                }
            )
    with pl.Config(tbl_hide_dataframe_shape=True, tbl_hide_column_data_types=True):
        print(pl.DataFrame(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
