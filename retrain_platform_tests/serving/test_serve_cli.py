"""`retrain-platform serve` as a user starts it: its own process, configured by the environment,
answering on loopback, and logging every answer when stopped with SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import numpy as np
import polars as pl
import pytest

from retrain_platform.serving import prediction_log as plog
from retrain_platform_tests.serving.conftest import wait_for

CLI = Path(sys.executable).parent / "retrain-platform"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _health(url: str) -> dict | None:
    try:
        return httpx.get(f"{url}/health", timeout=2).json()
    except httpx.HTTPError:
        return None


def test_serve_command_answers_and_logs_until_sigterm(world, champion_is_1, tmp_path):
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RETRAIN_", "MLFLOW_"))}
    env["RETRAIN_HOME"] = str(world.home.home)
    log_file = tmp_path / "serve.log"
    with log_file.open("wb") as out:
        server = subprocess.Popen(
            [str(CLI), "serve", "--port", str(port), "--no-shadow", "--log-level", "warning"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:

        def ready() -> dict | None:
            if server.poll() is not None:
                pytest.fail(f"serve exited {server.returncode}:\n{log_file.read_text()}")
            health = _health(url)
            return health if health and health["loaded"] else None

        health = wait_for(ready, 120, "retrain-platform serve to load the champion", 0.2)
        assert health["model_version"] == 1
        assert health["online_store"] is True

        entities = [world.entity(i) for i in range(5)]
        answer = httpx.post(f"{url}/predict", json={"entities": entities}, timeout=10)
        assert answer.status_code == 200, answer.text
        predictions = answer.json()["predictions"]
        keys = list(world.view.entity_keys)
        wanted = world.online.join(pl.DataFrame(entities), on=keys, how="semi")
        offline = dict(zip(wanted[keys[0]].to_list(), world.offline(1, wanted), strict=True))
        served = {p[keys[0]]: p["score"] for p in predictions}
        assert set(served) == set(offline)
        np.testing.assert_allclose([served[k] for k in offline], list(offline.values()), rtol=1e-9)
        assert {p["model_version"] for p in predictions} == {1}

        bad = httpx.post(f"{url}/predict", json={"entities": [{keys[0]: "abc"}]}, timeout=10)
        assert bad.status_code == 422
        assert bad.json()["detail"][0]["loc"] == ["body", "entities", 0, keys[0]]
        request_id = answer.json()["request_id"]
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(60)

    # uvicorn shuts down gracefully, then re-raises the captured SIGTERM (exit status -15)
    assert server.returncode in (0, -signal.SIGTERM), log_file.read_text()
    assert "could not be written" not in log_file.read_text()
    logged = pl.read_delta(plog.predictions_uri(world.home.lake_uri, world.contract))
    mine = logged.filter(pl.col(plog.REQUEST_ID) == request_id)
    assert mine.height == len(entities)
    assert sorted(mine[keys[0]].to_list()) == sorted(e[keys[0]] for e in entities)
