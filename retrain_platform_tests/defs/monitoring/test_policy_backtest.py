"""The policy backtest as a Dagster asset: the validated history replayed, the table and the
plots in the materialization's metadata.

The validated table is written straight to the lake under a temporary platform home (the rows
`prepare_source` gives, as the validated layer would), then the asset is materialized with a
small candidate search on one process: 40 synthetic days of transactions with a ten-day window,
and six years of the real weather data with a two-year window. The source the asset builds is
checked on its own: refused partitions (quarantined rows, none valid) are the history's gaps.
"""

import base64
from dataclasses import replace
from datetime import date
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from retrain_platform.contracts import DatasetContract
from retrain_platform.contracts.policy import override_policy
from retrain_platform.core import platform_columns as pc
from retrain_platform.core.backtest import prepare_source
from retrain_platform.core.lake import overwrite_partitions, table_uri
from retrain_platform.core.synthetic import write_landing_files
from retrain_platform.defs import keys
from retrain_platform.defs.monitoring.policy_backtest import (
    TABLE_COLUMNS,
    build_policy_backtest_asset,
    policy_backtest_key,
    validated_source,
)
from retrain_platform.home import HomeLayout
from retrain_platform.resources.lake import lake_resource

QUIET = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}
SMALL_SEARCH = {"max_rounds": 30, "workers": 1}
WEATHER_YEARS = 6


def small_window(contract: DatasetContract, partitions: int) -> DatasetContract:
    settings = {
        "window_partitions": partitions,
        "validation_partitions": 2,
        "holdout_partitions": 2,
    }
    return replace(contract, policy=override_policy(contract.policy, settings))


def write_validated(home: HomeLayout, contract: DatasetContract, source: Path) -> None:
    rows = prepare_source(source, contract).rows
    uri = table_uri(home.lake_uri, keys.VALIDATED, contract.dataset)
    overwrite_partitions(uri, rows, rows.get_column(pc.PARTITION).unique())


def materialize(home, instance, contract, policies: list[str]) -> dict[str, object]:
    asset = build_policy_backtest_asset(contract)
    config = {"policies": policies, **SMALL_SEARCH}
    op = policy_backtest_key(contract).to_python_identifier()
    result = dg.materialize(
        [asset],
        instance=instance,
        resources={"lake": lake_resource(home)},
        run_config={**QUIET, "ops": {op: {"config": config}}},
    )
    assert result.success
    (event,) = result.get_asset_materialization_events()
    return dict(event.materialization.metadata)


def rows_by_policy(metadata: dict[str, object]) -> dict[str, dict[str, object]]:
    table = metadata["table"]
    assert isinstance(table, dg.TableMetadataValue)
    assert [c.name for c in table.schema.columns] == list(TABLE_COLUMNS)
    return {record.data["policy"]: record.data for record in table.records}


def assert_plots_embedded(metadata: dict[str, object]) -> None:
    for name in ("frontier", "partitions"):
        path = Path(metadata[f"{name}_png"].value)  # type: ignore[attr-defined]
        png = path.read_bytes()
        assert png.startswith(b"\x89PNG")
        markdown = metadata[f"{name}_plot"].value  # type: ignore[attr-defined]
        assert f"(data:image/png;base64,{base64.b64encode(png).decode('ascii')})" in markdown


@pytest.fixture
def transactions(contract, home, tmp_path) -> DatasetContract:
    landing = tmp_path / "landing"
    write_landing_files(
        contract, landing, start=date(2026, 1, 1), days=40, rows_per_day=400, seed=5
    )
    write_validated(home, contract, landing)
    return small_window(contract, 10)


def test_the_asset_records_the_table_and_the_plots(transactions, home, instance):
    policies = ["never", "every:7", "contract", "oracle"]
    metadata = materialize(home, instance, transactions, policies)
    rows = rows_by_policy(metadata)
    (oracle,) = (name for name in rows if name.startswith("oracle"))
    assert set(rows) == {"never", "every:7", "contract", oracle}
    assert rows["never"]["fits"] == 1 and rows["every:7"]["fits"] > 1
    assert rows[oracle]["mean_roc_auc"] >= rows["never"]["mean_roc_auc"]
    assert oracle == f"oracle<={rows['contract']['fits']}"
    assert rows[oracle]["mean_roc_auc"] >= rows["contract"]["mean_roc_auc"]
    at_fits = metadata["oracle_mean_roc_auc_at_contract_fits"].value  # type: ignore[attr-defined]
    assert at_fits == rows["contract"]["oracle_at_fits"]
    assert at_fits == pytest.approx(rows[oracle]["mean_roc_auc"], abs=1e-12)
    assert metadata["contract_fits"].value == rows["contract"]["fits"]  # type: ignore[attr-defined]
    assert metadata["best_policy"].value in {"never", "every:7", "contract"}  # type: ignore[attr-defined]
    assert metadata["window"].value.startswith("sliding 10")  # type: ignore[attr-defined]
    assert 10 < metadata["partitions_evaluated"].value < 40  # type: ignore[attr-defined]
    assert metadata["evaluated"].value.endswith(".. 2026-02-09")  # type: ignore[attr-defined]
    markdown = metadata["table_markdown"].value  # type: ignore[attr-defined]
    assert all(f"| {name} |" in markdown for name in rows)
    assert_plots_embedded(metadata)
    assert Path(metadata["frontier_png"].value).is_relative_to(home.state_root / "backtest")  # type: ignore[attr-defined]


def test_weather_years_replay_under_the_weather_contract(
    weather_contract, weather_csv, home, instance, tmp_path
):
    source = tmp_path / "weather_first_years.csv"
    rows = pl.read_csv(weather_csv, infer_schema=False)
    rows.head(round(WEATHER_YEARS * 365.25)).write_csv(source)
    contract = small_window(weather_contract, 24)
    write_validated(home, contract, source)
    metadata = materialize(home, instance, contract, ["never", "every:12", "oracle"])
    rows = rows_by_policy(metadata)
    assert set(rows) == {"never", "every:12", f"oracle<={rows['every:12']['fits']}"}
    assert rows["every:12"]["fits"] > 1 and "contract_fits" not in metadata
    assert_plots_embedded(metadata)


def test_the_source_is_the_validated_table_with_refused_partitions_as_gaps(contract, home):
    lake = lake_resource(home)
    with pytest.raises(dg.Failure, match="no validated transactions rows yet"):
        validated_source(contract, lake)
    days = ["2026-01-01", "2026-01-02", "2026-01-04"]
    validated = pl.DataFrame(
        {
            contract.timestamp_name: [f"{d}T0{h}:00:00" for d in reversed(days) for h in (2, 1)],
            "transaction_id": [f"t{i}" for i in range(6)],
            pc.PARTITION: [d for d in reversed(days) for _ in (2, 1)],
        }
    )
    quarantined = pl.DataFrame({pc.PARTITION: ["2026-01-02", "2026-01-03"], pc.REASON: ["x"] * 2})
    for uri, frame in (
        (lake.uri(keys.VALIDATED, contract.dataset), validated),
        (lake.uri(keys.VALIDATED, keys.quarantine_table(contract)), quarantined),
    ):
        overwrite_partitions(uri, frame, frame.get_column(pc.PARTITION).unique())
    source = validated_source(contract, lake)
    assert source.partitions == tuple(days)
    assert source.refused_partitions == ("2026-01-03",)
    assert source.rows.get_column(contract.timestamp_name).is_sorted()
    assert (source.files, source.rows_read, source.rows_quarantined) == ((), 0, 0)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"policies": ["sometimes"]}, "unknown policy 'sometimes'"),
        ({"overrides": ["no_such_key=1"]}, "unknown policy key 'no_such_key'"),
        ({"metric": "f1", "alpha_max": 0.0}, "metric 'f1' is not one of .*alpha_max must be > 0"),
    ],
)
def test_a_bad_config_fails_the_step_before_reading_anything(contract, home, config, message):
    asset = build_policy_backtest_asset(contract)
    op = policy_backtest_key(contract).to_python_identifier()
    with pytest.raises(dg.Failure, match=message):
        dg.materialize(
            [asset],
            resources={"lake": lake_resource(home)},
            run_config={**QUIET, "ops": {op: {"config": config}}},
        )
