"""Validation: fused rules agree with Pandera, every raw row is accounted for, latest wins."""

from datetime import UTC, date, datetime, timedelta

import pandera.errors
import polars as pl
import pytest

from retrain_platform.contracts.pandera_schema import to_pandera_schema
from retrain_platform.core import platform_columns as pc
from retrain_platform.core.ingest.landing import LandingFile
from retrain_platform.core.ingest.rows import conform_file
from retrain_platform.core.synthetic import generate_day
from retrain_platform.core.validate.rows import row_rules, validate_rows

DAY = date(2026, 2, 1)


def _raw(contract, rows=2_000, seed=3, name="f.parquet", landed=0) -> pl.DataFrame:
    frame = generate_day(contract, DAY, rows=rows, seed=seed)
    file = LandingFile(name, None, 1, 1_800_000_000_000_000_000 + landed)  # type: ignore[arg-type]
    return conform_file(frame, file, contract).rows


def _break(frame: pl.DataFrame, contract) -> pl.DataFrame:
    """Rows 0-9 each break a different rule of the contract."""
    numeric = [c for c in contract.features if c.min is not None and c.dtype.startswith("float")]
    categorical = next(c for c in contract.features if c.categories)
    required = next(c for c in reversed(numeric) if not c.nullable)
    idx = pl.int_range(pl.len())
    first = pl.col(numeric[0].name)
    return frame.with_columns(
        pl.when(idx == 0)
        .then(numeric[0].min - 1)
        .when(idx == 1)
        .then(numeric[0].max + 1)
        .otherwise(first)
        .alias(numeric[0].name),
        pl.when(idx == 2)
        .then(pl.lit("not-a-category"))
        .otherwise(pl.col(categorical.name))
        .alias(categorical.name),
        pl.when(idx.is_in([3, 4])).then(None).otherwise(pl.col(required.name)).alias(required.name),
        pl.when(idx == 5)
        .then(float("nan"))
        .otherwise(pl.col(numeric[1].name))
        .alias(numeric[1].name),
    )


def _pandera_failed_rows(frame, contract) -> set[int]:
    try:
        to_pandera_schema(contract).validate(frame, lazy=True)
    except pandera.errors.SchemaErrors as exc:
        return set(exc.failure_cases.get_column("index").drop_nulls().to_list())
    return set()


def test_fused_rules_agree_with_pandera(contract):
    frame = _break(_raw(contract), contract)
    fused_bad = set(
        frame.with_row_index("i").filter(~row_rules(contract)).get_column("i").to_list()
    )
    assert fused_bad == _pandera_failed_rows(frame, contract)
    assert fused_bad == {0, 1, 2, 3, 4, 5}


def test_every_raw_row_is_accounted_for_with_reasons(contract):
    frame = _break(_raw(contract), contract)
    result = validate_rows(frame, contract)
    assert result.valid.height + result.quarantine.height + result.duplicates.height == frame.height
    assert result.quarantine.height == 6
    by_column = dict(result.quarantine.group_by(pc.COLUMN).len().iter_rows())
    categorical = next(c for c in contract.features if c.categories).name
    assert by_column[categorical] == 1
    row = result.quarantine.filter(pl.col(pc.COLUMN) == categorical).row(0, named=True)
    assert row[pc.VALUE] == "not-a-category"
    assert row[pc.CHECK].startswith("isin")
    assert row[pc.STAGE] == pc.STAGE_VALIDATE and row[pc.REASON] == pc.REASON_CHECK
    assert categorical in row[pc.RECORD]
    assert set(result.quarantine.get_column(pc.SOURCE_ROW).to_list()) == {
        frame.get_column(pc.SOURCE_ROW)[i] for i in range(6)
    }
    assert result.valid.select(row_rules(contract).all()).item()


def test_latest_landed_row_wins_a_duplicate_key(contract):
    older = _raw(contract, rows=500, name="a.parquet", landed=0)
    newer = _raw(contract, rows=500, name="b.parquet", landed=10**9).head(100)
    amount = contract.features[0].name
    newer = newer.with_columns((pl.col(amount) + 1).clip(upper_bound=contract.features[0].max))
    result = validate_rows(pl.concat([older, newer]), contract)
    assert result.valid.height == 500
    assert result.duplicates.height == 100
    assert set(result.duplicates.get_column(pc.SOURCE_FILE)) == {"a.parquet"}
    key = contract.primary_key[0]
    winners = result.valid.filter(pl.col(key).is_in(newer.get_column(key).implode()))
    assert set(winners.get_column(pc.SOURCE_FILE)) == {"b.parquet"}
    assert result.duplicates.get_column(pc.REASON).unique().to_list() == [pc.REASON_DUPLICATE]


def test_schema_problems_are_reported_not_raised(contract):
    frame = _raw(contract, rows=50).drop(contract.features[0].name)
    result = validate_rows(frame, contract)
    assert result.valid.is_empty()
    assert any(contract.features[0].name in problem for problem in result.schema_failures)


@pytest.mark.parametrize("rows", [0, 1])
def test_tiny_partitions(contract, rows):
    result = validate_rows(_raw(contract).head(rows), contract)
    assert result.valid.height == rows and result.quarantine.is_empty()


def test_conform_types_text_and_quarantines_what_cannot_be_cast(contract):
    frame = generate_day(contract, DAY, rows=20, seed=1)
    text = pl.read_csv(frame.write_csv().encode(), infer_schema=False)
    amount = contract.features[0].name
    text = text.with_columns(
        pl.when(pl.int_range(pl.len()) == 3)
        .then(pl.lit("12,5eur"))
        .otherwise(pl.col(amount))
        .alias(amount)
    )
    file = LandingFile("day.csv", None, 1, 0)  # type: ignore[arg-type]
    conformed = conform_file(text, file, contract)
    assert conformed.rows.height == 19
    assert conformed.rows.schema[contract.timestamp_name] == pl.Datetime("us", "UTC")
    rejected = conformed.rejected.row(0, named=True)
    assert (rejected[pc.REASON], rejected[pc.COLUMN], rejected[pc.VALUE]) == (
        pc.REASON_CAST,
        amount,
        "12,5eur",
    )
    assert rejected[pc.PARTITION] == DAY.isoformat()
    original = frame.with_columns(pl.col(pl.Datetime).cast(pl.String))
    assert conformed.rows.select(contract.feature_names).equals(
        original.filter(pl.int_range(pl.len()) != 3)
        .select(contract.feature_names)
        .cast(conformed.rows.select(contract.feature_names).schema)
    )


def test_lossy_number_conversion_is_a_cast_failure(contract):
    frame = generate_day(contract, DAY, rows=5, seed=1)
    int_feature = next(c for c in contract.features if c.dtype.startswith("int"))
    frame = frame.with_columns(pl.col(int_feature.name).cast(pl.Float64))
    frame = frame.with_columns(
        pl.when(pl.int_range(pl.len()) == 0)
        .then(2.5)
        .otherwise(pl.col(int_feature.name))
        .alias(int_feature.name)
    )
    conformed = conform_file(frame, LandingFile("x.parquet", None, 1, 0), contract)  # type: ignore[arg-type]
    assert conformed.rows.height == 4
    assert conformed.rejected.get_column(pc.COLUMN).to_list() == [int_feature.name]


def test_missing_column_quarantines_every_row_of_the_file(contract):
    frame = generate_day(contract, DAY, rows=10, seed=1).drop(contract.features[2].name)
    conformed = conform_file(frame, LandingFile("x.parquet", None, 1, 0), contract)  # type: ignore[arg-type]
    assert conformed.rows.is_empty()
    assert conformed.rejected.height == 10
    assert set(conformed.rejected.get_column(pc.REASON)) == {pc.REASON_MISSING_COLUMN}
    assert conformed.missing_columns == (contract.features[2].name,)


def test_row_index_timestamps_for_sources_without_a_time_column(weather_contract):
    frame = pl.DataFrame(
        {name: [1.0, 2.0, 3.0] for name in weather_contract.feature_names}
    ).with_columns(pl.lit(0).alias(weather_contract.label_name))
    conformed = conform_file(frame, LandingFile("w.csv", None, 1, 0), weather_contract)  # type: ignore[arg-type]
    stamps = conformed.rows.get_column(weather_contract.timestamp_name).to_list()
    start = datetime(1949, 1, 1, tzinfo=UTC)
    assert stamps == [start, start + timedelta(days=1), start + timedelta(days=2)]
    assert conformed.rows.get_column(pc.PARTITION).unique().to_list() == ["1949-01-01"]


def test_timestamp_text_in_mixed_formats_is_parsed_or_quarantined():
    from retrain_platform.contracts.dtypes import parse_datetimes

    text = pl.Series(
        "t",
        ["2026-01-01T10:00:00.5+0000"] * 5
        + ["2026-01-01 11:00:00", "2026-01-02", "2026-01-01T12:00:00Z", "junk", None],
    )
    parsed = parse_datetimes(text).to_list()
    assert parsed[0] == datetime(2026, 1, 1, 10, 0, 0, 500000, tzinfo=UTC)
    assert parsed[5:8] == [
        datetime(2026, 1, 1, 11, tzinfo=UTC),
        datetime(2026, 1, 2, tzinfo=UTC),
        datetime(2026, 1, 1, 12, tzinfo=UTC),
    ]
    assert parsed[8:] == [None, None]
