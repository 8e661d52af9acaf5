"""Weather, a contract with no entity keys and no feature views, runs the whole graph.

The shipped contract gets the default view `series` (its own features, keyed by the series
column), so every layer is built for it. Three years of monthly partitions of the real
../shared/data/weather.csv run through the Dagster jobs on a real instance: ingest, validation,
the Feast registry, features and online store, a training-set version, the retrain job to a
deployed champion, then drift and live performance of a month, and `retrain-platform serve`
answers for the series (an empty entity: its newest features) and for a full row.
"""

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import dagster as dg
import httpx
import polars as pl
import pytest

from retrain_platform.core import platform_columns as pc
from retrain_platform.core.datasets.training_set import read_version
from retrain_platform.core.features.transforms import feature_table_name
from retrain_platform.core.lake import read_partitions, table_uri
from retrain_platform.definitions import build_definitions
from retrain_platform.defs import keys
from retrain_platform_tests.fixtures.graph import (
    asset_keys,
    featurize,
    freeze_training_set,
    ingest_and_validate,
    retrain,
)
from retrain_platform_tests.serving.conftest import wait_for

pytestmark = pytest.mark.slow
MONTHS = [f"{year}-{month:02d}-01" for year in (1958, 1959, 1960) for month in range(1, 13)]


def test_every_layer_is_built_for_weather(weather_contract, home):
    defs = build_definitions([weather_contract], home)
    assert asset_keys(defs) == {
        "landing/weather_landing",
        "raw/weather_raw",
        "validated/weather_validated",
        "validated/weather_quarantine",
        "features/weather_series",
        "features/weather_series_live",
        "features/weather_registry",
        "datasets/weather_training",
        "models/weather_candidate",
        "models/weather_registered",
        "deployment/weather_champion",
        "monitoring/weather_drift",
        "monitoring/weather_performance",
        "monitoring/weather_policy_backtest",
    }
    key = dg.AssetKey.from_user_string("features/weather_series")
    schema = defs.resolve_assets_def(key).metadata_by_key[key]["dagster/column_schema"]
    roles = {column.name: column.tags["role"] for column in schema.columns}
    assert roles[pc.SERIES] == "entity" and roles["feat_1"] == "input"


def test_three_years_of_weather_run_to_a_champion(weather_contract, weather_csv, home, instance):
    contract = weather_contract
    landing = home.landing_root / contract.dataset
    landing.mkdir(parents=True)
    (landing / "weather.csv").write_bytes(weather_csv.read_bytes())
    defs = build_definitions([contract], home)
    ingest_and_validate(defs, contract, instance, MONTHS)
    featurize(defs, contract, instance, MONTHS)

    view = contract.view()
    ts = contract.timestamp_name
    features = read_partitions(
        table_uri(home.lake_uri, keys.FEATURES, feature_table_name(contract, view))
    )
    validated = read_partitions(table_uri(home.lake_uri, keys.VALIDATED, contract.dataset))
    assert features.height == validated.height > 1000
    assert features.get_column(pc.PARTITION).n_unique() == len(MONTHS)
    assert features.get_column(pc.SERIES).unique().to_list() == ["weather"]

    meta = freeze_training_set(defs, contract, instance, window_partitions=30)
    assert (meta["window_start"], meta["window_end"]) == (MONTHS[-30], MONTHS[-1])
    frame = read_version(f"{home.lake_uri}/datasets/{contract.dataset}_training", 0)
    labelled = validated.filter(pl.col(pc.PARTITION).is_in(MONTHS[-30:]))
    # events are at midnight and labelled a day later: the last one is known at the as-of time
    assert frame.height == meta["rows"] == labelled.height
    names = contract.feature_names
    assert frame.select(ts, *names).sort(ts).equals(labelled.select(ts, *names).sort(ts))

    deployed = retrain(defs, contract, instance, window_partitions=30)
    assert deployed["deployment/weather_champion"]["champion_version"] == 1
    assert deployed["deployment/weather_champion"]["promoted"] is True

    everything = defs.resolve_implicit_global_asset_job_def()
    for key in ("monitoring/weather_drift", "monitoring/weather_performance"):
        run = everything.execute_in_process(
            instance=instance,
            asset_selection=[dg.AssetKey.from_user_string(key)],
            partition_key=MONTHS[-1],
        )
        assert run.success, key
        (event,) = run.get_asset_materialization_events()
        assert event.materialization.metadata["champion_version"].value == 1

    # the champion answers from `retrain-platform serve`: a keyless entity is `{}` (the newest
    # features of the series), and a full row is scored as sent
    served = serve_once(home, contract, [{"entities": [{}]}, {"rows": [last_row(frame, contract)]}])
    (newest,), (row,) = (answer["predictions"] for answer in served)
    assert newest["model_version"] == row["model_version"] == 1
    assert 0.0 <= newest["score"] <= 1.0 and 0.0 <= row["score"] <= 1.0
    assert newest[pc.SERIES] == "weather" and newest["stale"] is True


def last_row(frame: pl.DataFrame, contract) -> dict:
    """The newest training row as a `rows` request item: the view's features, JSON-ready."""
    view = contract.view()
    names = view.feature_names(contract.label_name)
    row = frame.sort(contract.timestamp_name).select(names).row(-1, named=True)
    return {k: (None if v != v else v) for k, v in row.items()}  # NaN is not JSON


def serve_once(home, contract, bodies: list[dict]) -> list[dict]:
    """Start `retrain-platform serve` for `contract` on `home`, post `bodies`, stop it."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RETRAIN_", "MLFLOW_"))}
    env["RETRAIN_HOME"] = str(home.home)
    cli = Path(sys.executable).with_name("retrain-platform")
    server = subprocess.Popen(
        # the data ends in 1960: its newest features are decades old, so they are flagged, not
        # refused (the default answers 409 stale_features, which is right for live data)
        [
            str(cli),
            "serve",
            "--contract",
            contract.source_path,
            "--port",
            str(port),
            "--no-shadow",
            "--stale",
            "flag",
        ],  # fmt: skip
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:

        def ready() -> bool | None:
            if server.poll() is not None:
                pytest.fail(f"serve exited {server.returncode}: {server.stderr.read()[-3000:]}")
            try:
                return httpx.get(f"{url}/health", timeout=2).status_code == 200 or None
            except httpx.HTTPError:
                return None

        wait_for(ready, 180, "retrain-platform serve to load the weather champion", 0.5)
        answers = []
        for body in bodies:
            answer = httpx.post(f"{url}/predict", json=body, timeout=30)
            assert answer.status_code == 200, answer.text
            answers.append(answer.json())
        return answers
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(60)
