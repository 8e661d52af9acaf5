"""Verify before swap: a new model version is loaded and scored in a child process first.

A damaged model file can crash the interpreter that loads it (a truncated `model.lgb` ends
LightGBM's parser with SIGSEGV or SIGABRT inside `lib_lightgbm.so`), which no `try` catches. So
before the service loads a version the registry alias moved to, `verify_version` runs
`python -m retrain_platform.serving.verify` (a new interpreter through `subprocess`, never a
fork of the serving process and its Delta/Tokio runtime) that loads the version with the
serving code itself (`models.load_version`; MLflow's pickle deserialization off, as in the
promotion check) and scores golden rows of the model's feature width. The version passes only if
the child exits 0 with one finite probability in [0, 1] per row, and every input the model names
is one the service can supply. Otherwise the service keeps the model it has and reports the
verdict (`/health`, `/metrics`).

The check costs one interpreter start (about two seconds) per alias move, on the reload thread;
requests never wait for it.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from retrain_platform.core.bounded import clip_text
from retrain_platform.core.deployment.verification import CHILD_ENV
from retrain_platform.core.models.mlflow_store import MlflowStore

_ANSWER = "VERIFY-ANSWER "  # the child's result line (LightGBM may print to stdout too)


@dataclass(frozen=True)
class Verdict:
    """What the child check found for one version."""

    version: int
    passed: bool
    reason: str


def golden_rows(width: int) -> list[list[float]]:
    """Rows any model of `width` inputs must score: zeros, all missing, ones, alternating signs."""
    return [
        [0.0] * width,
        [math.nan] * width,
        [1.0] * width,
        [(-1.0) ** i * (i + 1) for i in range(width)],
    ]


def _died(returncode: int) -> str:
    if returncode < 0:
        try:
            return f"the check process died of {signal.Signals(-returncode).name}"
        except ValueError:
            return f"the check process died of signal {-returncode}"
    return f"the check process exited {returncode}"


def _tail(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return clip_text(lines[-1]) if lines else "(no output)"


def verify_version(
    store: MlflowStore,
    name: str,
    version: int,
    *,
    inputs: Collection[str] | None = None,
    timeout: float = 120.0,
    command: Sequence[str] | None = None,
) -> Verdict:
    """Load and score `models:/<name>/<version>` in a child process (see the module doc);
    `inputs` are the features the service can supply (None: not checked). `command` replaces
    the child's command line (default: this module on the running interpreter)."""
    request = json.dumps(
        {
            "tracking_uri": store.tracking_uri,
            "artifact_root": store.artifact_root,
            "registry_uri": store.registry_uri,
            "name": name,
            "version": version,
        }
    )
    try:
        done = subprocess.run(  # noqa: S603 - our own interpreter and module
            list(command or (sys.executable, "-m", __name__)),
            input=request,
            encoding="utf-8",
            errors="replace",  # LightGBM echoes the bytes it failed to parse
            capture_output=True,
            timeout=timeout,
            check=False,
            env={**os.environ, **CHILD_ENV},
        )
    except subprocess.TimeoutExpired:
        return Verdict(version, False, f"the check process gave no answer within {timeout:g}s")
    if done.returncode != 0:
        return Verdict(version, False, f"{_died(done.returncode)}: {_tail(done.stderr)}")
    answers = [ln for ln in done.stdout.splitlines() if ln.startswith(_ANSWER)]
    try:
        answer = json.loads(answers[-1][len(_ANSWER) :])
        features, scores = list(answer["features"]), list(answer["scores"])
    except (IndexError, ValueError, KeyError, TypeError):
        return Verdict(version, False, "the check process gave an unreadable answer")
    return judge(version, features, scores, inputs)


def judge(
    version: int, features: list[str], scores: list[Any], inputs: Collection[str] | None
) -> Verdict:
    """The verdict on a child's answer: scores of the golden rows, inputs the service has."""
    expected = len(golden_rows(len(features)))
    if len(scores) != expected:
        return Verdict(version, False, f"{len(scores)} scores for {expected} golden rows")
    bad = [s for s in scores if not (isinstance(s, float) and math.isfinite(s) and 0 <= s <= 1)]
    if bad:
        return Verdict(version, False, f"golden rows scored outside [0, 1]: {clip_text(bad[:3])}")
    if inputs is not None:
        unknown = [f for f in features if f not in inputs]
        if unknown:
            msg = f"the model needs inputs the service does not have: {clip_text(unknown)}"
            return Verdict(version, False, msg)
    return Verdict(version, True, f"loaded in a child process, {expected} golden rows scored")


def _check(request: dict[str, Any]) -> dict[str, Any]:
    """The child's work: the serving loader, then the golden rows."""
    import numpy as np

    from retrain_platform.serving.models import load_version

    store = MlflowStore(
        tracking_uri=request["tracking_uri"],
        artifact_root=request["artifact_root"],
        registry_uri=request["registry_uri"],
    )
    model = load_version(store, request["name"], int(request["version"]))
    rows = np.asarray(golden_rows(len(model.features)), dtype=np.float64)
    scores = model.predict(rows)
    return {"features": list(model.features), "scores": [float(s) for s in scores]}


if __name__ == "__main__":
    print(_ANSWER + json.dumps(_check(json.loads(sys.stdin.read()))), flush=True)
