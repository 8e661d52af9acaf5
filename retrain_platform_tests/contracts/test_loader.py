"""Contract loading: the shipped contracts load, and each kind of mistake names the file and key."""

from pathlib import Path

import pytest
import yaml

from retrain_platform.contracts import (
    DEFAULT_CONTRACT_PATH,
    ContractError,
    active_contracts,
    load_contract,
)
from retrain_platform_tests.fixtures.contract_files import write_contract_variant
from retrain_platform_tests.fixtures.keyless import KEYLESS_CONTRACT_PATH


def _write(tmp_path: Path, mutate) -> Path:
    return write_contract_variant(tmp_path, mutate)


def test_default_contract_loads_with_roles(contract):
    assert contract.dataset == "transactions"
    assert contract.timestamp_name == "event_ts"
    assert contract.label_name == "is_fraud"
    assert contract.label_name not in contract.feature_names
    assert contract.primary_key == ("transaction_id",)
    assert contract.expectations.null_share_limit("device_score") == 0.15
    assert contract.expectations.null_share_limit("amount") == 0.0
    assert len(contract.contract_hash) == 16


def test_contract_hash_changes_with_content_not_path(tmp_path):
    same = _write(tmp_path, lambda raw: None)
    assert load_contract(same).contract_hash == load_contract(DEFAULT_CONTRACT_PATH).contract_hash
    changed = _write(tmp_path, lambda raw: raw["expectations"].update(min_rows_per_partition=5))
    assert (
        load_contract(changed).contract_hash != load_contract(DEFAULT_CONTRACT_PATH).contract_hash
    )


def test_new_labelled_rows_trigger_is_off_unless_the_policy_sets_it(contract, tmp_path):
    assert contract.policy.retrain_on_new_labelled_rows is None
    path = _write(tmp_path, lambda raw: raw["policy"].update(retrain_on_new_labelled_rows=50000))
    assert load_contract(path).policy.retrain_on_new_labelled_rows == 50_000


def test_drift_html_defaults_to_always_and_takes_on_drift(contract, tmp_path):
    assert contract.policy.drift_html == "always"
    path = _write(tmp_path, lambda raw: raw["policy"].update(drift_html="on_drift"))
    assert load_contract(path).policy.drift_html == "on_drift"


def _set_feature(index, **values):
    return lambda raw: raw["features"][index].update(values)


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda raw: raw.update(colour="blue"), r"<top level>: unknown key\(s\) 'colour'"),
        (
            _set_feature(0, dtype="float65"),
            r"features\[0\]\[amount\]\.dtype: unknown dtype 'float65'",
        ),
        (
            lambda raw: raw["features"].append({"name": "is_fraud", "dtype": "int8"}),
            r"features: 'is_fraud' is the label and cannot also be a feature",
        ),
        (lambda raw: raw.pop("event_timestamp"), r"event_timestamp: missing required key"),
        (
            lambda raw: raw["partitioning"].update(grain="fortnightly"),
            r"partitioning\.grain: unknown grain 'fortnightly'",
        ),
        (
            _set_feature(1, range=[0, 1]),
            r"features\[1\]\[merchant_category\]\.range: a range needs a numeric dtype",
        ),
        (
            _set_feature(0, range=[10, 1]),
            r"features\[0\]\[amount\]\.range: min 10.0 is above max 1.0",
        ),
        (lambda raw: raw.update(primary_key=["nope"]), r"primary_key: unknown column 'nope'"),
        (
            lambda raw: raw["expectations"].update(label_rate=[0.5, 0.1]),
            r"expectations\.label_rate: \[0.5, 0.1\] is not a band",
        ),
        (
            lambda raw: raw["label"].update(positive=7),
            r"label\.positive: positive class 7 is not among",
        ),
        (
            lambda raw: raw["policy"].update(drift_psi_threshold="high"),
            r"policy\.drift_psi_threshold: 'high' is not a valid float",
        ),
        (
            lambda raw: raw["policy"].update(slice_columns=["nope"]),
            r"policy\.slice_columns: unknown column 'nope'",
        ),
        (
            lambda raw: raw["policy"].update(retrain_on_new_labelled_rows=0),
            r"policy\.retrain_on_new_labelled_rows: must be a positive number of rows",
        ),
        (
            lambda raw: raw["policy"].update(drift_html="sometimes"),
            r"policy\.drift_html: 'sometimes' is not one of always, on_drift, never",
        ),
        (
            lambda raw: raw["policy"].update(retrain_on_new_labelled_rows="many"),
            r"policy\.retrain_on_new_labelled_rows: 'many' is not a valid int",
        ),
        (
            lambda raw: raw["label"].update(delay="two days"),
            r"label\.delay: 'two days' is not a duration",
        ),
        (_set_feature(2, surprise=True), r"features\[2\]\[channel\]: unknown key\(s\) 'surprise'"),
        (
            lambda raw: raw["event_timestamp"].update(dtype="string"),
            r"event_timestamp\.dtype: must be datetime or date",
        ),
        (
            lambda raw: (
                raw["feature_views"][0]
                .setdefault("aggregates", [])
                .append(
                    {"column": raw["label"]["name"], "functions": ["last"], "windows": ["1 events"]}
                )
            ),
            r"feature_views\[card_history\]\.aggregates\[\d+\]\.column: '\w+' is the label: an "
            r"aggregate would read labels before they are known",
        ),
        (
            lambda raw: raw["feature_views"][0]["lags"].append(
                {"column": raw["label"]["name"], "lags": [1]}
            ),
            r"feature_views\[card_history\]\.lags\[\d+\]\.column: '\w+' is the label",
        ),
        (
            lambda raw: raw["feature_views"][0]["label_aggregates"].append(
                {"functions": ["rate"], "windows": ["1d"]}
            ),
            r"feature_views\[card_history\]\.label_aggregates\[1\]\.windows: label window 1d is "
            r"not longer than the label delay 2d",
        ),
        (
            lambda raw: raw["feature_views"][0]["ratios"].append(
                {"name": "r", "numerator": raw["label"]["name"], "denominator": "amount"}
            ),
            r"feature_views\[card_history\]\.ratios\[1\]\.numerator: 'is_fraud' is the label: "
            r"a ratio would read labels before they are known",
        ),
        (
            lambda raw: raw["feature_views"][0]["differences"].append(
                {"name": "d", "left": "amount", "right": raw["label"]["name"]}
            ),
            r"feature_views\[card_history\]\.differences\[1\]\.right: 'is_fraud' is the label: "
            r"a difference would read",
        ),
        (
            lambda raw: raw["feature_views"][0]["encodings"].append(
                {"column": raw["label"]["name"], "kind": "one_hot"}
            ),
            r"feature_views\[card_history\]\.encodings\[2\]\.column: 'is_fraud' is the label: "
            r"an encoding would read",
        ),
        (
            lambda raw: raw["feature_views"][0].update(entity_keys=[raw["label"]["name"]]),
            r"feature_views\[card_history\]\.entity_keys: 'is_fraud' is the label",
        ),
        (
            lambda raw: raw["feature_views"][0].update(
                passthrough=["amount", raw["label"]["name"]]
            ),
            r"feature_views\[card_history\]\.passthrough: 'is_fraud' is the label",
        ),
        (
            lambda raw: raw["feature_views"][0].update(label_lags=[1, 0]),
            r"feature_views\[card_history\]\.label_lags: label lags are whole numbers",
        ),
        (
            lambda raw: raw["feature_views"][0]["label_aggregates"].append(
                {"functions": ["median"], "windows": ["30d"]}
            ),
            r"label_aggregates\[1\]\.functions: unknown function 'median' \(one of: count, rate, "
            r"last\)",
        ),
    ],
)
def test_contract_errors_name_file_and_key(tmp_path, mutate, expected):
    path = _write(tmp_path, mutate)
    with pytest.raises(ContractError, match=expected) as info:
        load_contract(path)
    assert str(info.value).startswith(f"{path}: ")


def _keyless_view(tmp_path: Path, delay: str, view: dict) -> Path:
    raw = yaml.safe_load(KEYLESS_CONTRACT_PATH.read_text())
    raw["label"]["delay"] = delay
    raw["feature_views"] = [{"name": "v", **view}]
    path = tmp_path / "keyless.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


@pytest.mark.parametrize(
    ("view", "expected"),
    [
        ({"label_lags": [1]}, r"feature_views\[v\]\.label_lags: label lags read labels within the"),
        (
            {"label_aggregates": [{"functions": ["last"], "windows": ["3 events"]}]},
            r"feature_views\[v\]\.label_aggregates: label window 3events reads labels within",
        ),
    ],
)
def test_label_features_need_a_lookback_longer_than_the_delay(tmp_path, view, expected):
    with pytest.raises(
        ContractError, match=expected + r".*lookback 1d is not longer than the label"
    ):
        load_contract(_keyless_view(tmp_path, "1d", view))
    longer = load_contract(_keyless_view(tmp_path, "1d", {**view, "lookback": "2d"}))
    assert longer.view("v").label_output_names("up")


def test_the_label_section_reads_label_lags_and_last(tmp_path):
    view = {
        "label_lags": [1, 2],
        "label_aggregates": [{"functions": ["last", "rate"], "windows": ["1 events", "2h"]}],
    }
    (loaded,) = load_contract(_keyless_view(tmp_path, "30m", view)).feature_views
    assert loaded.label_lags == (1, 2)
    assert loaded.feature_names("up")[-6:] == [
        "up_last_1ev",
        "up_rate_1ev",
        "up_last_2h",
        "up_rate_2h",
        "up_lag_1",
        "up_lag_2",
    ]


def test_every_mistake_is_reported_at_once(tmp_path):
    def three_mistakes(raw):
        raw["features"][0]["dtype"] = "float65"
        raw["partitioning"]["grain"] = "fortnightly"
        raw["policy"]["drift_html"] = "sometimes"
        raw["colour"] = "blue"

    path = _write(tmp_path, three_mistakes)
    with pytest.raises(ContractError) as info:
        load_contract(path)
    lines = str(info.value).splitlines()
    assert len(lines) == 4, lines
    assert all(line.startswith(f"{path}: ") for line in lines)
    for expected in (
        "unknown dtype 'float65'",
        "unknown grain 'fortnightly'",
        "'sometimes'",
        "'colour'",
    ):
        assert any(expected in line for line in lines), (expected, lines)


def test_unreadable_and_invalid_yaml_name_the_file(tmp_path):
    with pytest.raises(ContractError, match="cannot read contract"):
        load_contract(tmp_path / "absent.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("dataset: [unclosed")
    with pytest.raises(ContractError, match=f"{broken}: not valid YAML"):
        load_contract(broken)


def test_retrain_contract_env_var_selects_contracts(monkeypatch, tmp_path):
    other = _write(tmp_path, lambda raw: raw.update(dataset="payments"))
    monkeypatch.setenv("RETRAIN_CONTRACT", str(other))
    assert [c.dataset for c in active_contracts()] == ["payments"]
    monkeypatch.setenv("RETRAIN_CONTRACT", f"{other}:{other}")
    with pytest.raises(ContractError, match="declared by more than one contract"):
        active_contracts()
