"""Latency of the prediction service: single-entity `POST /predict` on loopback.

Builds a throw-away platform home (two synthetic days of features written online, one LightGBM
booster registered as `champion`), starts `retrain_platform.serving` on uvicorn in a child
process (so the load generator does not share its interpreter), then drives it with a bounded
load generator (one keep-alive standard-library HTTP client, sequential requests: a closed loop
of concurrency 1) and reports p50/p99 and throughput of:

- `empty`: an endpoint doing nothing in the same app (the HTTP + framework floor);
- `predict`: entity key in, features from the online store, LightGBM, log append;
- the handler's own stages, from the response headers: online lookup and the model call;
- in-process, without HTTP: Feast `get_online_features` vs the direct sqlite primary-key read.

Run with `python -m benchmarks.serving [requests]`. No assertion on time.
"""

from __future__ import annotations

import gc
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import polars as pl

ISSUE_PROTOTYPE = {  # issue #6: the plain prototype's figures (ms)
    "empty": (0.41, 0.82),
    "feast_get_online_features": (0.20, 0.33),
    "direct_sqlite_lookup": (0.010, None),
    "predict": (0.95, 1.8),
}
DAYS, ROWS_PER_DAY = 2, 5000


def _percentiles(samples: list[float]) -> tuple[float, float]:
    values = np.asarray(samples) * 1e3
    return float(np.percentile(values, 50)), float(np.percentile(values, 99))


def build_home(root: Path) -> list[int]:
    """Features online, a champion registered; returns some entity key values."""
    os.environ["RETRAIN_HOME"] = str(root)
    for name in ("RETRAIN_LAKE_URI", "MLFLOW_TRACKING_URI", "RETRAIN_MLFLOW_ARTIFACTS"):
        os.environ.pop(name, None)
    import lightgbm as lgb
    import mlflow
    import mlflow.lightgbm

    from retrain_platform.contracts import DEFAULT_CONTRACT_PATH, load_contract
    from retrain_platform.core.deployment.registry import promote
    from retrain_platform.core.feature_store.feast_objects import (
        feast_source_uri,
        features_table_uri,
    )
    from retrain_platform.core.features.layer import write_parquet_mirror
    from retrain_platform.core.features.transforms import build_features
    from retrain_platform.core.ingest.landing import LandingFile
    from retrain_platform.core.ingest.rows import conform_file
    from retrain_platform.core.lake import overwrite_partitions
    from retrain_platform.core.models.inputs import feature_matrix, model_feature_names
    from retrain_platform.core.platform_columns import PARTITION
    from retrain_platform.core.synthetic import generate_day
    from retrain_platform.home import HomeLayout
    from retrain_platform.resources.feast import FeastResource
    from retrain_platform.resources.tracking import profile_mlflow_store, registered_model_name

    contract = load_contract(DEFAULT_CONTRACT_PATH)
    view = contract.feature_views[0]
    home = HomeLayout(root)
    first = date.today() - timedelta(days=DAYS)
    rows = pl.concat(
        [
            conform_file(
                generate_day(contract, first + timedelta(days=i), rows=ROWS_PER_DAY, seed=5),
                LandingFile(f"d{i}.parquet", None, 1, i),
                contract,
            ).rows  # type: ignore[arg-type]
            for i in range(DAYS)
        ]
    )
    features = build_features(rows, contract, view)
    ts = contract.timestamp_name
    shift = datetime.now(timezone.utc) - timedelta(minutes=5) - features[ts].max()
    features = features.with_columns(pl.col(ts) + shift)
    parts = sorted(features[PARTITION].unique().to_list())
    overwrite_partitions(features_table_uri(home.lake_uri, contract, view), features, parts)
    write_parquet_mirror(features, parts, feast_source_uri(home.lake_uri, contract, view))
    feast = FeastResource(home=str(root))
    feast.apply(contract, home.lake_uri)
    feast.write_online(contract, view, features)

    names = model_feature_names(contract, view)
    x = feature_matrix(features, names)
    y = (np.nan_to_num(x[:, 0]) > np.nanmedian(x[:, 0])).astype(int)
    booster = lgb.train(
        {"objective": "binary", "num_leaves": 31, "verbose": -1, "seed": 1},
        lgb.Dataset(x, y, feature_name=names),
        num_boost_round=100,
    )
    store = profile_mlflow_store(home)
    store.activate()
    name = registered_model_name(contract)
    with mlflow.start_run(experiment_id=store.experiment_id(name)):
        info = mlflow.lightgbm.log_model(booster, name="model", pip_requirements=["lightgbm"])
    version = int(mlflow.register_model(info.model_uri, name).version)
    promote(store.client(), name, version)
    keys = features[view.entity_keys[0]].unique().to_list()
    return keys


def lookup_timings(root: Path, keys: list[int], n: int) -> dict[str, tuple[float, float]]:
    """In-process online reads: Feast's API vs the direct sqlite primary-key read."""
    from retrain_platform.contracts import DEFAULT_CONTRACT_PATH, load_contract
    from retrain_platform.resources.feast import FeastResource
    from retrain_platform.serving.features import DIRECT, FEAST, build_lookup

    contract = load_contract(DEFAULT_CONTRACT_PATH)
    view = contract.feature_views[0]
    feast = FeastResource(home=str(root))
    key = view.entity_keys[0]
    out = {}
    for label, kind in (("feast_get_online_features", FEAST), ("direct_sqlite_lookup", DIRECT)):
        lookup = build_lookup(kind, feast, contract, view)
        for k in keys[:50]:
            lookup.lookup([{key: k}])
        samples = []
        for i in range(n):
            entity = [{key: keys[i % len(keys)]}]
            started = time.perf_counter()
            lookup.lookup(entity)
            samples.append(time.perf_counter() - started)
        out[label] = _percentiles(samples)
    return out


def serve(root: Path, port: int) -> None:
    """The child: the service of the bench home on `port`."""
    os.environ["RETRAIN_HOME"] = str(root)
    import uvicorn

    from retrain_platform.contracts import DEFAULT_CONTRACT_PATH, load_contract
    from retrain_platform.home import HomeLayout
    from retrain_platform.resources.feast import FeastResource
    from retrain_platform.resources.tracking import profile_mlflow_store, registered_model_name
    from retrain_platform.serving.app import ServingSettings, create_app

    contract = load_contract(DEFAULT_CONTRACT_PATH)
    home = HomeLayout(root)
    settings = ServingSettings(
        contract=contract,
        store=profile_mlflow_store(home),
        feast=FeastResource(home=str(root)),
        lake_uri=home.lake_uri,
        model_name=registered_model_name(contract),
        shadow=False,
        freeze_heap=True,
    )
    uvicorn.run(
        create_app(settings), host="127.0.0.1", port=port, log_level="warning", access_log=False
    )


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class _Client:
    """A keep-alive HTTP/1.1 client on the standard library: far less per-request overhead than
    httpx, so the figures measure the service rather than the load generator."""

    def __init__(self, host: str, port: int) -> None:
        import http.client

        self.connection = http.client.HTTPConnection(host, port, timeout=10)

    def request(self, method: str, path: str, body: object = None) -> tuple[int, dict, bytes]:
        payload = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"} if payload is not None else {}
        self.connection.request(method, path, body=payload, headers=headers)
        response = self.connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()

    def close(self) -> None:
        self.connection.close()


def _wait_healthy(host: str, port: int) -> None:
    deadline = time.monotonic() + 120
    while True:
        client = _Client(host, port)
        try:
            status, _, data = client.request("GET", "/health")
            if status == 200 and json.loads(data).get("loaded"):
                return
        except OSError:
            pass
        finally:
            client.close()
        if time.monotonic() > deadline:
            msg = "the service did not become healthy within 120 s"
            raise RuntimeError(msg)
        time.sleep(0.2)


def drive(host: str, port: int, key: str, keys: list[int], n: int) -> dict[str, object]:
    """Closed-loop load (one client, sequential, keep-alive) on `/empty` then `/predict`."""
    _wait_healthy(host, port)
    results: dict[str, object] = {}
    client = _Client(host, port)
    rng = random.Random(1)
    gc.disable()  # the load generator's own collections would land in the service's p99
    try:
        for label, path in (("empty", "/empty"), ("predict", "/predict")):
            for _ in range(200):  # warm-up
                client.request("POST", path, {"entities": [{key: rng.choice(keys)}]})
            samples, lookup, model, handler = [], [], [], []
            started_all = time.perf_counter()
            for _ in range(n):
                body = {"entities": [{key: rng.choice(keys)}]}
                started = time.perf_counter()
                status, headers, data = client.request("POST", path, body)
                samples.append(time.perf_counter() - started)
                if status != 200:
                    msg = f"{path}: {status} {data[:200]!r}"
                    raise RuntimeError(msg)
                if path == "/predict":
                    lookup.append(float(headers["x-online-lookup-ms"]) / 1e3)
                    model.append(float(headers["x-model-ms"]) / 1e3)
                    handler.append(float(headers["x-handler-ms"]) / 1e3)
            elapsed = time.perf_counter() - started_all
            results[label] = (*_percentiles(samples), n / elapsed)
            if path == "/predict":
                results["predict: handler (in server)"] = (*_percentiles(handler), None)
                results["predict: online lookup (in handler)"] = (*_percentiles(lookup), None)
                results["predict: model call (in handler)"] = (*_percentiles(model), None)
    finally:
        gc.enable()
        client.close()
    return results


def main(n: int = 3000) -> None:
    with tempfile.TemporaryDirectory(prefix="serving-bench-") as tmp:
        root = Path(tmp) / "home"
        root.mkdir()
        started = time.perf_counter()
        keys = build_home(root)
        print(
            f"home built in {time.perf_counter() - started:.1f}s ({len(keys)} entities online)",
            flush=True,
        )
        from retrain_platform.contracts import DEFAULT_CONTRACT_PATH, load_contract

        key = load_contract(DEFAULT_CONTRACT_PATH).feature_views[0].entity_keys[0]
        port = _free_port()
        child = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.serving", "--serve", str(root), str(port)]
        )
        try:
            http = drive("127.0.0.1", port, key, keys, n)
        finally:
            child.terminate()
            child.wait(60)
        lookups = lookup_timings(root, keys, n)
    print(
        f"\nsingle-entity /predict, {n} sequential requests per row, loopback; "
        f"{platform.processor() or platform.machine()}, Python {platform.python_version()}"
    )
    print(f"{'measure':40s} {'p50 ms':>8s} {'p99 ms':>8s} {'req/s':>8s}   issue p50/p99")
    rows = [*http.items(), *((k, (*v, None)) for k, v in lookups.items())]
    for label, (p50, p99, rate) in rows:  # type: ignore[misc]
        ref = ISSUE_PROTOTYPE.get(label)
        ref_text = "" if ref is None else f"{ref[0]} / {ref[1] if ref[1] is not None else '-'}"
        rate_text = f"{rate:8.0f}" if rate else f"{'':8s}"
        print(f"{label:40s} {p50:8.3f} {p99:8.3f} {rate_text}   {ref_text}")
    p99 = http["predict"][1]  # type: ignore[index]
    target = 2 * ISSUE_PROTOTYPE["predict"][1]
    print(
        f"\npredict p99 {p99:.3f} ms vs target {target:.1f} ms (2x the prototype's p99): "
        f"{'met' if p99 <= target else 'NOT met'}"
    )


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--serve":
        serve(Path(sys.argv[2]), int(sys.argv[3]))
    else:
        main(int(sys.argv[1]) if len(sys.argv) > 1 else 3000)
