"""The training window in the contract's policy: defaults per grain, explicit values, refusals."""

from pathlib import Path

import pytest

from retrain_platform.contracts import ContractError, load_contract
from retrain_platform_tests.fixtures.contract_files import write_contract_variant


def _write(tmp_path: Path, mutate) -> Path:
    return write_contract_variant(tmp_path, mutate)


def _window(policy) -> tuple[str, int | None, int | None, int | None]:
    return (
        policy.training_window,
        policy.window_partitions,
        policy.validation_partitions,
        policy.holdout_partitions,
    )


def test_shipped_contracts_window(contract, weather_contract):
    # transactions sets no window: the daily default; weather sets 60 months, keeps 3 + 3
    assert _window(contract.policy) == ("sliding", 28, 3, 3)
    assert _window(weather_contract.policy) == ("sliding", 60, 3, 3)


@pytest.mark.parametrize(
    ("grain", "expected"),
    [
        ("hourly", (336, 24, 24)),
        ("daily", (28, 3, 3)),
        ("weekly", (26, 2, 2)),
        ("monthly", (36, 3, 3)),
    ],
)
def test_unset_sizes_default_per_grain(tmp_path, grain, expected):
    path = _write(tmp_path, lambda raw: raw["partitioning"].update(grain=grain))
    assert _window(load_contract(path).policy) == ("sliding", *expected)


def test_a_contract_without_a_policy_section_gets_the_grain_defaults(tmp_path):
    def mutate(raw):
        raw.pop("policy")
        raw["partitioning"]["grain"] = "monthly"

    assert _window(load_contract(_write(tmp_path, mutate)).policy) == ("sliding", 36, 3, 3)


def test_set_values_are_kept_and_unset_ones_default(tmp_path):
    path = _write(
        tmp_path,
        lambda raw: raw["policy"].update(
            training_window="expanding", window_partitions=10, holdout_partitions=2
        ),
    )
    assert _window(load_contract(path).policy) == ("expanding", 10, 3, 2)


def _policy(**values):
    return lambda raw: raw["policy"].update(values)


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (
            _policy(training_window="rolling"),
            r"policy\.training_window: 'rolling' is not one of sliding, expanding",
        ),
        (
            _policy(window_partitions=0),
            r"policy\.window_partitions: 0 is not a whole number of partitions",
        ),
        (
            _policy(validation_partitions="three"),
            r"policy\.validation_partitions: 'three' is not a whole number of partitions",
        ),
        (
            _policy(holdout_partitions=1.5),
            r"policy\.holdout_partitions: 1.5 is not a whole number of partitions",
        ),
        (
            _policy(holdout_partitions=True),
            r"policy\.holdout_partitions: True is not a whole number of partitions",
        ),
        (
            # the daily defaults hold 3 validation and 3 holdout partitions
            _policy(window_partitions=6),
            r"policy\.window_partitions: a window of 6 partition\(s\) leaves none to train on "
            r"after 3 validation and 3 holdout",
        ),
    ],
)
def test_bad_window_values_are_refused_naming_the_key(tmp_path, mutate, expected):
    with pytest.raises(ContractError, match=expected):
        load_contract(_write(tmp_path, mutate))
