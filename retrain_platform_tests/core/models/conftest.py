"""Fixtures of the models tests: a small, seeded synthetic training set."""

from datetime import timedelta

import polars as pl
import pytest

from retrain_platform.contracts import DatasetContract
from retrain_platform.core.datasets.training_set import (
    DatasetWindow,
    build_training_frame,
    label_events,
    make_window,
)
from retrain_platform.core.features.transforms import build_features
from retrain_platform.core.ingest.landing import LandingFile
from retrain_platform.core.ingest.rows import conform_file
from retrain_platform.core.synthetic import generate_day
from retrain_platform_tests.fixtures.models import AS_OF, DAYS, ROWS_PER_DAY, START, WINDOW


@pytest.fixture(scope="package")
def validated_frame(contract: DatasetContract) -> pl.DataFrame:
    frames = []
    for i in range(DAYS):
        day = generate_day(contract, START + timedelta(days=i), rows=ROWS_PER_DAY, seed=23)
        file = LandingFile(f"d{i}.parquet", None, 1, i)  # type: ignore[arg-type]
        frames.append(conform_file(day, file, contract).rows)
    return pl.concat(frames)


@pytest.fixture(scope="package")
def features_frame(validated_frame: pl.DataFrame, contract: DatasetContract) -> pl.DataFrame:
    return build_features(validated_frame, contract, contract.feature_views[0])


@pytest.fixture(scope="package")
def window(contract: DatasetContract) -> DatasetWindow:
    return make_window(contract, AS_OF, first_available=START.isoformat(), **WINDOW)


@pytest.fixture(scope="package")
def training_frame(
    validated_frame: pl.DataFrame,
    features_frame: pl.DataFrame,
    contract: DatasetContract,
    window: DatasetWindow,
) -> pl.DataFrame:
    labels = label_events(validated_frame, contract, window)
    return build_training_frame(labels, features_frame, contract, contract.feature_views[0], window)
