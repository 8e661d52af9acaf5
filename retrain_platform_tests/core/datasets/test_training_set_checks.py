"""The training-set checks pass a point-in-time join and catch a lost label, an unknown split,
a label outside its categories and features read from after the label event."""

from datetime import date, timedelta

import polars as pl
import pytest

from retrain_platform.core.datasets.checks import (
    check_label_events_kept,
    check_labels,
    check_point_in_time,
    check_splits,
)
from retrain_platform.core.datasets.point_in_time import asof_join, label_columns
from retrain_platform.core.features.transforms import build_features
from retrain_platform.core.ingest.landing import LandingFile
from retrain_platform.core.ingest.rows import conform_file
from retrain_platform.core.synthetic import generate_day

SPLITS = ("train", "validation", "holdout")


@pytest.fixture(scope="module")
def inputs(contract):
    frames = []
    for i in range(2):
        day = generate_day(contract, date(2026, 3, 1) + timedelta(days=i), rows=300, seed=9)
        file = LandingFile(f"d{i}.parquet", None, 1, i)  # type: ignore[arg-type]
        frames.append(conform_file(day, file, contract).rows)
    events = pl.concat(frames)
    view = contract.feature_views[0]
    features = build_features(events, contract, view)
    labels = events.select(label_columns(contract))
    frame = asof_join(labels, features, contract, view).with_columns(pl.lit("train").alias("_s"))
    return view, labels, features, frame


def test_a_point_in_time_training_set_passes(contract, inputs):
    view, labels, features, frame = inputs
    assert check_labels(frame, contract).passed
    assert check_splits(frame, "_s", SPLITS).passed
    assert check_label_events_kept(frame, labels, contract).passed
    outcome = check_point_in_time(frame, features, contract, view)
    assert outcome.passed, outcome.metadata
    assert outcome.metadata["sampled_rows"] == 200


def test_each_defect_fails_its_check(contract, inputs):
    view, labels, features, frame = inputs
    label = contract.label_name
    bad_label = frame.with_columns(
        pl.when(pl.int_range(pl.len()) == 0)
        .then(7)
        .otherwise(pl.col(label))
        .cast(frame.schema[label])
        .alias(label)
    )
    assert not check_labels(bad_label, contract).passed
    assert not check_splits(frame.with_columns(pl.lit("test").alias("_s")), "_s", SPLITS).passed
    lost = check_label_events_kept(frame.slice(1), labels, contract)
    assert not lost.passed and lost.metadata["lost"] == 1
    # every entity's features taken from its next event: read from after the label event
    key, ts = view.entity_keys[0], contract.timestamp_name
    names = view.feature_names(contract.label_name)
    future = features.sort(key, ts).with_columns(pl.col(names).shift(-1).over(key))
    leaked = asof_join(labels, future, contract, view)
    outcome = check_point_in_time(leaked, features, contract, view)
    assert not outcome.passed
    assert outcome.metadata["rows_not_matching_an_earlier_feature_row"] > 100
