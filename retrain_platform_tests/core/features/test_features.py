"""Point-in-time features: a slow, obviously correct recomputation agrees with the fast transforms.

The reference walks every event and looks at the entity's other events one by one, so an
off-by-one window edge, a window that sees the event itself, a tie at the same instant or a
label used before it was known would all make it disagree.
"""

import math
from datetime import date, timedelta

import polars as pl
import pytest

from retrain_platform.core import platform_columns as pc
from retrain_platform.core.features.transforms import build_features
from retrain_platform.core.ingest.landing import LandingFile
from retrain_platform.core.ingest.rows import conform_file
from retrain_platform.core.partitions import history_partitions
from retrain_platform.core.synthetic import generate_day

DAYS = 4


@pytest.fixture(scope="module")
def events(contract) -> pl.DataFrame:
    frames = []
    for i in range(DAYS):
        day = generate_day(contract, date(2026, 3, 1) + timedelta(days=i), rows=300, seed=5)
        file = LandingFile(f"d{i}.parquet", None, 1, i)  # type: ignore[arg-type]
        frames.append(conform_file(day, file, contract).rows)
    rows = pl.concat(frames)
    ts, key = contract.timestamp_name, contract.feature_views[0].entity_keys[0]
    busiest = rows.group_by(key).len().sort("len", descending=True).get_column(key)[0]
    mine = rows.filter(pl.col(key) == busiest).sort(ts)
    # a tie: the busiest entity's 3rd event happens at the same instant as its 2nd
    tie_id = mine.get_column(contract.primary_key[0])[2]
    return rows.with_columns(
        pl.when(pl.col(contract.primary_key[0]) == tie_id)
        .then(mine.get_column(ts)[1])
        .otherwise(pl.col(ts))
        .alias(ts)
    )


def _reference(events: pl.DataFrame, contract, view) -> dict[str, dict[str, object]]:
    ts, label = contract.timestamp_name, contract.label_name
    key = view.entity_keys[0]
    delay = contract.label.delay
    rows = events.sort([key, ts, pc.INGESTED_AT, pc.SOURCE_FILE, pc.SOURCE_ROW]).to_dicts()
    by_entity: dict[object, list[dict]] = {}
    for row in rows:
        by_entity.setdefault(row[key], []).append(row)
    out = {}
    for row in rows:
        t = row[ts]
        earlier = [r for r in by_entity[row[key]] if r[ts] < t]
        recent = [r for r in earlier if r[ts] >= t - view.lookback]
        values: dict[str, object] = {}
        for aggregate in view.aggregates:
            for window in aggregate.windows:
                if window.duration is not None:
                    seen = [r for r in earlier if r[ts] >= t - window.duration]
                else:
                    seen = recent[-window.events :]
                xs = [r[aggregate.column] for r in seen if r[aggregate.column] is not None]
                nums = [float(x) for x in xs]
                for function in aggregate.functions:
                    name = f"{aggregate.column}_{function}_{window.suffix}"
                    mean = sum(nums) / len(nums) if nums else None
                    values[name] = {
                        "count": len(xs),
                        "sum": sum(nums),
                        "mean": mean,
                        "std": (
                            math.sqrt(sum((x - mean) ** 2 for x in nums) / (len(nums) - 1))
                            if len(nums) > 1
                            else None
                        ),
                        "max": max(nums) if nums else None,
                        "min": min(nums) if nums else None,
                        "last": seen[-1][aggregate.column] if seen else None,
                    }[function]
        for spec in view.label_aggregates:
            for window in spec.windows:
                known = [r for r in earlier if r[ts] >= t - window.duration and r[ts] + delay < t]
                positives = [1.0 if r[label] == contract.label.positive else 0.0 for r in known]
                values[f"{label}_count_{window.suffix}"] = len(positives)
                values[f"{label}_rate_{window.suffix}"] = (
                    sum(positives) / len(positives) if positives else None
                )
        for lag in view.lags:
            for k in lag.lags:
                values[f"{lag.column}_lag_{k}"] = (
                    recent[-k][lag.column] if len(recent) >= k else None
                )
        if view.time_since_previous:
            values[view.time_since_previous_name] = (
                (t - recent[-1][ts]).total_seconds() if recent else None
            )
        out[row[contract.primary_key[0]]] = values
    return out


def _close(a, b) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, float) or isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    return a == b


def test_features_match_the_slow_reference(events, contract):
    view = contract.feature_views[0]
    fast = build_features(events, contract, view)
    assert fast.height == events.height
    reference = _reference(events, contract, view)
    ident = contract.primary_key[0]
    mismatches = []
    for row in fast.iter_rows(named=True):
        for name, expected in reference[row[ident]].items():
            if not _close(row[name], expected):
                mismatches.append((row[ident], name, row[name], expected))
    assert mismatches == []


def test_labels_are_used_only_once_known(events, contract):
    view = contract.feature_views[0]
    fast = build_features(events, contract, view)
    label_count = next(n for n in view.label_output_names(contract.label_name) if "_count_" in n)
    first_day = fast.filter(pl.col(pc.PARTITION) == "2026-03-01")
    assert first_day.get_column(label_count).max() == 0  # delay 2d: nothing known on day 1
    last_day = fast.filter(pl.col(pc.PARTITION) == "2026-03-04")
    assert last_day.get_column(label_count).max() > 0


def test_one_partition_at_a_time_equals_all_at_once(events, contract):
    view = contract.feature_views[0]
    whole = build_features(events, contract, view)
    for partition in ("2026-03-02", "2026-03-04"):
        needed = history_partitions(partition, contract.partitioning.grain, view.lookback)
        history = events.filter(pl.col(pc.PARTITION).is_in(needed))
        alone = build_features(history, contract, view, [partition])
        assert alone.equals(whole.filter(pl.col(pc.PARTITION) == partition))


def test_history_partitions_cover_the_lookback():
    assert history_partitions("2026-03-04", "daily", timedelta(days=2)) == [
        "2026-03-02",
        "2026-03-03",
        "2026-03-04",
    ]
    assert history_partitions("2026-03-01", "monthly", timedelta(days=31)) == [
        "2026-01-01",
        "2026-02-01",
        "2026-03-01",
    ]


def test_encodings_and_combinations(events, contract):
    view = contract.feature_views[0]
    fast = build_features(events, contract, view)
    for encoding in view.encodings:
        if encoding.kind == "one_hot":
            total = pl.sum_horizontal([pl.col(n) for n in encoding.output_names()])
            assert fast.select(total.min()).item() == 1 == fast.select(total.max()).item()
        else:
            codes = fast.get_column(encoding.output_names()[0])
            assert codes.null_count() == 0 and codes.max() < len(encoding.categories)
    for combo in view.combinations:
        left, right = fast.get_column(combo.left), fast.get_column(combo.right)
        expected = left / right if combo.kind == "ratio" else left - right
        got = fast.get_column(combo.name)
        ok = ((got - expected).abs() < 1e-9) | (got.is_null() & (expected.is_null() | (right == 0)))
        assert ok.all()
