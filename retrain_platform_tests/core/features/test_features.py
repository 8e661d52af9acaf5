"""Point-in-time features: a slow, obviously correct recomputation agrees with the fast transforms.

The reference walks every event and looks at the entity's other events one by one, so an
off-by-one window edge, a window that sees the event itself, a tie at the same instant or a
label used before it was known would all make it disagree. It runs on the shipped transactions
contract and on a variant with closure "including" and every label feature (`label_lags`,
`last`, event-count label windows); event times sit on a 30 minute grid, so labels become known
exactly at later events' times.
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
from retrain_platform_tests.fixtures.label_views import GRID, label_variants

DAYS = 4


@pytest.fixture(scope="module", params=["shipped", "including_every_label_feature"])
def case(request, contract):
    return contract if request.param == "shipped" else label_variants()["transactions_including_2d"]


@pytest.fixture(scope="module")
def events(case) -> pl.DataFrame:
    contract = case
    frames = []
    for i in range(DAYS):
        day = generate_day(contract, date(2026, 3, 1) + timedelta(days=i), rows=300, seed=5)
        file = LandingFile(f"d{i}.parquet", None, 1, i)  # type: ignore[arg-type]
        frames.append(conform_file(day, file, contract).rows)
    ts, key = contract.timestamp_name, contract.feature_views[0].entity_keys[0]
    rows = pl.concat(frames).with_columns(pl.col(ts).dt.truncate(f"{GRID.seconds // 60}m"))
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


def _summary(function: str, seen: list[dict], column: str) -> object:
    xs = [r[column] for r in seen if r[column] is not None]
    nums = [float(x) for x in xs]
    mean = sum(nums) / len(nums) if nums else None
    if function == "std":
        if len(nums) < 2:
            return None
        return math.sqrt(sum((x - mean) ** 2 for x in nums) / (len(nums) - 1))
    return {
        "count": len(xs),
        "sum": sum(nums),
        "mean": mean,
        "max": max(nums) if nums else None,
        "min": min(nums) if nums else None,
        "last": seen[-1][column] if seen else None,
    }[function]


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
        mine = by_entity[row[key]]
        # aggregates: strictly earlier events ("before") or also those at t ("including")
        window = [r for r in mine if r[ts] < t or (view.closure == "including" and r[ts] == t)]
        # lags and the previous event: always strictly earlier events
        previous = [r for r in mine if t - view.lookback <= r[ts] < t]
        # labels known at t: s + delay <= t and s < t
        known = [r for r in mine if r[ts] < t and r[ts] + delay <= t and r[label] is not None]
        values: dict[str, object] = {}
        for aggregate in view.aggregates:
            for w in aggregate.windows:
                if w.duration is not None:
                    seen = [r for r in window if r[ts] >= t - w.duration]
                else:
                    seen = [r for r in window if r[ts] >= t - view.lookback][-w.events :]
                for function in aggregate.functions:
                    name = f"{aggregate.column}_{function}_{w.suffix}"
                    values[name] = _summary(function, seen, aggregate.column)
        for spec in view.label_aggregates:
            for w in spec.windows:
                labels = [r[label] for r in known if r[ts] >= t - (w.duration or view.lookback)]
                if w.events is not None:
                    labels = labels[-w.events :]
                positives = [1.0 if x == contract.label.positive else 0.0 for x in labels]
                values[f"{label}_count_{w.suffix}"] = len(labels)
                values[f"{label}_rate_{w.suffix}"] = (
                    sum(positives) / len(positives) if positives else None
                )
                values[f"{label}_last_{w.suffix}"] = labels[-1] if labels else None
        reachable = [r[label] for r in known if r[ts] >= t - view.lookback]
        for k in view.label_lags:
            values[f"{label}_lag_{k}"] = reachable[-k] if len(reachable) >= k else None
        for lag in view.lags:
            for k in lag.lags:
                values[f"{lag.column}_lag_{k}"] = (
                    previous[-k][lag.column] if len(previous) >= k else None
                )
        if view.time_since_previous:
            values[view.time_since_previous_name] = (
                (t - previous[-1][ts]).total_seconds() if previous else None
            )
        names = set(view.feature_names(label))
        out[row[contract.primary_key[0]]] = {n: v for n, v in values.items() if n in names}
    return out


def _close(a, b) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, float) or isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    return a == b


def test_features_match_the_slow_reference(events, case):
    contract = case
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


def test_labels_are_used_only_once_known(events, case):
    contract = case
    view = contract.feature_views[0]
    fast = build_features(events, contract, view)
    label_count = next(n for n in view.label_output_names(contract.label_name) if "_count_" in n)
    first_day = fast.filter(pl.col(pc.PARTITION) == "2026-03-01")
    assert first_day.get_column(label_count).max() == 0  # delay 2d: nothing known on day 1
    last_day = fast.filter(pl.col(pc.PARTITION) == "2026-03-04")
    assert last_day.get_column(label_count).max() > 0


def test_one_partition_at_a_time_equals_all_at_once(events, case):
    contract = case
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


def test_encodings_and_combinations(events, case):
    contract = case
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
