"""Schema evolution: a column added to the contract evolves raw, validated and feature tables;
a column removed or retyped is refused, before any write, with what to do instead."""

from datetime import date, timedelta

import polars as pl
import pytest
import yaml
from deltalake import DeltaTable

from retrain_platform.contracts import DEFAULT_CONTRACT_PATH
from retrain_platform.contracts.loader import parse_contract
from retrain_platform.core.features.layer import run_feature_step
from retrain_platform.core.lake import SchemaEvolutionError, read_partitions
from retrain_platform.core.synthetic import generate_day
from retrain_platform_tests.core.test_layers import Lake

START = date(2026, 1, 5)
ADDED = "added_signal"  # the column this test's contract adds


def _contract(edit):
    raw = yaml.safe_load(DEFAULT_CONTRACT_PATH.read_text())
    edit(raw)
    return parse_contract(raw, source="evolved.yaml")


def _add(raw):
    raw["features"].append({"name": ADDED, "dtype": "float64", "nullable": True})


def _land(lake, contract, day, extra=None):
    frame = generate_day(contract, day, rows=400, seed=day.day)
    if extra is not None:
        frame = frame.with_columns(pl.lit(extra, dtype=pl.Float64).alias(ADDED))
    lake.landing.mkdir(parents=True, exist_ok=True)
    frame.write_parquet(lake.landing / f"{contract.dataset}_{day}.parquet")


def _through_features(lake, contract, day):
    key = day.isoformat()
    lake.ingest([key])
    lake.validate(key)
    view = contract.feature_views[0]
    uri = lake.validated.replace("validated", "features") + "_" + view.name
    run_feature_step(contract, view, [key], validated_uri=lake.validated, features_uri=uri)
    return uri


def test_an_added_column_evolves_every_layer_and_old_partitions_read_null(tmp_path, contract):
    old = Lake(tmp_path, contract)
    first = START
    _land(old, contract, first)
    features_uri = _through_features(old, contract, first)
    before = {uri: DeltaTable(uri).version() for uri in (old.raw, old.validated, features_uri)}

    evolved = _contract(_add)
    lake = Lake(tmp_path, evolved)
    second = START + timedelta(days=1)
    _land(lake, evolved, second, extra=0.25)
    _through_features(lake, evolved, second)
    for uri, version in before.items():
        table = read_partitions(uri)
        assert ADDED in table.columns, uri
        assert DeltaTable(uri).version() > version
        by_day = dict(table.group_by("_partition").agg(pl.col(ADDED).is_null().all()).iter_rows())
        assert by_day[first.isoformat()] is True  # older partition: null
    validated = read_partitions(lake.validated, [second.isoformat()])
    assert validated.height > 0 and validated.get_column(ADDED).eq(0.25).all()


def test_a_removed_or_retyped_column_is_refused_naming_it(tmp_path, contract):
    lake = Lake(tmp_path, _contract(_add))
    _land(lake, contract, START, extra=1.0)
    lake.ingest([START.isoformat()])
    version = DeltaTable(lake.raw).version()

    back = Lake(tmp_path, contract)  # the contract without the added column
    with pytest.raises(SchemaEvolutionError, match=f"column\\(s\\) {ADDED} are in the table"):
        back.ingest([START.isoformat()])

    def retype(raw):
        _add(raw)
        raw["features"][-1]["dtype"] = "string"

    with pytest.raises(SchemaEvolutionError, match=f"{ADDED} \\(double -> string\\) changed type"):
        Lake(tmp_path, _contract(retype)).ingest([START.isoformat()])
    assert DeltaTable(lake.raw).version() == version  # nothing was written
