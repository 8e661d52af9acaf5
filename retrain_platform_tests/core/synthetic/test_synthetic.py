"""The synthetic source: contract-true, learnable, deterministic data; late rows, drift, faults."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from retrain_platform.contracts import DEFAULT_CONTRACT_PATH, load_contract
from retrain_platform.contracts.model import Column, DatasetContract
from retrain_platform.core.synthetic import (
    FAULT_KINDS,
    DriftSpec,
    Fault,
    generate_day,
    parse_faults,
    write_landing_files,
)

CONTRACT = load_contract(DEFAULT_CONTRACT_PATH)
START = CONTRACT.partitioning.start
ROWS = 20_000
EXPECTED_DTYPES = {
    "bool": pl.Boolean(),
    "int8": pl.Int8(),
    "int16": pl.Int16(),
    "int32": pl.Int32(),
    "int64": pl.Int64(),
    "float32": pl.Float32(),
    "float64": pl.Float64(),
    "string": pl.String(),
    "date": pl.Date(),
    "datetime": pl.Datetime("us", "UTC"),
}


def _day(offset: int) -> date:
    return START + timedelta(days=offset)


def _ranged(contract: DatasetContract) -> list[Column]:
    return [c for c in contract.features if c.is_numeric and c.categories is None]


def _read(path: Path) -> pl.DataFrame:
    if path.suffix == ".csv":
        schema = {c.name: EXPECTED_DTYPES[c.dtype] for c in CONTRACT.columns}
        return pl.read_csv(path, schema=schema)
    return pl.read_parquet(path)


def _design(frame: pl.DataFrame) -> np.ndarray:
    """Standardised numeric and boolean features plus one-hot categories (nulls as 0)."""
    parts = []
    for column in CONTRACT.features:
        if column.categories is not None:
            for value in column.categories:
                parts.append((frame[column.name] == value).fill_null(False).to_numpy())
            continue
        values = frame[column.name].cast(pl.Float64).to_numpy()
        z = (values - np.nanmean(values)) / (np.nanstd(values) or 1.0)
        parts.append(np.nan_to_num(z))
    return np.column_stack([np.ones(frame.height), *[p.astype(np.float64) for p in parts]])


@pytest.fixture(scope="module")
def three_days() -> list[pl.DataFrame]:
    return [generate_day(CONTRACT, _day(i), rows=ROWS, seed=7) for i in range(3)]


def test_generate_day_is_deterministic_per_seed() -> None:
    first = generate_day(CONTRACT, START, rows=2_000, seed=1)
    assert first.equals(generate_day(CONTRACT, START, rows=2_000, seed=1))
    assert not first.equals(generate_day(CONTRACT, START, rows=2_000, seed=2))
    assert not first.equals(generate_day(CONTRACT, _day(1), rows=2_000, seed=1))


def test_columns_and_dtypes_follow_the_contract(three_days: list[pl.DataFrame]) -> None:
    frame = three_days[0]
    assert frame.columns == CONTRACT.column_names
    assert frame.dtypes == [EXPECTED_DTYPES[c.dtype] for c in CONTRACT.columns]
    assert frame.height == ROWS


def test_values_respect_ranges_categories_and_nullability(three_days: list[pl.DataFrame]) -> None:
    frame = pl.concat(three_days)
    for column in CONTRACT.columns:
        values = frame[column.name]
        if column.nullable:
            assert 0.02 < values.null_count() / frame.height < 0.08, column.name
        else:
            assert values.null_count() == 0, column.name
        if column.min is not None:
            assert values.min() >= column.min, column.name
        if column.max is not None:
            assert values.max() <= column.max, column.name
        if column.categories is not None:
            assert set(values.drop_nulls().unique().to_list()) <= set(column.categories)
    for column in CONTRACT.features:
        if column.categories is not None:
            shares = frame[column.name].value_counts(normalize=True)["proportion"]
            assert shares.max() - shares.min() > 0.02, f"{column.name} frequencies are all equal"


def test_keys_timestamps_and_entities(three_days: list[pl.DataFrame]) -> None:
    for offset, frame in enumerate(three_days):
        day_start = datetime.combine(_day(offset), datetime.min.time(), tzinfo=UTC)
        stamps = frame[CONTRACT.timestamp_name]
        assert stamps.min() >= day_start
        assert stamps.max() < day_start + timedelta(days=1)
        assert stamps.is_sorted()
    frame = pl.concat(three_days)
    assert frame.select(CONTRACT.primary_key).is_unique().all()
    identifier = frame[CONTRACT.identifiers[0].name]
    assert identifier[0] == f"{CONTRACT.dataset}-{START:%Y%m%d}-00000000"
    for name in CONTRACT.entity_key_names:
        counts = frame[name].value_counts()["count"]
        assert 1_000 < counts.len() <= 3_000
        assert counts.max() > 5 * counts.median()


def test_positive_rate(three_days: list[pl.DataFrame]) -> None:
    labels = pl.concat(three_days)[CONTRACT.label_name]
    rate = (labels == CONTRACT.label.positive).mean()
    assert 0.03 < rate < 0.10


def test_label_is_learnable(three_days: list[pl.DataFrame]) -> None:
    train, test = pl.concat(three_days[:2]), three_days[2]
    target = (train[CONTRACT.label_name] == CONTRACT.label.positive).cast(pl.Float64).to_numpy()
    weights, *_ = np.linalg.lstsq(_design(train), target, rcond=None)
    actual = (test[CONTRACT.label_name] == CONTRACT.label.positive).cast(pl.Float64).to_numpy()
    assert np.corrcoef(_design(test) @ weights, actual)[0, 1] > 0.2


def test_other_contracts_generate_too() -> None:
    weather = load_contract(DEFAULT_CONTRACT_PATH.with_name("weather.yaml"))
    frame = generate_day(weather, weather.partitioning.start, rows=500, seed=0)
    assert frame.columns == weather.column_names
    assert frame.dtypes == [EXPECTED_DTYPES[c.dtype] for c in weather.columns]
    for column in _ranged(weather):
        assert column.min <= frame[column.name].min() <= frame[column.name].max() <= column.max


def test_landing_files_are_byte_identical_for_the_same_arguments(tmp_path: Path) -> None:
    def run(folder: str, seed: int) -> dict[str, bytes]:
        files = write_landing_files(
            CONTRACT,
            tmp_path / folder,
            start=START,
            days=2,
            rows_per_day=2_000,
            seed=seed,
            faults=[Fault("duplicates")],
            file_format="mixed",
        )
        return {f.path.name: f.path.read_bytes() for f in files}

    first = run("a", seed=3)
    assert first == run("b", seed=3)
    assert first != run("c", seed=4)


def test_late_rows_arrive_with_the_next_file_and_nothing_is_lost(tmp_path: Path) -> None:
    days, rows = 3, 5_000
    files = write_landing_files(
        CONTRACT, tmp_path / "landing", start=START, days=days, rows_per_day=rows, seed=5
    )
    assert [f.path.name for f in files] == [
        f"{CONTRACT.dataset}_{_day(i):%Y-%m-%d}.parquet" for i in range(days + 1)
    ]
    assert all(f.fault is None for f in files)
    frames = [_read(f.path) for f in files]
    assert [f.height for f in frames] == [f.rows for f in files]
    landed = pl.concat(frames)
    generated = pl.concat([generate_day(CONTRACT, _day(i), rows=rows, seed=5) for i in range(days)])
    assert landed.height == generated.height
    key = list(CONTRACT.primary_key)
    assert landed.sort(key).equals(generated.sort(key))
    event_days = [f[CONTRACT.timestamp_name].dt.date() for f in frames]
    assert (event_days[0] == _day(0)).all()
    for i in range(1, days):
        earlier = (event_days[i] == _day(i - 1)).sum()
        assert 0.02 * rows < earlier < 0.04 * rows
        assert ((event_days[i] == _day(i - 1)) | (event_days[i] == _day(i))).all()
    assert (event_days[days] == _day(days - 1)).all()


def test_mixed_format_alternates_and_csv_reads_back(tmp_path: Path) -> None:
    files = write_landing_files(
        CONTRACT,
        tmp_path,
        start=START,
        days=2,
        rows_per_day=1_000,
        seed=0,
        file_format="mixed",
        late_share=0.0,
    )
    assert [f.path.suffix for f in files] == [".parquet", ".csv"]
    assert _read(files[1].path).equals(generate_day(CONTRACT, _day(1), rows=1_000, seed=0))


def _faulted(tmp_path: Path, kind: str) -> tuple[pl.DataFrame | None, Path, list]:
    files = write_landing_files(
        CONTRACT,
        tmp_path,
        start=START,
        days=2,
        rows_per_day=4_000,
        seed=11,
        faults=[Fault(kind, _day(1))],
        late_share=0.0,
    )
    assert [f.fault for f in files] == [None, kind]
    path = files[1].path
    frame = None if kind in ("empty", "corrupt") else _read_raw(path)
    return frame, path, files


def _read_raw(path: Path) -> pl.DataFrame:
    if path.suffix == ".csv":
        return pl.read_csv(path, infer_schema=False)
    return pl.read_parquet(path)


def test_fault_nulls(tmp_path: Path) -> None:
    frame, _, _ = _faulted(tmp_path, "nulls")
    strict = [c.name for c in _ranged(CONTRACT) if not c.nullable]
    nullable = [c.name for c in CONTRACT.features if c.nullable]
    assert max(frame[n].null_count() for n in strict) / frame.height > 0.25
    assert max(frame[n].null_count() for n in nullable) / frame.height > 0.35


def test_fault_out_of_range(tmp_path: Path) -> None:
    frame, _, _ = _faulted(tmp_path, "out_of_range")
    outside = 0
    for column in _ranged(CONTRACT):
        values = frame[column.name]
        outside += ((values < column.min) | (values > column.max)).sum()
    assert 0.01 * frame.height < outside < 0.03 * frame.height


def test_fault_wrong_type_writes_csv_with_non_numeric_strings(tmp_path: Path) -> None:
    frame, path, _ = _faulted(tmp_path, "wrong_type")
    assert path.suffix == ".csv"
    unparseable = 0
    for column in _ranged(CONTRACT):
        values = frame[column.name]
        parsed = values.cast(pl.Float64, strict=False)
        unparseable += (values.is_not_null() & parsed.is_null()).sum()
    assert 0.01 * frame.height < unparseable < 0.03 * frame.height


def test_fault_duplicates(tmp_path: Path) -> None:
    frame, _, files = _faulted(tmp_path, "duplicates")
    key = list(CONTRACT.primary_key)
    repeated = frame.filter(frame.select(key).is_duplicated())
    copies = repeated.height - repeated.select(key).n_unique()
    assert files[1].rows == frame.height
    assert 0.02 * 4_000 < copies < 0.04 * 4_000
    assert repeated.unique().height < repeated.height, "no exact copies"
    assert repeated.unique().height > repeated.select(key).n_unique(), "no changed copies"


@pytest.mark.parametrize("kind", ["missing_column", "renamed_column"])
def test_fault_schema_changes(tmp_path: Path, kind: str) -> None:
    frame, _, _ = _faulted(tmp_path, kind)
    missing = set(CONTRACT.column_names) - set(frame.columns)
    extra = set(frame.columns) - set(CONTRACT.column_names)
    assert len(missing) == 1
    assert missing <= set(CONTRACT.feature_names)
    if kind == "missing_column":
        assert not extra
    else:
        assert len(extra) == 1
        assert next(iter(extra)).startswith(next(iter(missing)))


def test_fault_empty_file(tmp_path: Path) -> None:
    _, path, files = _faulted(tmp_path, "empty")
    assert path.stat().st_size == 0
    assert files[1].rows == 0


def test_fault_corrupt_parquet_is_unreadable(tmp_path: Path) -> None:
    _, path, _ = _faulted(tmp_path, "corrupt")
    assert path.suffix == ".parquet"
    assert path.stat().st_size > 1_000
    with pytest.raises(pl.exceptions.PolarsError):
        pl.read_parquet(path)


def test_faults_without_a_day_land_on_distinct_seeded_days(tmp_path: Path) -> None:
    faults = [Fault(kind) for kind in FAULT_KINDS]
    files = write_landing_files(
        CONTRACT, tmp_path / "a", start=START, days=10, rows_per_day=500, seed=2, faults=faults
    )
    again = write_landing_files(
        CONTRACT, tmp_path / "b", start=START, days=10, rows_per_day=500, seed=2, faults=faults
    )
    faulted = {f.day: f.fault for f in files if f.fault}
    assert faulted == {f.day: f.fault for f in again if f.fault}
    assert sorted(faulted.values()) == sorted(FAULT_KINDS)
    assert all(START <= day < _day(10) for day in faulted)


def test_fault_outside_the_range_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="outside"):
        write_landing_files(
            CONTRACT,
            tmp_path,
            start=START,
            days=2,
            rows_per_day=10,
            faults=[Fault("empty", _day(5))],
        )


def test_covariate_drift_starts_on_its_date() -> None:
    drift = DriftSpec(start=_day(1), kind="covariate")
    before = generate_day(CONTRACT, _day(0), rows=ROWS, seed=3, drift=drift)
    assert before.equals(generate_day(CONTRACT, _day(0), rows=ROWS, seed=3))
    base = generate_day(CONTRACT, _day(1), rows=ROWS, seed=3)
    after = generate_day(CONTRACT, _day(1), rows=ROWS, seed=3, drift=drift)
    shifts = []
    for column in _ranged(CONTRACT):
        base_values, drifted = base[column.name].cast(pl.Float64), after[column.name]
        shifts.append(abs(drifted.mean() - base_values.mean()) / base_values.std())
    assert max(shifts) > 0.3
    assert sorted(shifts)[0] < 0.05, "every numeric feature drifted, expected about half"


def test_concept_drift_changes_the_label_rule_not_the_rate(three_days: list[pl.DataFrame]) -> None:
    train = pl.concat(three_days)
    target = (train[CONTRACT.label_name] == CONTRACT.label.positive).cast(pl.Float64).to_numpy()
    weights, *_ = np.linalg.lstsq(_design(train), target, rcond=None)
    drift = DriftSpec(start=_day(3), kind="concept")

    def fit_on(frame: pl.DataFrame) -> float:
        actual = (frame[CONTRACT.label_name] == CONTRACT.label.positive).cast(pl.Float64)
        return float(np.corrcoef(_design(frame) @ weights, actual.to_numpy())[0, 1])

    stable = generate_day(CONTRACT, _day(3), rows=ROWS, seed=7)
    drifted = generate_day(CONTRACT, _day(3), rows=ROWS, seed=7, drift=drift)
    assert drifted.drop(CONTRACT.label_name).equals(stable.drop(CONTRACT.label_name))
    assert 0.03 < (drifted[CONTRACT.label_name] == CONTRACT.label.positive).mean() < 0.10
    assert fit_on(drifted) < fit_on(stable) - 0.1


def test_parse_faults() -> None:
    assert parse_faults("nulls, duplicates@2026-01-05,corrupt,") == [
        Fault("nulls"),
        Fault("duplicates", date(2026, 1, 5)),
        Fault("corrupt"),
    ]
    with pytest.raises(ValueError, match="renamed_column"):
        parse_faults("nulls,melted")
    with pytest.raises(ValueError, match="not a date"):
        parse_faults("nulls@2026-13-40")


def test_invalid_drift_and_fault_kinds_are_rejected() -> None:
    with pytest.raises(ValueError, match="covariate"):
        DriftSpec(start=START, kind="sideways")
    with pytest.raises(ValueError, match="corrupt"):
        Fault("melted")
