"""Shared fixtures: contracts, a temporary platform home, the real data beside the repo."""

import os
import warnings
from pathlib import Path

import dagster as dg
import pytest

from retrain_platform.contracts import DEFAULT_CONTRACT_PATH, DatasetContract, load_contract
from retrain_platform.home import HomeLayout
from retrain_platform_tests.homes import isolate_home

WEATHER_CONTRACT_PATH = DEFAULT_CONTRACT_PATH.with_name("weather.yaml")

warnings.filterwarnings("ignore", category=dg.BetaWarning)
warnings.filterwarnings("ignore", category=dg.PreviewWarning)


def shared_data_dir() -> Path:
    """`../shared/data` beside the checkout (CI has it there), or `$RETRAIN_SHARED_DATA`."""
    override = os.environ.get("RETRAIN_SHARED_DATA")
    return Path(override) if override else Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(scope="session")
def contract() -> DatasetContract:
    return load_contract(DEFAULT_CONTRACT_PATH)


@pytest.fixture(scope="session")
def weather_contract() -> DatasetContract:
    return load_contract(WEATHER_CONTRACT_PATH)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> HomeLayout:
    """A fresh platform home (and Dagster home) in a temporary directory."""
    return isolate_home(monkeypatch, tmp_path / "home")


@pytest.fixture
def instance(home: HomeLayout):
    with dg.instance_for_test(temp_dir=str(home.dagster_home)) as inst:
        yield inst


@pytest.fixture(scope="session")
def weather_csv() -> Path:
    path = shared_data_dir() / "weather.csv"
    if not path.exists():
        pytest.fail(
            f"{path} is missing: the tests read ../shared/data beside the checkout "
            "(or set RETRAIN_SHARED_DATA)"
        )
    return path
