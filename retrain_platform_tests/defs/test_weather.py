"""A real dataset needs only a contract: ../shared/data/weather.csv through the same graph.

The whole file goes through the core raw step and validation (every row accounted for); a slice
of two years goes through the Dagster jobs, since each partition of a range run is one event in
the instance's event log.
"""

import shutil

import polars as pl

from retrain_platform.core import platform_columns as pc
from retrain_platform.core.ingest.raw_layer import run_raw_step
from retrain_platform.core.lake import read_partitions, table_uri
from retrain_platform.core.validate.rows import validate_rows
from retrain_platform.definitions import build_definitions
from retrain_platform.defs import keys
from retrain_platform.defs.jobs import ingest_job_name, validate_job_name

MONTHS = [f"{year}-{month:02d}-01" for year in range(1949, 2000) for month in range(1, 13)]


def test_whole_weather_file_is_accounted_for(tmp_path, weather_contract, weather_csv):
    landing = tmp_path / "landing"
    landing.mkdir()
    shutil.copy(weather_csv, landing / "weather.csv")
    report = run_raw_step(
        weather_contract,
        MONTHS,
        landing_dir=landing,
        rejected_dir=tmp_path / "rejected",
        index_dir=tmp_path / "index",
        raw_uri=str(tmp_path / "raw"),
        quarantine_uri=str(tmp_path / "q"),
    )
    raw = read_partitions(str(tmp_path / "raw"))
    source_rows = pl.read_csv(weather_csv).height
    assert raw.height == source_rows == sum(report.rows_raw.values())
    assert raw.get_column(pc.PARTITION).n_unique() == 597
    assert raw.filter(pl.col(pc.PARTITION) == "1949-02-01").height == 28
    result = validate_rows(raw, weather_contract)
    assert result.valid.height + result.quarantine.height + result.duplicates.height == source_rows
    pressure = weather_contract.column("feat_3")
    assert result.quarantine.get_column(pc.COLUMN).to_list() == [pressure.name, pressure.name]
    assert all(float(v) > pressure.max for v in result.quarantine.get_column(pc.VALUE))


def test_weather_slice_through_the_dagster_jobs(home, instance, weather_contract, weather_csv):
    landing = home.landing_root / weather_contract.dataset
    landing.mkdir(parents=True)
    shutil.copy(weather_csv, landing / "weather.csv")
    defs = build_definitions([weather_contract], home)
    ingest = defs.resolve_job_def(ingest_job_name(weather_contract))
    result = ingest.execute_in_process(
        instance=instance,
        tags={
            "dagster/asset_partition_range_start": "1958-01-01",
            "dagster/asset_partition_range_end": "1959-12-01",
        },
    )
    assert result.success
    raw_key = keys.raw_key(weather_contract)
    assert len(instance.get_materialized_partitions(raw_key)) == 24
    raw = read_partitions(table_uri(home.lake_uri, keys.RAW, weather_contract.dataset))
    assert raw.get_column(pc.PARTITION).n_unique() == 24

    validate = defs.resolve_job_def(validate_job_name(weather_contract))
    outcomes = {}
    for month in ("1958-10-01", "1958-11-01"):
        run = validate.execute_in_process(instance=instance, partition_key=month)
        assert run.success
        outcomes[month] = {e.check_name: e.passed for e in run.get_asset_check_evaluations()}
    assert all(outcomes["1958-11-01"].values()) and all(outcomes["1958-10-01"].values())
    quarantine = read_partitions(
        table_uri(home.lake_uri, keys.VALIDATED, keys.quarantine_table(weather_contract))
    )
    assert quarantine.get_column(pc.PARTITION).to_list() == ["1958-11-01"] * 2
    validated = read_partitions(table_uri(home.lake_uri, keys.VALIDATED, weather_contract.dataset))
    assert validated.filter(pl.col(pc.PARTITION) == "1958-11-01").height == 30 - 2
