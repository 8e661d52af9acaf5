"""Judging the verification child: golden scores, budgets, and how a dead child is reported.

Pure functions of `core.deployment.verification` only (no child process, no registry); the child
itself runs in `test_promotion.py` and `reliability/test_model_faults.py`.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from retrain_platform.core.bounded import MAX_VALUE_CHARS
from retrain_platform.core.deployment.verification import (
    GOLDEN_TOLERANCE,
    Budgets,
    GoldenRequests,
    child_failure,
    golden_requests,
    judge,
)

SCORES = [0.1, 0.5, 0.9]


def _answer(scores=SCORES, p99=2.0, mb=0.05):  # noqa: ANN001, ANN202
    return {"scores": list(scores), "p99_ms": p99, "model_mb": mb, "sha256": "ab" * 32}


def test_matching_scores_within_budget_pass():
    verdict = judge(_answer(), 3, SCORES, Budgets(max_p99_ms=50, max_model_mb=200))
    assert verdict.passed and verdict.failures == ()
    assert verdict.p99_ms == 2.0 and verdict.model_mb == 0.05 and verdict.sha256 == "ab" * 32
    assert "3 golden requests match" in verdict.reason


def test_every_failure_is_listed():
    drifted = [SCORES[0] + 10 * GOLDEN_TOLERANCE, *SCORES[1:]]
    verdict = judge(_answer(drifted, p99=80.0, mb=250.0), 3, SCORES, Budgets(50, 200))
    assert not verdict.passed
    kinds = [f.split(":")[0] for f in verdict.failures]
    assert kinds == ["golden", "latency", "size"]
    assert "1 of 3 predictions differ" in verdict.failures[0]
    assert "p99 80.000 ms over the budget of 50 ms" in verdict.failures[1]
    assert "model 250.000 MB over the budget of 200 MB" in verdict.failures[2]
    assert verdict.reason == "; ".join(verdict.failures)


def test_a_difference_within_the_tolerance_passes():
    close = [s + GOLDEN_TOLERANCE / 2 for s in SCORES]
    assert judge(_answer(close), 3, SCORES, Budgets()).passed


@pytest.mark.parametrize(
    ("scores", "expected"),
    [([0.1, 0.5], "2 scores for 3 requests"), ([0.1, math.nan, 1.5], "outside [0, 1]")],
)
def test_missing_or_impossible_scores_fail(scores, expected):
    verdict = judge(_answer(scores), 3, None, Budgets())
    assert not verdict.passed and expected in verdict.reason


def test_no_budget_means_not_checked():
    assert judge(_answer(p99=1e6, mb=1e6), 3, None, Budgets()).passed


def test_a_child_killed_by_a_signal_is_named():
    assert child_failure(-11, b"", b"") == "verification: child killed by signal 11 (SIGSEGV)"
    assert child_failure(-6, b"", b"\xff") == "verification: child killed by signal 6 (SIGABRT)"


def test_binary_output_of_a_failed_child_is_decoded_and_clipped():
    stderr = b"[LightGBM] [Fatal] Model format error, met \xa4\x7f\xd0\x1c" + b"\x80" * 5000
    reason = child_failure(1, b"\xff\xfe not json\n", stderr)
    assert reason.startswith("verification: exit 1: [LightGBM] [Fatal]")
    assert "\ufffd" in reason and len(reason) < MAX_VALUE_CHARS + 60


def test_an_error_the_child_reports_is_the_reason():
    stdout = json.dumps({"error": "ModelIntegrityError: model 'm' version 2: " + "x" * 300})
    reason = child_failure(1, stdout.encode(), b"Traceback ...")
    assert reason.startswith("verification: ModelIntegrityError: model 'm' version 2")


def test_golden_requests_are_json_safe_and_round_trip():
    matrix = np.array([[1.0, np.nan], [2.0, 3.0], [4.0, 5.0]])
    golden = golden_requests(matrix, np.array([0.2, 0.4, 0.6]), ["a", "b"], limit=2)
    assert golden.rows == [[1.0, None], [2.0, 3.0]] and golden.scores == [0.2, 0.4]
    record = json.loads(json.dumps(golden.record(), allow_nan=False))
    assert GoldenRequests.from_record(record) == golden
