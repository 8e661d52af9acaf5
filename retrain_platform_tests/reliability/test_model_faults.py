"""The model fault matrix: hostile or damaged model artifacts against every platform load.

- a malicious artifact (its `MLmodel` rewritten to a cloudpickle scikit-learn class whose payload
  creates a marker file): the payload is live (MLflow's own loader runs it in a control process
  with pickle allowed), yet no platform load runs it: the in-process loader, the service's
  `load_version` and the verification child all parse `model.lgb`; without a `model.lgb` the
  load is refused; the package forces `MLFLOW_ALLOW_PICKLE_DESERIALIZATION=false` even over a
  user's `true`, so MLflow's loader refuses the pickle in a platform process too;
- a damaged candidate at promotion (truncated with its recorded digest, truncated and re-digested,
  trees spliced so LightGBM aborts): the gate refuses it in its child, the champion stays, and
  the caller (this test process) lives on; the service's loader refuses the damaged file too.
Uses a real local MLflow registry on tmp_path and real child processes.
"""

from __future__ import annotations

import os
import pickle
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from retrain_platform.core.deployment.decisions import read_decisions
from retrain_platform.core.deployment.promotion import promote_with_health_gate
from retrain_platform.core.deployment.registry import CHAMPION, alias_version
from retrain_platform.core.deployment.verification import verify_in_child
from retrain_platform.core.models.loading import (
    MODEL_FILE,
    TAG_MODEL_SHA256,
    ModelIntegrityError,
    digest,
    load_registered_booster,
)
from retrain_platform.core.models.mlflow_store import MlflowStore
from retrain_platform.serving.models import load_version
from retrain_platform_tests.fixtures.registry import (
    model_dir,
    register,
    rows,
    small_booster,
    tmp_store,
)

NAME = "faults"
PICKLE_FLAG = "MLFLOW_ALLOW_PICKLE_DESERIALIZATION"


class _Payload:
    """Unpickling this calls `open(marker, "w")`: code from the artifact, made visible."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):  # noqa: ANN204
        return (open, (str(self.marker), "w"))


def _make_malicious(store: MlflowStore, version: int, marker: Path, *, keep_lgb: bool) -> None:
    folder = model_dir(store, NAME, version)
    mlmodel = yaml.safe_load((folder / "MLmodel").read_text())
    flavor = mlmodel["flavors"]["lightgbm"]
    flavor.update(
        model_class="lightgbm.sklearn.LGBMClassifier",
        serialization_format="cloudpickle",
        data="model.pkl",
    )
    (folder / "MLmodel").write_text(yaml.safe_dump(mlmodel))
    (folder / "model.pkl").write_bytes(pickle.dumps(_Payload(marker)))
    if not keep_lgb:
        (folder / MODEL_FILE).unlink()


def _mlflow_load_in_child(store: MlflowStore, version: int, *, flag: str, platform: bool) -> str:
    """`mlflow.lightgbm.load_model` in a fresh process; its stderr tail."""
    script = "\n".join(
        [
            "import mlflow, mlflow.lightgbm",
            "import retrain_platform" if platform else "",
            f"mlflow.set_tracking_uri({store.tracking_uri!r})",
            f"mlflow.set_registry_uri({store.registry!r})",
            f"mlflow.lightgbm.load_model('models:/{NAME}/{version}')",
        ]
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        env={**os.environ, PICKLE_FLAG: flag},
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stderr[-2000:]


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    store = tmp_store(tmp_path_factory.mktemp("faults"))
    boosters = [small_booster(seed=s) for s in range(7)]
    for version, booster in enumerate(boosters, 1):
        assert register(store, NAME, booster) == version
    store.client().set_registered_model_alias(NAME, CHAMPION, "1")
    return store, boosters


def test_no_platform_load_runs_code_from_a_malicious_artifact(registry, tmp_path):
    store, boosters = registry
    marker = tmp_path / "pwned"
    _make_malicious(store, 2, marker, keep_lgb=True)
    _mlflow_load_in_child(store, 2, flag="true", platform=False)
    assert marker.exists(), "control: the payload should run through MLflow's own loader"
    marker.unlink()

    loaded = load_registered_booster(store, NAME, 2)
    np.testing.assert_array_equal(loaded.booster.predict(rows()), boosters[1].predict(rows()))
    assert load_version(store, NAME, 2).version == 2
    verdict = verify_in_child(
        store, NAME, 2, rows(5).tolist(), expected_scores=boosters[1].predict(rows(5)).tolist()
    )
    assert verdict.passed, verdict.reason
    assert not marker.exists()


def test_the_package_forces_pickle_loading_off_and_mlflow_then_refuses(registry, tmp_path):
    store, _ = registry
    marker = tmp_path / "pwned"
    _make_malicious(store, 3, marker, keep_lgb=True)
    assert os.environ[PICKLE_FLAG] == "false"
    stderr = _mlflow_load_in_child(store, 3, flag="true", platform=True)
    assert "MLFLOW_ALLOW_PICKLE_DESERIALIZATION" in stderr and "disallowed" in stderr
    assert not marker.exists()


def test_an_artifact_with_only_the_pickle_is_refused(registry, tmp_path):
    store, _ = registry
    marker = tmp_path / "pwned"
    _make_malicious(store, 4, marker, keep_lgb=False)
    with pytest.raises(ModelIntegrityError, match=f"version 4: no readable {MODEL_FILE}"):
        load_registered_booster(store, NAME, 4)
    verdict = verify_in_child(store, NAME, 4, rows(5).tolist())
    assert not verdict.passed and "no readable model.lgb" in verdict.reason
    assert not marker.exists()


def _spliced(text: str) -> str:
    """The trees cut in half with the rest of the file intact: LightGBM aborts parsing it."""
    trees, tail = text.split("\nend of trees\n")
    return trees[: len(trees) // 2] + "\nend of trees\n" + tail


def _damage(store: MlflowStore, version: int, how: str) -> None:
    path = model_dir(store, NAME, version) / MODEL_FILE
    text = path.read_text()
    damaged = _spliced(text) if how == "spliced" else text[: int(len(text) * 0.7)]
    path.write_text(damaged)
    if how != "truncated":  # registered damaged: the recorded digest is the damaged file's
        store.client().set_model_version_tag(
            NAME, str(version), TAG_MODEL_SHA256, digest(damaged.encode())
        )


@pytest.mark.parametrize(
    ("version", "how", "expected"),
    [
        (5, "truncated", r"model 'faults' version 5: model\.lgb has sha256 [0-9a-f]{64}, but "),
        (6, "truncated_redigested", r"version 6: model\.lgb is not a complete LightGBM model"),
        (7, "spliced", r"verification: child killed by signal \d+ \(SIG[A-Z]+\)"),
    ],
)
def test_a_damaged_candidate_is_refused_and_the_champion_stays(
    registry, tmp_path, version, how, expected
):
    store, _ = registry
    _damage(store, version, how)
    decisions = str(tmp_path / "decisions")
    outcome = promote_with_health_gate(
        store, NAME, version, rows(5).tolist(), decisions_uri=decisions, dataset="toy"
    )
    assert not outcome.passed and outcome.stage == "smoke" and not outcome.moved
    assert re.search(expected, outcome.reason), outcome.reason
    assert alias_version(store.client(), NAME, CHAMPION) == 1
    assert read_decisions(decisions).is_empty()
    if how != "spliced":  # the service's loader refuses it in-process without crashing
        with pytest.raises(ModelIntegrityError):
            load_version(store, NAME, version)
