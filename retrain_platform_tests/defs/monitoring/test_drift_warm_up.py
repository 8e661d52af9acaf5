"""Windowed features at the start of a history: left out of drift instead of reading as drift.

Real synthetic histories turned into the contract's point-in-time features. The reference is a
month and more into the history (full windows); the partitions checked are the history's first
days, where 30-day counts have seen a few days at most. No Dagster, no lake.
"""

from datetime import UTC, date, datetime, timedelta

import polars as pl
import pytest

from retrain_platform.core import platform_columns as pc
from retrain_platform.core.features.transforms import build_features
from retrain_platform.core.ingest.landing import LandingFile
from retrain_platform.core.ingest.rows import conform_file
from retrain_platform.core.models.inputs import model_feature_names
from retrain_platform.core.monitoring.drift import (
    build_reference_profile,
    complete_from,
    drift_summary,
    feature_reach,
    reaching_gaps,
    warming_up,
)
from retrain_platform.core.monitoring.drift_profile import drift_columns
from retrain_platform.core.monitoring.triggers import (
    DriftObservation,
    TriggerPolicy,
    TriggerState,
    decide,
)
from retrain_platform.core.synthetic import DriftSpec, generate_day
from retrain_platform_tests.fixtures.label_views import every_contract

START = date(2026, 2, 1)
DAYS = 36
ROWS = 4000  # enough events per card and hour for the sparse 1-hour features to be stable
EARLY = START + timedelta(days=1)  # the second partition of the history
HISTORY_START = datetime(START.year, START.month, START.day, tzinfo=UTC)


def history(contract, drift: DriftSpec | None = None) -> pl.DataFrame:
    frames = []
    for i in range(DAYS):
        day = generate_day(contract, START + timedelta(days=i), rows=ROWS, seed=31, drift=drift)
        file = LandingFile(f"d{i}.parquet", None, 1, i)  # type: ignore[arg-type]
        frames.append(conform_file(day, file, contract).rows)
    validated = pl.concat(frames)
    return build_features(validated, contract, contract.feature_views[0])


@pytest.fixture(scope="module")
def setup(contract):
    view = contract.feature_views[0]
    features = model_feature_names(contract, view)
    reach = {n: s for n, s in feature_reach(contract, view).items() if n in features}
    stationary = history(contract)
    reference = stationary.filter(pl.col(pc.PARTITION) >= (START + timedelta(days=31)).isoformat())
    numeric, categorical = drift_columns(reference.schema, features)
    profile = build_reference_profile(reference, numeric, categorical, row_cap=50_000, seed=0)
    return {"reach": reach, "stationary": stationary, "profile": profile}


def at(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def summarise(contract, frame: pl.DataFrame, profile, warm=None, day: date = EARLY):
    current = frame.filter(pl.col(pc.PARTITION) == day.isoformat())
    return drift_summary(
        current,
        profile,
        row_cap=50_000,
        seed=0,
        psi_threshold=contract.policy.drift_psi_threshold,
        ks_threshold=contract.policy.drift_ks_threshold,
        warming_up=warm,
    )


def test_reach_follows_the_declared_windows(contract):
    view = contract.feature_views[0]
    reach = feature_reach(contract, view)
    assert set(model_feature_names(contract, view)) <= set(reach)
    assert reach["amount"] == timedelta(0) and reach["channel__pos"] == timedelta(0)
    assert reach["amount_count_30d"] == timedelta(days=30)
    assert reach["is_fraud_count_30d"] == timedelta(days=30)
    assert reach["amount_mean_7d"] == reach["amount_to_mean_7d"] == timedelta(days=7)
    assert reach["amount_lag_1"] == reach["amount_mean_5ev"] == view.lookback


def test_stationary_history_at_its_start_does_not_trigger_drift(contract, setup):
    naive = summarise(contract, setup["stationary"], setup["profile"])
    # what the rule is for: without it, the short windows read as drift
    assert naive.max_psi > contract.policy.drift_psi_threshold
    assert setup["reach"][naive.max_psi_feature] > timedelta(0)

    early = at(EARLY)
    warm = warming_up(setup["reach"], HISTORY_START, early)
    assert {"amount_count_30d", "is_fraud_count_30d", "amount_mean_7d"} <= set(warm)
    assert "amount" not in warm and "amount_count_1h" not in warm  # 1 hour < 1 day of history
    assert warm["amount_count_30d"] == HISTORY_START + timedelta(days=30)

    observations = []
    for day in (START + timedelta(days=i) for i in range(4)):
        warm = warming_up(setup["reach"], HISTORY_START, at(day))
        summary = summarise(contract, setup["stationary"], setup["profile"], warm, day)
        assert summary.excluded_features == sorted(warm)
        assert not set(warm) & {f.name for f in summary.features}
        assert summary.max_psi <= contract.policy.drift_psi_threshold, (day, summary.max_psi)
        assert not summary.drifted
        assert summary.as_metadata()["warming_up_features"] == len(warm)
        observations.append(DriftObservation(day.isoformat(), summary.max_psi, None, None))
    policy = TriggerPolicy.from_policy(contract.policy)
    state = TriggerState(1, early, drift=tuple(observations))
    assert not decide(state, policy, early + timedelta(days=3)).retrain


def test_injected_covariate_drift_at_the_start_still_triggers(contract, setup):
    drifted = history(contract, DriftSpec(START, "covariate", strength=2.0))
    early = at(EARLY)
    warm = warming_up(setup["reach"], HISTORY_START, early)
    summary = summarise(contract, drifted, setup["profile"], warm)
    assert summary.drifted and summary.max_psi > contract.policy.drift_psi_threshold
    assert summary.max_psi_feature not in warm
    observation = DriftObservation(EARLY.isoformat(), summary.max_psi, None, None)
    state = TriggerState(1, early, drift=(observation,))
    decision = decide(state, TriggerPolicy.from_policy(contract.policy), early)
    assert decision.retrain and decision.trigger == "drift"


def test_reference_keeps_only_complete_windows(contract, setup):
    """A reference from the start of the history: windowed features keep their complete rows."""
    frame = setup["stationary"]
    names = ["amount", "amount_count_7d"]
    cutoffs = complete_from({n: setup["reach"][n] for n in names}, HISTORY_START)
    assert cutoffs == {"amount_count_7d": HISTORY_START + timedelta(days=7)}
    profile = build_reference_profile(
        frame, names, [], row_cap=10**6, seed=0, complete_from=cutoffs,
        timestamp=contract.timestamp_name,
    )  # fmt: skip
    complete = frame.filter(pl.col(contract.timestamp_name) >= cutoffs["amount_count_7d"])
    assert profile.numeric["amount"].rows == frame.height
    assert profile.numeric["amount_count_7d"].rows == complete.height < frame.height
    unfiltered = build_reference_profile(frame, names, [], row_cap=10**6, seed=0)
    assert unfiltered.fingerprint != profile.fingerprint  # another cache entry


def test_a_refused_partition_is_a_gap_for_the_windows_that_cover_it():
    day = timedelta(days=1)
    gap = (datetime(2026, 3, 5, tzinfo=UTC), datetime(2026, 3, 6, tzinfo=UTC))
    reach = {"count_7d": 7 * day, "mean_1h": timedelta(hours=1), "ratio": timedelta(0)}
    # the day after the gap: its first hour's 1-hour windows reach into the gap too
    assert reaching_gaps(reach, [gap], gap[1]) == {
        "count_7d": gap[1] + 7 * day,
        "mean_1h": gap[1] + timedelta(hours=1),
    }
    assert reaching_gaps(reach, [gap], gap[1] + day) == {"count_7d": gap[1] + 7 * day}
    # the last day whose window still covers it, and the first one clear of it
    assert "count_7d" in reaching_gaps(reach, [gap], gap[1] + 6 * day)
    assert reaching_gaps(reach, [gap], gap[1] + 7 * day) == {}
    # a gap after the partition does not matter
    assert reaching_gaps(reach, [gap], gap[0] - day) == {}


def test_every_output_column_of_every_view_has_a_reach():
    """Label lags and `last` included: no model feature escapes the warm-up rule."""
    for name, variant in every_contract().items():
        for view in variant.feature_views:
            reach = feature_reach(variant, view)
            missing = set(view.feature_names(variant.label_name)) - set(reach)
            assert not missing, (name, view.name, missing)
            for k in view.label_lags:
                assert reach[f"{variant.label_name}_lag_{k}"] == view.lookback
