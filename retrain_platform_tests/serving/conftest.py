"""Fixtures of the serving tests: a real registry with three versions and a populated online store.

One package-scoped platform home holds: the synthetic feature rows of the feature-store tests
(shifted so the newest is ten minutes old) written to the lake, applied to Feast and written
online; MLflow (sqlite + local artifacts) with version 1 and 2 (two LightGBM boosters on the
view's model features) and version 3 (a booster on three features only, which cannot score the
service's inputs: the failing smoke test); `champion` on version 1.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import lightgbm as lgb
import numpy as np
import polars as pl
import pytest
import uvicorn

from retrain_platform.contracts import DatasetContract
from retrain_platform.contracts.model import FeatureView
from retrain_platform.core.deployment.registry import CHAMPION, promote
from retrain_platform.core.feature_store.online_sqlite import newest_rows
from retrain_platform.core.models.inputs import feature_matrix, model_feature_names
from retrain_platform.core.models.mlflow_store import MlflowStore
from retrain_platform.home import HomeLayout
from retrain_platform.resources.feast import FeastResource
from retrain_platform.resources.tracking import profile_mlflow_store, registered_model_name
from retrain_platform.serving.app import ServingSettings, create_app
from retrain_platform_tests.fixtures.online_store import feature_rows, write_features

AGE_OF_NEWEST = timedelta(minutes=10)


@dataclass
class ServingWorld:
    home: HomeLayout
    contract: DatasetContract
    view: FeatureView
    store: MlflowStore
    feast: FeastResource
    name: str
    features: list[str]
    online: pl.DataFrame  # the newest row of each entity, as written online
    boosters: dict[int, lgb.Booster]

    def settings(self, **changes: object) -> ServingSettings:
        base = ServingSettings(
            contract=self.contract,
            store=self.store,
            feast=self.feast,
            lake_uri=self.home.lake_uri,
            model_name=self.name,
            poll_seconds=0.2,
            log_max_rows=50,
            log_max_seconds=0.5,
        )
        return replace(base, **changes)

    def offline(self, version: int, frame: pl.DataFrame) -> np.ndarray:
        """The registered booster's predictions for `frame`, computed offline."""
        booster = self.boosters[version]
        return booster.predict(feature_matrix(frame, booster.feature_name()))

    def entity(self, i: int) -> dict[str, object]:
        return {k: self.online[k][i] for k in self.view.entity_keys}


def _train(frame: pl.DataFrame, features: list[str], seed: int, leaves: int) -> lgb.Booster:
    """A small deterministic booster on a synthetic target (the service only needs a model)."""
    x = feature_matrix(frame, features)
    rng = np.random.default_rng(seed)
    signal = np.nan_to_num(x[:, 0]) / (np.nanmax(np.abs(x[:, 0])) + 1e-9)
    y = (signal + rng.normal(0, 0.3, len(x)) > np.median(signal)).astype(int)
    params = {
        "objective": "binary",
        "num_leaves": leaves,
        "seed": seed,
        "verbose": -1,
        "num_threads": 1,
        "deterministic": True,
        "min_data_in_leaf": 5,
    }
    return lgb.train(params, lgb.Dataset(x, y, feature_name=features), num_boost_round=20)


def _register(store: MlflowStore, name: str, booster: lgb.Booster) -> int:
    import mlflow
    import mlflow.lightgbm

    store.activate()
    experiment = store.experiment_id(name)
    with mlflow.start_run(experiment_id=experiment):
        info = mlflow.lightgbm.log_model(booster, name="model", pip_requirements=["lightgbm"])
    return int(mlflow.register_model(info.model_uri, name).version)


@pytest.fixture(scope="package")
def world(tmp_path_factory, contract) -> Iterator[ServingWorld]:
    root = Path(tmp_path_factory.mktemp("serving")) / "home"
    root.mkdir(parents=True)
    with pytest.MonkeyPatch.context() as env:
        env.setenv("RETRAIN_HOME", str(root))
        for name in ("RETRAIN_LAKE_URI", "MLFLOW_TRACKING_URI", "RETRAIN_MLFLOW_ARTIFACTS"):
            env.delenv(name, raising=False)
        home = HomeLayout(root)
        view = contract.feature_views[0]
        ts = contract.timestamp_name
        rows = feature_rows(contract, view)
        shift = datetime.now(timezone.utc) - AGE_OF_NEWEST - rows[ts].max()
        rows = rows.with_columns(pl.col(ts) + shift)
        write_features(home.lake_uri, contract, view, rows)
        feast = FeastResource(home=str(root))
        feast.apply(contract, home.lake_uri)
        feast.write_online(contract, view, rows)
        online = newest_rows(rows, list(view.entity_keys), ts).sort(list(view.entity_keys))

        store = profile_mlflow_store(home)
        name = registered_model_name(contract)
        features = model_feature_names(contract, view)
        boosters = {
            1: _train(rows, features, seed=1, leaves=7),
            2: _train(rows, features, seed=2, leaves=15),
            3: _train(rows, features[:3], seed=3, leaves=4),
        }
        for version, booster in boosters.items():
            assert _register(store, name, booster) == version
        promote(store.client(), name, 1)
        yield ServingWorld(home, contract, view, store, feast, name, features, online, boosters)


def wait_for(condition, timeout: float, what: str, interval: float = 0.02):  # noqa: ANN001, ANN201
    """Poll `condition` until it returns a truthy value; fail naming `what` at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


@contextmanager
def running_server(settings: ServingSettings) -> Iterator[str]:
    """A real uvicorn server on a free loopback port, in a thread; stopped (lifespan shutdown
    included) on exit. Yields the base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        create_app(settings), log_level="warning", access_log=False, lifespan="on"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        wait_for(lambda: server.started or not thread.is_alive(), 60, "the server to start")
        if not server.started:
            pytest.fail("the server did not start (see the log above)")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)
        sock.close()
        assert not thread.is_alive(), "the server did not stop"


@pytest.fixture
def champion_is_1(world: ServingWorld) -> Iterator[None]:
    """Every test starts with champion 1 and no canary or challenger, whatever it changes."""
    from retrain_platform.core.deployment.registry import CHALLENGER, PREVIOUS

    client = world.store.client()

    def reset() -> None:
        client.set_registered_model_alias(world.name, CHAMPION, "1")
        for alias in ("canary", CHALLENGER, PREVIOUS):
            try:
                client.delete_registered_model_alias(world.name, alias)
            except Exception:  # noqa: BLE001, S110 - absent already
                pass

    reset()
    yield
    reset()
