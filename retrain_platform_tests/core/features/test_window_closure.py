"""What each window closure includes, on five half-hourly events (the README's worked table).

Events at 10:00, 10:30, ... 12:00 with prices 1..5 and labels 1, 0, 0, 1, 1, known 30 minutes
(or 1 hour) after each event. Aggregates hold the event itself only with closure "including";
lags, the time since the previous event and every label feature are the same under both
closures: lags are always the k-th previous event, and a label counts once event time + delay
has come (the previous event's label, with a 30 minute delay).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from retrain_platform.core.features.transforms import build_features
from retrain_platform_tests.fixtures.keyless import keyless_contract, keyless_rows
from retrain_platform_tests.fixtures.label_views import KEYLESS_PATH, contract_variant

PRICES = [1.0, 2.0, 3.0, 4.0, 5.0]
LABELS = [1, 0, 0, 1, 1]
START = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)

# closure-independent: the previous events, and the labels known at each event (delay 30m)
SAME_UNDER_BOTH = {
    "price_lag_1": [None, 1.0, 2.0, 3.0, 4.0],
    "seconds_since_previous": [None, 1800.0, 1800.0, 1800.0, 1800.0],
    "up_lag_1": [None, 1, 0, 0, 1],
    "up_lag_2": [None, None, 1, 0, 0],
    "up_last_1ev": [None, 1, 0, 0, 1],
    "up_rate_1ev": [None, 1.0, 0.0, 0.0, 1.0],
    "up_count_1ev": [0, 1, 1, 1, 1],
    "up_rate_2h": [None, 1.0, 0.5, 1 / 3, 0.5],
}
MEAN_OF_TWO = {
    "before": [None, 1.0, 1.5, 2.5, 3.5],  # the two previous events
    "including": [1.0, 1.5, 2.5, 3.5, 4.5],  # the event itself and the previous one
}


def _contract(closure: str, delay: str):
    def edit(raw):
        raw["label"]["delay"] = delay
        raw["feature_views"] = [
            {
                "name": "worked",
                "window_closure": closure,
                "aggregates": [{"column": "price", "functions": ["mean"], "windows": ["2 events"]}],
                "lags": [{"column": "price", "lags": [1]}],
                "time_since_previous": True,
                "label_aggregates": [
                    {"functions": ["count", "rate", "last"], "windows": ["1 events"]},
                    {"functions": ["rate"], "windows": ["2h"]},
                ],
                "label_lags": [1, 2],
                "lookback": "1d",
            }
        ]

    return contract_variant(KEYLESS_PATH, f"worked_{closure}_{delay}", edit)


def _five_events(contract) -> pl.DataFrame:
    rows = keyless_rows(keyless_contract(), 1).head(len(PRICES))
    return rows.with_columns(
        pl.Series(contract.timestamp_name, [START + timedelta(minutes=30 * i) for i in range(5)]),
        pl.Series("price", PRICES),
        pl.Series(contract.label_name, LABELS, dtype=pl.Int8),
    )


@pytest.mark.parametrize("closure", ["before", "including"])
def test_aggregates_follow_the_closure_and_lags_never_do(closure):
    contract = _contract(closure, "30m")
    features = build_features(_five_events(contract), contract, contract.view("worked"))
    assert features.get_column("price_mean_2ev").to_list() == MEAN_OF_TWO[closure]
    for name, expected in SAME_UNDER_BOTH.items():
        assert features.get_column(name).to_list() == pytest.approx(expected), name
    assert features.schema["up_lag_1"] == features.schema["up_last_1ev"] == pl.Int8


@pytest.mark.parametrize("closure", ["before", "including"])
def test_a_longer_delay_moves_the_previous_label_back(closure):
    contract = _contract(closure, "1h")
    features = build_features(_five_events(contract), contract, contract.view("worked"))
    assert features.get_column("up_lag_1").to_list() == [None, None, 1, 0, 0]
    assert features.get_column("up_count_1ev").to_list() == [0, 0, 1, 1, 1]
