"""The evaluation gate as a pure function: every path, on controlled scores.

Scores are drawn from seeded distributions with a chosen separation between the classes, so each
test states how good each model is; no training, no MLflow, no Dagster.
"""

import numpy as np
import polars as pl
import pytest

from retrain_platform.contracts import DatasetContract
from retrain_platform.core.models.gate import (
    BELOW_MINIMUM,
    INCONCLUSIVE,
    REGRESSION,
    SLICE_REGRESSION,
    GateFailure,
    evaluate_gate,
    with_failure,
)
from retrain_platform_tests.fixtures.models import with_policy


def _holdout(
    contract: DatasetContract, rows: int, *, seed: int, atm_share: float = 0.1
) -> tuple[pl.DataFrame, np.ndarray, np.random.Generator]:
    rng = np.random.default_rng(seed)
    labels = (rng.random(rows) < 0.2).astype(np.int8)
    share = (1 - atm_share) / 2
    channel = rng.choice(["pos", "online", "atm"], size=rows, p=[share, share, atm_share])
    frame = pl.DataFrame({contract.label_name: labels, "channel": channel})
    return frame, labels, rng


def _scores(labels: np.ndarray, rng: np.random.Generator, separation: float) -> np.ndarray:
    """Probabilities whose ROC-AUC grows with `separation` (0: random)."""
    z = separation * (labels * 2 - 1) + rng.normal(size=labels.size)
    return 1 / (1 + np.exp(-z))


@pytest.fixture
def contract_threshold(contract: DatasetContract) -> DatasetContract:
    assert contract.policy.slice_columns == ("channel",)
    return with_policy(contract, min_roc_auc=0.75, min_recall_at_threshold=0.3)


def test_first_deployment_uses_the_minimums_only(contract_threshold):
    frame, labels, rng = _holdout(contract_threshold, 4000, seed=1)
    verdict = evaluate_gate(frame, _scores(labels, rng, 1.4), None, contract_threshold)
    assert verdict.passed and verdict.first_deployment
    assert verdict.champion is None and verdict.interval is None and verdict.tolerance is None
    assert verdict.challenger["roc_auc"] > 0.9
    assert {s.status for s in verdict.slices} == {"no champion"}


def test_first_deployment_below_a_minimum_fails(contract_threshold):
    frame, labels, rng = _holdout(contract_threshold, 4000, seed=1)
    weak = _scores(labels, rng, 0.3)
    verdict = evaluate_gate(frame, weak, None, contract_threshold)
    assert not verdict.passed
    assert [(f.kind, f.metric) for f in verdict.failures] == [(BELOW_MINIMUM, "roc_auc")]
    assert verdict.failures[0].value == pytest.approx(verdict.challenger["roc_auc"])
    assert verdict.failures[0].bound == 0.75


def test_every_minimum_missed_is_listed(contract_threshold):
    frame, labels, rng = _holdout(contract_threshold, 4000, seed=2)
    # a weak model whose scores are all below the decision threshold: low AUC and no recall
    low = _scores(labels, rng, 0.3) * 0.2
    verdict = evaluate_gate(frame, low, None, contract_threshold)
    assert {f.metric for f in verdict.failures} == {"roc_auc", "recall_at_threshold"}
    assert verdict.challenger["recall_at_threshold"] == 0.0
    assert all("bound" in message for message in verdict.messages)


def test_better_challenger_passes(contract_threshold):
    frame, labels, rng = _holdout(contract_threshold, 4000, seed=3)
    champion, challenger = _scores(labels, rng, 1.0), _scores(labels, rng, 1.6)
    verdict = evaluate_gate(frame, challenger, champion, contract_threshold)
    assert verdict.passed and not verdict.first_deployment
    assert verdict.challenger["roc_auc"] > verdict.champion["roc_auc"]
    assert {s.status for s in verdict.slices} == {"compared"}


def test_challenger_passing_minimums_fails_against_a_strong_champion(contract_threshold):
    contract = with_policy(contract_threshold, slice_columns=())
    frame, labels, rng = _holdout(contract, 4000, seed=4)
    strong, decent = _scores(labels, rng, 2.5), _scores(labels, rng, 0.9)
    alone = evaluate_gate(frame, decent, None, contract)
    assert alone.passed  # good enough on the minimums ...
    verdict = evaluate_gate(frame, decent, strong, contract)
    assert not verdict.passed  # ... but more than 5 % worse than the champion
    (failure,) = verdict.failures
    assert failure.kind == REGRESSION
    assert failure.bound == pytest.approx(verdict.champion["roc_auc"] * 0.95)
    assert verdict.tolerance == pytest.approx(verdict.champion["roc_auc"] * 0.05)


def test_allowed_regression_comes_from_the_policy(contract_threshold):
    contract = with_policy(contract_threshold, slice_columns=(), max_relative_regression=0.2)
    frame, labels, rng = _holdout(contract, 4000, seed=4)
    strong, decent = _scores(labels, rng, 2.5), _scores(labels, rng, 0.9)
    assert evaluate_gate(frame, decent, strong, contract).passed


def test_slice_regression_fails_even_when_the_whole_holdout_is_fine(contract_threshold):
    frame, labels, rng = _holdout(contract_threshold, 4000, seed=5, atm_share=0.1)
    champion = _scores(labels, rng, 1.4)
    atm = (frame.get_column("channel") == "atm").to_numpy()
    challenger = champion.copy()
    challenger[atm] = _scores(labels, rng, 0.3)[atm]  # much worse on ATM transactions only
    verdict = evaluate_gate(frame, challenger, champion, contract_threshold)
    assert not verdict.passed
    assert [(f.kind, f.subject) for f in verdict.failures] == [(SLICE_REGRESSION, "channel=atm")]
    by_slice = {s.subject: s for s in verdict.slices}
    assert by_slice["channel=atm"].status == "regressed"
    assert by_slice["channel=pos"].status == by_slice["channel=online"].status == "compared"
    assert by_slice["channel=atm"].rows == int(atm.sum())


def test_small_slices_are_not_compared(contract_threshold):
    contract = with_policy(contract_threshold, min_slice_rows=10_000)
    frame, labels, rng = _holdout(contract, 4000, seed=5)
    champion = _scores(labels, rng, 1.4)
    atm = (frame.get_column("channel") == "atm").to_numpy()
    challenger = champion.copy()
    challenger[atm] = _scores(labels, rng, 0.3)[atm]
    verdict = evaluate_gate(frame, challenger, champion, contract)
    assert verdict.passed
    assert {s.status for s in verdict.slices} == {"too small"}


def test_all_failures_are_listed_at_once(contract_threshold):
    frame, labels, rng = _holdout(contract_threshold, 4000, seed=6)
    champion = _scores(labels, rng, 2.5)
    challenger = _scores(labels, rng, 0.3)
    verdict = evaluate_gate(frame, challenger, champion, contract_threshold)
    kinds = [f.kind for f in verdict.failures]
    assert kinds.count(BELOW_MINIMUM) == 1
    assert kinds.count(REGRESSION) == 1
    assert kinds.count(SLICE_REGRESSION) == 3
    assert len(verdict.messages) == len(verdict.failures) == 5


def test_bootstrap_passes_when_the_interval_clears_the_tolerance(contract_threshold):
    contract = with_policy(contract_threshold, gate_method="bootstrap", slice_columns=())
    frame, labels, rng = _holdout(contract, 3000, seed=7)
    champion, challenger = _scores(labels, rng, 1.4), _scores(labels, rng, 1.5)
    verdict = evaluate_gate(frame, challenger, champion, contract)
    assert verdict.passed and verdict.method == "bootstrap"
    interval = verdict.interval
    assert interval is not None and interval.resamples == 1000
    assert interval.low <= interval.point <= interval.high <= verdict.tolerance


def test_bootstrap_inconclusive_fails_where_the_point_estimate_would_pass(contract_threshold):
    contract = with_policy(contract_threshold, slice_columns=())
    frame, labels, rng = _holdout(contract, 200, seed=3)
    champion = _scores(labels, rng, 1.5)
    challenger = champion + rng.normal(scale=0.15, size=labels.size)  # a little worse, noisy
    assert evaluate_gate(frame, challenger, champion, contract).passed  # threshold method
    bootstrap = with_policy(contract, gate_method="bootstrap")
    verdict = evaluate_gate(frame, challenger, champion, bootstrap)
    assert not verdict.passed
    (failure,) = verdict.failures
    assert failure.kind == INCONCLUSIVE
    interval = verdict.interval
    assert interval.point < verdict.tolerance < interval.high
    assert f"{interval.high:.4f}" in failure.message
    again = evaluate_gate(frame, challenger, champion, bootstrap)
    assert again.interval == interval  # seeded: the same interval every time


def test_an_extra_failure_fails_the_verdict(contract_threshold):
    frame, labels, rng = _holdout(contract_threshold, 1000, seed=8)
    verdict = evaluate_gate(frame, _scores(labels, rng, 1.4), None, contract_threshold)
    failed = with_failure(verdict, GateFailure("champion_unscorable", "features", "v1", 0, 0))
    assert verdict.passed and not failed.passed and len(failed.failures) == 1
