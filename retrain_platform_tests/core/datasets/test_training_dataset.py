"""Training sets: every label row survives, time-ordered split, versions re-read exactly."""

import json
from datetime import date, timedelta

import polars as pl
import pytest

from retrain_platform.core import platform_columns as pc
from retrain_platform.core.datasets.point_in_time import asof_join
from retrain_platform.core.datasets.ref import DatasetRef, describe_version
from retrain_platform.core.datasets.training_set import (
    HOLDOUT,
    SPLIT,
    TRAIN,
    VALIDATION,
    build_training_frame,
    freeze_training_set,
    label_events,
    make_window,
    read_version,
    version_history,
)
from retrain_platform.core.features.transforms import build_features
from retrain_platform.core.ingest.landing import LandingFile
from retrain_platform.core.ingest.rows import conform_file
from retrain_platform.core.lake import overwrite_partitions
from retrain_platform.core.synthetic import generate_day

START = date(2026, 4, 1)
DAYS = 8


@pytest.fixture(scope="module")
def validated(contract) -> pl.DataFrame:
    frames = []
    for i in range(DAYS):
        day = generate_day(contract, START + timedelta(days=i), rows=400, seed=11)
        file = LandingFile(f"d{i}.parquet", None, 1, i)  # type: ignore[arg-type]
        frames.append(conform_file(day, file, contract).rows)
    return pl.concat(frames)


@pytest.fixture(scope="module")
def features(validated, contract) -> pl.DataFrame:
    return build_features(validated, contract, contract.feature_views[0])


def _window(contract, as_of="2026-04-08", **kwargs):
    options = {"window_partitions": 6, "validation_partitions": 1, "holdout_partitions": 1}
    options.update(kwargs)
    return make_window(contract, as_of, first_available=START.isoformat(), **options)


def test_window_ends_where_labels_are_complete(contract):
    window = _window(contract)
    # the label delay is 2 days: at the end of 04-08, labels are complete up to 04-06
    assert window.partitions[-1] == "2026-04-06"
    assert len(window.partitions) == 6
    assert window.split_of()["2026-04-06"] == HOLDOUT
    assert window.split_of()["2026-04-05"] == VALIDATION
    assert window.split_of()["2026-04-01"] == TRAIN
    with pytest.raises(ValueError, match="nothing is left to train on"):
        _window(contract, as_of="2026-04-04", window_partitions=6)


def test_every_label_row_survives_the_join_even_without_features(validated, features, contract):
    view = contract.feature_views[0]
    window = _window(contract)
    labels = label_events(validated, contract, window)
    key = view.entity_keys[0]
    orphan = labels.get_column(key)[0]
    sparse = features.filter(pl.col(key) != orphan)
    joined = asof_join(labels, sparse, contract, view)
    assert joined.height == labels.height
    assert joined.select(contract.primary_key).equals(labels.select(contract.primary_key))
    orphans = joined.filter(pl.col(key) == orphan)
    assert orphans.height > 0
    assert (
        orphans.select(view.derived_names(contract.label_name)).null_count().sum_horizontal().item()
        > 0
    )


def test_join_takes_each_events_own_feature_row(validated, features, contract):
    view = contract.feature_views[0]
    window = _window(contract)
    frame = build_training_frame(
        label_events(validated, contract, window), features, contract, view, window
    )
    ident = contract.primary_key[0]
    names = view.feature_names(contract.label_name)
    expected = features.filter(pl.col(ident).is_in(frame.get_column(ident).implode()))
    merged = frame.select([ident, *names]).join(
        expected.select([ident, *names]), on=ident, suffix="_f"
    )
    for name in names:
        same = (merged.get_column(name) == merged.get_column(f"{name}_f")) | (
            merged.get_column(name).is_null() & merged.get_column(f"{name}_f").is_null()
        )
        assert same.all(), name
    assert set(frame.get_column(SPLIT)) == {TRAIN, VALIDATION, HOLDOUT}
    holdout = frame.filter(pl.col(SPLIT) == HOLDOUT).get_column(pc.PARTITION).unique().to_list()
    assert holdout == [window.partitions[-1]]


def test_versions_are_new_and_reread_exactly(tmp_path, validated, features, contract):
    view = contract.feature_views[0]
    validated_uri, features_uri = str(tmp_path / "v"), str(tmp_path / "f")
    overwrite_partitions(validated_uri, validated, validated.get_column(pc.PARTITION).unique())
    overwrite_partitions(features_uri, features, features.get_column(pc.PARTITION).unique())
    uri = str(tmp_path / "training")
    first, frame_a = freeze_training_set(
        contract,
        view,
        _window(contract),
        validated_uri=validated_uri,
        features_uri=features_uri,
        dataset_uri=uri,
    )
    second, frame_b = freeze_training_set(
        contract,
        view,
        _window(contract, window_partitions=4),
        validated_uri=validated_uri,
        features_uri=features_uri,
        dataset_uri=uri,
    )
    assert (first.version, second.version) == (0, 1)
    assert frame_a.height > frame_b.height
    assert read_version(uri, first.version).equals(frame_a)
    assert read_version(uri, second.version).equals(frame_b)
    assert 0 < first.label_rate < 0.2
    history = version_history(uri)
    assert set(history.get_column("contract_hash")) == {contract.contract_hash}
    assert sorted(history.get_column("rows").to_list()) == sorted(
        [str(frame_a.height), str(frame_b.height)]
    )


def test_window_skips_excluded_partitions_and_records_them(contract):
    excluded = {"2026-04-05": ["has_min_rows"], "2026-04-06": ["matches_schema", "has_min_rows"]}
    window = _window(contract, window_partitions=3, excluded=excluded)
    # complete up to 04-06; 04-05 and 04-06 are left out, the older ones take their place
    assert window.partitions == ("2026-04-02", "2026-04-03", "2026-04-04")
    assert window.excluded == {
        "2026-04-05": ("has_min_rows",),
        "2026-04-06": ("has_min_rows", "matches_schema"),
    }
    assert _window(contract, window_partitions=3, excluded={"2026-04-01": ["x"]}).excluded == {}
    with pytest.raises(ValueError, match="passed their blocking checks"):
        _window(
            contract, window_partitions=6, excluded={f"2026-04-0{i}": ["x"] for i in range(1, 6)}
        )


def test_a_version_reference_carries_the_windows_kind_and_splits(
    tmp_path, validated, features, contract
):
    view = contract.feature_views[0]
    validated_uri, features_uri = str(tmp_path / "v"), str(tmp_path / "f")
    overwrite_partitions(validated_uri, validated, validated.get_column(pc.PARTITION).unique())
    overwrite_partitions(features_uri, features, features.get_column(pc.PARTITION).unique())
    uri = str(tmp_path / "training")
    window = _window(contract, validation_partitions=2, training_window="expanding")
    version, frame = freeze_training_set(
        contract,
        view,
        window,
        validated_uri=validated_uri,
        features_uri=features_uri,
        dataset_uri=uri,
    )
    ref = describe_version(uri, version.version, frame)
    splits = window.splits()
    assert ref.training_window == "expanding"
    assert list(ref.validation_partitions) == splits[VALIDATION] == ["2026-04-04", "2026-04-05"]
    assert list(ref.holdout_partitions) == splits[HOLDOUT] == ["2026-04-06"]
    assert DatasetRef.from_tags(ref.tags()) == ref
    history = version_history(uri)
    assert history.get_column("training_window").to_list() == ["expanding"]
    assert json.loads(history.get_column("splits")[0]) == splits
