"""Verify a registered version before `champion` moves to it, in a child process (InfraValidator).

One child process (`python -m retrain_platform.core.deployment.verification`) loads the version
with the loader the prediction service uses (`core.models.loading`: the text model file, its
sha256 checked) and answers:
- the golden requests: holdout rows the evaluation gate scored, recorded with the gate's offline
  predictions (`gate/golden.json` on the candidate run); each answer must match within
  `GOLDEN_TOLERANCE`, and every score must be a finite probability;
- `LATENCY_REQUESTS` single-row predictions, one thread each as the service scores: their p99
  must stay within the policy's `max_p99_ms`;
- the size of `model.lgb` must stay within `max_model_mb`.
A model that cannot load, or crashes the interpreter (a corrupt file can make LightGBM segfault),
fails here as "killed by signal 11" and never touches the caller. Child output is read leniently
(bytes that are not UTF-8 are replaced; LightGBM echoes what it failed to parse) and clipped.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from retrain_platform.core.bounded import clip_text
from retrain_platform.core.models.mlflow_store import MlflowStore

GOLDEN_RECORD = "gate/golden.json"
GOLDEN_ROWS = 20
GOLDEN_TOLERANCE = 1e-6
LATENCY_REQUESTS = 200
ERROR_CHARS = 600  # room for an integrity error's two sha256 digests
CHILD_ENV = {"MLFLOW_ALLOW_PICKLE_DESERIALIZATION": "false"}


@dataclass(frozen=True)
class GoldenRequests:
    """Model inputs (model-feature order, None for missing) and the offline scores for them."""

    features: tuple[str, ...]
    rows: list[list[float | None]]
    scores: list[float] | None = None

    def record(self) -> dict[str, Any]:
        return {"features": list(self.features), "rows": self.rows, "scores": self.scores}

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> GoldenRequests:
        scores = record.get("scores")
        return cls(tuple(record["features"]), list(record["rows"]), scores)


def golden_requests(
    matrix: Any, scores: Any, features: Sequence[str], limit: int = GOLDEN_ROWS
) -> GoldenRequests:
    """The first `limit` rows of a float matrix and their scores, as JSON-safe golden requests."""
    rows = [[None if math.isnan(v) else float(v) for v in row] for row in matrix[:limit].tolist()]
    return GoldenRequests(tuple(features), rows, [float(s) for s in scores[:limit]])


def record_golden(store: MlflowStore, run_id: str, golden: GoldenRequests) -> None:
    """Attach the golden requests to the candidate run (`GOLDEN_RECORD`)."""
    store.client().log_dict(run_id, golden.record(), GOLDEN_RECORD)


def load_golden(store: MlflowStore, run_id: str) -> GoldenRequests | None:
    """The run's golden requests, None when it has none (a version from before they existed)."""
    import mlflow
    from mlflow.exceptions import MlflowException

    store.activate()
    try:
        record = mlflow.artifacts.load_dict(f"runs:/{run_id}/{GOLDEN_RECORD}")
    except (MlflowException, OSError):
        return None
    return GoldenRequests.from_record(record)


@dataclass(frozen=True)
class Budgets:
    """Serving budgets of a candidate (None: not checked)."""

    max_p99_ms: float | None = None
    max_model_mb: float | None = None


@dataclass(frozen=True)
class Verification:
    """What the child found: passed, why (every failure), and the measured figures."""

    passed: bool
    reason: str
    failures: tuple[str, ...] = ()
    p99_ms: float | None = None
    model_mb: float | None = None
    sha256: str | None = None


def judge(
    answer: Mapping[str, Any],
    rows: int,
    expected: Sequence[float] | None,
    budgets: Budgets,
) -> Verification:
    """Judge the child's answer against the golden scores and the budgets (all failures)."""
    scores = list(answer.get("scores") or [])
    p99, size = answer.get("p99_ms"), answer.get("model_mb")
    failures: list[str] = []
    if len(scores) != rows:
        failures.append(f"verification: {len(scores)} scores for {rows} requests")
    bad = [s for s in scores if not (isinstance(s, float) and math.isfinite(s) and 0 <= s <= 1)]
    if bad:
        failures.append(f"verification: scores outside [0, 1]: {clip_text(bad[:3])}")
    worst = 0.0
    if expected is not None and len(scores) == len(expected) and not bad:
        gaps = [abs(s - e) for s, e in zip(scores, expected, strict=True)]
        worst = max(gaps, default=0.0)
        off = sum(g > GOLDEN_TOLERANCE for g in gaps)
        if off:
            failures.append(
                f"golden: {off} of {len(gaps)} predictions differ from the offline ones by more "
                f"than {GOLDEN_TOLERANCE:g} (max {worst:.3g})"
            )
    if budgets.max_p99_ms is not None and p99 is not None and p99 > budgets.max_p99_ms:
        failures.append(f"latency: p99 {p99:.3f} ms over the budget of {budgets.max_p99_ms:g} ms")
    if budgets.max_model_mb is not None and size is not None and size > budgets.max_model_mb:
        failures.append(f"size: model {size:.3f} MB over the budget of {budgets.max_model_mb:g} MB")
    if failures:
        return Verification(False, "; ".join(failures), tuple(failures), p99, size)
    golden = (
        f"{len(scores)} golden requests match the offline scores (max difference {worst:.2g})"
        if expected is not None
        else f"{len(scores)} requests scored (no offline scores recorded)"
    )
    return Verification(
        True,
        f"verified: {golden}, p99 {p99:.3f} ms, {size:.3f} MB",
        (),
        p99,
        size,
        answer.get("sha256"),
    )


def _last_line(output: bytes) -> str:
    """The last non-empty line, decoded leniently (only `\n` ends a line: `str.splitlines` would
    also split on control characters a binary echo contains)."""
    lines = [line for line in output.decode("utf-8", errors="replace").split("\n") if line.strip()]
    return lines[-1].strip() if lines else ""


def child_failure(returncode: int, stdout: bytes, stderr: bytes) -> str:
    """Why the child failed: the signal that killed it, its reported error, or its last words."""
    if returncode < 0:
        try:
            name = f" ({signal.Signals(-returncode).name})"
        except ValueError:
            name = ""
        return f"verification: child killed by signal {-returncode}{name}"
    try:
        error = json.loads(_last_line(stdout))["error"]
        return f"verification: {clip_text(error, ERROR_CHARS)}"
    except (ValueError, KeyError, IndexError, TypeError):
        pass
    return f"verification: exit {returncode}: {clip_text(_last_line(stderr) or '(no output)')}"


def verify_in_child(
    store: MlflowStore,
    name: str,
    version: int,
    rows: Sequence[Sequence[float | None]],
    *,
    expected_scores: Sequence[float] | None = None,
    budgets: Budgets | None = None,
    timeout: float = 120.0,
) -> Verification:
    """Load `name` version `version` in a child process and judge it (see the module doc)."""
    request = {
        "tracking_uri": store.tracking_uri,
        "registry_uri": store.registry,
        "artifact_root": store.artifact_root,
        "name": name,
        "version": version,
        "rows": [list(r) for r in rows],
        "latency_requests": LATENCY_REQUESTS,
    }
    try:
        done = subprocess.run(
            [sys.executable, "-m", __name__],
            input=json.dumps(request).encode(),
            capture_output=True,
            timeout=timeout,
            check=False,
            env={**os.environ, **CHILD_ENV},
        )
    except subprocess.TimeoutExpired:
        return Verification(False, f"verification: no answer within {timeout:.0f}s")
    if done.returncode != 0:
        reason = child_failure(done.returncode, done.stdout, done.stderr)
        return Verification(False, reason, (reason,))
    try:
        answer = json.loads(_last_line(done.stdout))
    except ValueError:
        return Verification(False, "verification: unreadable answer")
    return judge(answer, len(rows), expected_scores, budgets or Budgets())


def _child(request: Mapping[str, Any]) -> dict[str, Any]:
    """The child's work: load as the service loads, score, time single rows, measure the size."""
    import numpy as np

    from retrain_platform.core.models.loading import load_registered_booster

    store = MlflowStore(request["tracking_uri"], request["artifact_root"], request["registry_uri"])
    loaded = load_registered_booster(store, request["name"], int(request["version"]))
    booster = loaded.booster
    rows = np.asarray(request["rows"], dtype=np.float64)
    if rows.ndim != 2 or rows.shape[0] == 0 or rows.shape[1] != booster.num_feature():
        msg = f"requests have {rows.shape[-1]} columns, the model takes {booster.num_feature()}"
        raise ValueError(msg)
    scores = booster.predict(rows, num_threads=1)
    timings = []
    for i in range(int(request["latency_requests"])):
        row = rows[i % len(rows)][None, :]
        started = time.perf_counter()
        booster.predict(row, num_threads=1)
        timings.append(time.perf_counter() - started)
    return {
        "scores": [float(s) for s in scores],
        "p99_ms": float(np.percentile(timings, 99) * 1000),
        "model_mb": loaded.size_mb,
        "sha256": loaded.sha256,
    }


def _main() -> int:
    try:
        answer = _child(json.loads(sys.stdin.read()))
    except Exception as exc:  # noqa: BLE001 - reported to the parent, which decides
        print(json.dumps({"error": f"{type(exc).__name__}: {exc}"}))
        return 1
    print(json.dumps(answer))
    return 0


if __name__ == "__main__":
    sys.exit(_main())
