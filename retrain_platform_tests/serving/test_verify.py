"""Verify before swap: the child check of a version, and the watcher keeping its model when the
check fails."""

from __future__ import annotations

import math
import sys
import threading

import pytest

from retrain_platform.core.deployment.registry import CHAMPION
from retrain_platform.serving.models import ModelRegistryWatcher
from retrain_platform.serving.verify import golden_rows, judge, verify_version


def test_a_registered_version_passes_in_a_child_process(world):
    verdict = verify_version(world.store, world.name, 1, inputs=world.features, timeout=120)
    assert verdict.passed, verdict.reason
    assert "golden rows scored" in verdict.reason


def test_a_version_needing_inputs_the_service_lacks_fails(world):
    verdict = verify_version(world.store, world.name, 3, inputs=world.features[3:], timeout=120)
    assert not verdict.passed
    assert "inputs the service does not have" in verdict.reason
    assert world.features[0] in verdict.reason


def test_a_child_that_crashes_is_a_failed_check_naming_the_signal(world):
    crash = [sys.executable, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)"]
    verdict = verify_version(world.store, world.name, 1, command=crash, timeout=60)
    assert not verdict.passed and "SIGSEGV" in verdict.reason
    failing = [sys.executable, "-c", "import sys; sys.exit('model.lgb is not a model')"]
    verdict = verify_version(world.store, world.name, 1, command=failing, timeout=60)
    assert not verdict.passed and "exited 1" in verdict.reason
    assert "model.lgb is not a model" in verdict.reason
    garbled = [
        sys.executable,
        "-c",
        "import sys; sys.stderr.buffer.write(b'met \\xff\\xfe'); sys.exit(3)",
    ]
    verdict = verify_version(world.store, world.name, 1, command=garbled, timeout=60)
    assert not verdict.passed and "exited 3" in verdict.reason and "met" in verdict.reason
    silent = [sys.executable, "-c", "print('no answer line')"]
    verdict = verify_version(world.store, world.name, 1, command=silent, timeout=60)
    assert not verdict.passed and "unreadable answer" in verdict.reason


@pytest.mark.parametrize(
    ("scores", "wanted"),
    [
        ([0.5, 0.5, math.nan, 0.5], "outside [0, 1]"),
        ([0.5, 0.5, 1.5, 0.5], "outside [0, 1]"),
        ([0.5], "1 scores for 4 golden rows"),
    ],
)
def test_golden_scores_must_be_finite_probabilities(scores, wanted):
    verdict = judge(7, ["a", "b"], scores, None)
    assert not verdict.passed and wanted in verdict.reason
    assert judge(7, ["a", "b"], [0.1, 0.2, 0.3, 0.4], {"a", "b"}).passed


def test_golden_rows_have_the_model_width():
    rows = golden_rows(5)
    assert {len(r) for r in rows} == {5} and any(math.isnan(v) for v in rows[1])


def test_the_watcher_keeps_its_model_when_the_check_fails_and_retries_later(world, champion_is_1):
    calls: list[int] = []
    rejections: list[tuple[str, int, str]] = []
    verdicts = {2: "the check process died of SIGSEGV: (no output)"}
    lock = threading.Lock()

    def verifier(version: int) -> str | None:
        with lock:
            calls.append(version)
        return verdicts.get(version)

    watcher = ModelRegistryWatcher(
        world.store,
        world.name,
        [CHAMPION],
        verifier=verifier,
        on_reject=lambda alias, r: rejections.append((alias, r.version, r.reason)),
        retry_seconds=3600,
    )
    watcher.refresh()
    assert watcher.slot(CHAMPION).version == 1 and calls == [1]
    world.store.client().set_registered_model_alias(world.name, CHAMPION, "2")
    watcher.refresh()
    watcher.refresh()  # within retry_seconds: not checked again
    slot = watcher.slot(CHAMPION)
    assert slot.version == 1 and calls == [1, 2]
    assert rejections == [(CHAMPION, 2, verdicts[2])]
    assert slot.rejected is not None and slot.rejected.version == 2
    assert "version 2 rejected" in (slot.last_error or "")
    watcher.retry_seconds = 0.0
    del verdicts[2]  # e.g. the file was restored
    watcher.refresh()
    assert slot.version == 2 and slot.rejected is None and slot.last_error is None
    assert calls == [1, 2, 2]
