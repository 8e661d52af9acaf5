"""Health-gated promotion: after `champion` moves, prove the new version serves, else roll back.

`promote_with_health_gate` runs after the alias move (the deployment step):
1. smoke test in a sandbox: a child process (`python -m retrain_platform.core.deployment.promotion`)
   loads `models:/<name>/<version>` and scores sample rows; it must exit 0 with one finite score
   in [0, 1] per row. A model that cannot load or score (or crashes the interpreter) fails here
   without touching the caller;
2. when a service URL is given, poll its `/health` until it reports the new version (its reload
   thread picked the alias up) within `timeout`;
3. on any failure: `champion` back to `previous` (`registry.rollback`) and a `rollback` row
   appended to the decision history, with the reason.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from retrain_platform.core.deployment.decisions import ROLLBACK, Decision, append_decision
from retrain_platform.core.deployment.registry import CHAMPION, alias_version, rollback
from retrain_platform.core.models.mlflow_store import MlflowStore

HEALTH_GATE = "health_gate"


@dataclass(frozen=True)
class GateOutcome:
    """What the health gate found and did."""

    version: int
    passed: bool
    stage: str  # smoke | health | done
    reason: str
    rolled_back_to: int | None = None
    smoke_seconds: float = 0.0
    health_seconds: float = 0.0


def smoke_test(
    store: MlflowStore,
    name: str,
    version: int,
    rows: Sequence[Sequence[float]],
    *,
    timeout: float = 120.0,
) -> tuple[bool, str]:
    """Load and score `rows` (model-feature order) in a child process; (passed, reason)."""
    request = json.dumps(
        {
            "tracking_uri": store.tracking_uri,
            "registry_uri": store.registry,
            "name": name,
            "version": version,
            "rows": [list(r) for r in rows],
        }
    )
    try:
        done = subprocess.run(
            [sys.executable, "-m", __name__],
            input=request,
            text=True,
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return False, f"smoke test: no answer within {timeout:.0f}s"
    if done.returncode != 0:
        tail = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
        return False, f"smoke test: exit {done.returncode}: {tail}"
    try:
        scores = json.loads(done.stdout.strip().splitlines()[-1])["scores"]
    except (ValueError, KeyError, IndexError):
        return False, "smoke test: unreadable answer"
    if len(scores) != len(rows):
        return False, f"smoke test: {len(scores)} scores for {len(rows)} rows"
    bad = [s for s in scores if not (isinstance(s, float) and math.isfinite(s) and 0 <= s <= 1)]
    if bad:
        return False, f"smoke test: scores outside [0, 1]: {bad[:3]}"
    return True, f"smoke test: {len(scores)} rows scored"


def wait_for_version(
    service_url: str, version: int, *, timeout: float, interval: float = 0.25
) -> tuple[bool, str]:
    """Poll `{service_url}/health` until it reports `model_version == version`."""
    import httpx

    deadline = time.monotonic() + timeout
    last = "no answer"
    with httpx.Client(base_url=service_url, timeout=min(5.0, timeout)) as client:
        while True:
            try:
                health = client.get("/health").json()
                served, status = health.get("model_version"), health.get("status")
                last = f"serving version {served}, status {status}"
                if health.get("model_version") == version and health.get("status") == "ok":
                    return True, f"health: {last}"
            except (httpx.HTTPError, ValueError) as exc:
                last = f"{type(exc).__name__}: {exc}"
            if time.monotonic() >= deadline:
                return False, f"health: version {version} not served within {timeout:.0f}s ({last})"
            time.sleep(interval)


def promote_with_health_gate(
    store: MlflowStore,
    name: str,
    version: int,
    sample_rows: Sequence[Sequence[float]],
    *,
    decisions_uri: str,
    dataset: str,
    service_url: str | None = None,
    timeout: float = 60.0,
    smoke_timeout: float = 120.0,
    storage_options: Mapping[str, str] | None = None,
    trigger: str = HEALTH_GATE,
) -> GateOutcome:
    """Gate the champion `version` the deployment step just promoted (see the module doc).

    `sample_rows` are model inputs in the model's feature order (e.g. a few holdout rows of
    the training set). `timeout` bounds the wait for the service, `smoke_timeout` the sandbox
    (which imports MLflow: seconds). Returns the outcome; on failure the rollback is done.
    """
    client = store.client()
    started = time.monotonic()
    passed, reason = smoke_test(store, name, version, sample_rows, timeout=smoke_timeout)
    stage = "smoke"
    smoke_seconds = time.monotonic() - started
    health_seconds = 0.0
    if passed and service_url:
        stage = "health"
        started = time.monotonic()
        passed, reason = wait_for_version(service_url, version, timeout=timeout)
        health_seconds = time.monotonic() - started
    if passed:
        return GateOutcome(version, True, "done", reason, None, smoke_seconds, health_seconds)
    before = alias_version(client, name, CHAMPION)
    move = rollback(client, name)
    append_decision(
        decisions_uri,
        Decision(
            decided_at=datetime.now(timezone.utc),
            event=ROLLBACK,
            dataset=dataset,
            trigger=trigger,
            reason=reason,
            promoted=False,
            champion_before=before,
            champion_after=move.champion,
            previous_after=move.previous,
            model_version=version,
        ),
        storage_options,
    )
    return GateOutcome(version, False, stage, reason, move.champion, smoke_seconds, health_seconds)


def _sandbox(request: dict[str, Any]) -> dict[str, Any]:
    """The child's work: load the version by number and score the rows."""
    import mlflow
    import mlflow.lightgbm
    import numpy as np

    mlflow.set_tracking_uri(request["tracking_uri"])
    mlflow.set_registry_uri(request["registry_uri"])
    booster = mlflow.lightgbm.load_model(f"models:/{request['name']}/{request['version']}")
    rows = np.asarray(request["rows"], dtype=np.float64)
    if rows.ndim != 2 or rows.shape[1] != booster.num_feature():
        msg = f"rows have {rows.shape[-1]} columns, the model takes {booster.num_feature()}"
        raise ValueError(msg)
    return {"scores": [float(s) for s in booster.predict(rows, num_threads=1)]}


if __name__ == "__main__":
    print(json.dumps(_sandbox(json.loads(sys.stdin.read()))))
