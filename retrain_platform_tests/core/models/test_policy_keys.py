"""The gate's policy keys in a contract: defaults, values read, mistakes named by key."""

import pytest
import yaml

from retrain_platform.contracts import DEFAULT_CONTRACT_PATH, ContractError
from retrain_platform.contracts.loader import parse_contract


def _parse(**policy: object):
    raw = yaml.safe_load(DEFAULT_CONTRACT_PATH.read_text())
    raw["policy"].update(policy)
    return parse_contract(raw, source="c.yaml")


def test_gate_keys_default_to_the_threshold_method(contract):
    assert contract.policy.gate_method == "threshold"
    assert contract.policy.bootstrap_resamples == 1000
    assert contract.policy.max_slice_regression == 0.10


def test_serving_budgets_default_and_are_read(contract, weather_contract):
    for shipped in (contract, weather_contract):
        assert (shipped.policy.max_p99_ms, shipped.policy.max_model_mb) == (50.0, 200.0)
    policy = _parse(max_p99_ms=5, max_model_mb=0.5).policy
    assert (policy.max_p99_ms, policy.max_model_mb) == (5.0, 0.5)


def test_gate_keys_are_read():
    policy = _parse(
        gate_method="bootstrap",
        bootstrap_resamples=500,
        bootstrap_confidence=0.9,
        max_slice_regression=0.2,
        min_slice_rows=50,
    ).policy
    assert (policy.gate_method, policy.bootstrap_resamples, policy.bootstrap_confidence) == (
        "bootstrap",
        500,
        0.9,
    )
    assert (policy.max_slice_regression, policy.min_slice_rows) == (0.2, 50)


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        ({"gate_method": "vibes"}, r"c\.yaml: policy\.gate_method: 'vibes' is not one of"),
        ({"bootstrap_confidence": 1.5}, r"policy\.bootstrap_confidence: must be between 0 and 1"),
        ({"bootstrap_resamples": 10}, r"policy\.bootstrap_resamples: needs at least 100"),
        ({"min_slice_rows": "many"}, r"policy\.min_slice_rows: 'many' is not a valid int"),
        ({"max_p99_ms": 0}, r"policy\.max_p99_ms: must be a positive budget"),
        ({"max_model_mb": -1}, r"policy\.max_model_mb: must be a positive budget"),
        ({"max_model_mb": "big"}, r"policy\.max_model_mb: 'big' is not a valid float"),
    ],
)
def test_gate_key_mistakes_name_the_key(policy, expected):
    with pytest.raises(ContractError, match=expected):
        _parse(**policy)
