"""The landing fault matrix: every kind of hostile file, beside a good one, through the real sensor.

Each case lands one bad file and one good file, then ticks the landing sensor and runs what it
requests until it requests nothing more. It asserts the bad file's status in the ledger, that the
good file was ingested anyway, and the per-file accounting, checked against the Delta tables
themselves: rows landed = rows in raw + rows quarantined (by reason) + rows waiting, or, for a
file moved aside, the whole file is in the rejected folder with its error. Each case writes its
accounting to `test-artifacts/reliability/landing/<case>.json`.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl
import pytest

from retrain_platform.contracts import DatasetContract
from retrain_platform.core.bounded import MAX_VALUE_CHARS
from retrain_platform.core.synthetic import generate_day
from retrain_platform_tests.fixtures.landing import LandingHarness, write

DAY = date(2026, 1, 6)
ROWS = 40
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "reliability" / "landing"


def good(contract: DatasetContract, rows: int = ROWS, seed: int = 1) -> pl.DataFrame:
    return generate_day(contract, DAY, rows=rows, seed=seed)


def numeric_feature(contract: DatasetContract) -> str:
    return next(c.name for c in contract.columns if c.dtype == "float64")


def _parquet_bytes(frame: pl.DataFrame, tmp: Path) -> bytes:
    path = tmp / "scratch.parquet"
    frame.write_parquet(path)
    return path.read_bytes()


@dataclass(frozen=True)
class Case:
    """One hostile file: how to write it, its rows, and the statuses it may end in."""

    name: str
    file: str
    make: Callable[[DatasetContract, Path, Path], None]
    rows: int
    statuses: frozenset[str]
    reasons: frozenset[str] = frozenset()


def _bytes(data: bytes) -> Callable[[DatasetContract, Path, Path], None]:
    return lambda contract, path, tmp: path.write_bytes(data)


def _header_only(contract, path, tmp):
    path.write_text(",".join(contract.column_names) + "\n")


def _zero_rows(contract, path, tmp):
    good(contract).head(0).write_parquet(path)


def _random(contract, path, tmp):
    path.write_bytes(os.urandom(4096))


def _truncated(contract, path, tmp):
    data = _parquet_bytes(good(contract), tmp)
    path.write_bytes(data[: len(data) // 2])


def _flipped_footer(contract, path, tmp):
    data = bytearray(_parquet_bytes(good(contract), tmp))
    for i in range(len(data) - 12, len(data) - 4):
        data[i] ^= 0xFF
    path.write_bytes(bytes(data))


def _bad_quote(contract, path, tmp):
    lines = good(contract).write_csv().splitlines()
    lines[3] = '"' + lines[3]  # an opening quote never closed
    path.write_text("\n".join(lines) + "\n")


def _utf16(contract, path, tmp):
    path.write_bytes(good(contract).write_csv().encode("utf-16"))


def _bom_crlf(contract, path, tmp):
    text = good(contract).write_csv().replace("\n", "\r\n")
    path.write_bytes(b"\xef\xbb\xbf" + text.encode())


def _nested_extra(contract, path, tmp):
    frame = good(contract)
    frame.with_columns(pl.Series("extra_nested", [[1.0, 2.0]] * frame.height)).write_parquet(path)


def _nested_bad(contract, path, tmp):
    frame = good(contract)
    column = numeric_feature(contract)
    nested = pl.Series(column, [[float(i), None] for i in range(frame.height)])
    frame.with_columns(nested).write_parquet(path)


def _huge_cell(contract, path, tmp):
    frame = good(contract).with_columns(pl.col(numeric_feature(contract)).cast(pl.String))
    huge = pl.Series(
        numeric_feature(contract), ["x" * 1_000_000, *frame[1:, numeric_feature(contract)]]
    )
    frame.with_columns(huge).write_parquet(path)


def _with_times(contract: DatasetContract, times: list[datetime | None]) -> pl.DataFrame:
    frame = good(contract)
    ts = contract.timestamp_name
    stamps = frame.get_column(ts).to_list()
    stamps[: len(times)] = times
    return frame.with_columns(pl.Series(ts, stamps, dtype=frame.schema[ts]))


def _out_of_range(contract, path, tmp):
    far = datetime(2261, 12, 31, tzinfo=UTC)
    early = datetime(2020, 1, 1, tzinfo=UTC)
    _with_times(contract, [far, far, far, early, early, None]).write_parquet(path)


def _all_outside(contract, path, tmp):
    _with_times(contract, [datetime(2261, 12, 31, tzinfo=UTC)] * ROWS).write_parquet(path)


def _duplicates(contract, path, tmp):
    frame = good(contract, rows=ROWS // 2)
    pl.concat([frame, frame]).write_parquet(path)


def _redelivered(contract, path, tmp):
    good(contract, seed=9).write_parquet(path)
    good(contract, seed=9).write_parquet(path.with_name("again_" + path.name))


CASES = [
    Case("zero_bytes", "zero.csv", _bytes(b""), 0, frozenset({"empty"})),
    Case("header_only_csv", "header.csv", _header_only, 0, frozenset({"empty"})),
    Case("zero_row_parquet", "zero_rows.parquet", _zero_rows, 0, frozenset({"empty"})),
    Case("random_bytes", "random.parquet", _random, ROWS, frozenset({"unreadable"})),
    Case("truncated_parquet", "truncated.parquet", _truncated, ROWS, frozenset({"unreadable"})),
    Case("flipped_footer", "flipped.parquet", _flipped_footer, ROWS, frozenset({"unreadable"})),
    Case("bad_quote_csv", "quote.csv", _bad_quote, ROWS, frozenset({"unreadable", "ingested"})),
    Case("utf16_csv", "utf16.csv", _utf16, ROWS, frozenset({"unreadable"})),
    Case("bom_crlf_csv", "bom.csv", _bom_crlf, ROWS, frozenset({"ingested"})),
    Case("nested_extra_column", "nested.parquet", _nested_extra, ROWS, frozenset({"ingested"})),
    Case(
        "nested_bad_values",
        "nested_bad.parquet",
        _nested_bad,
        ROWS,
        frozenset({"ingested"}),
        frozenset({"cast"}),
    ),
    Case(
        "huge_cell",
        "huge.parquet",
        _huge_cell,
        ROWS,
        frozenset({"ingested"}),
        frozenset({"cast"}),
    ),
    Case(
        "out_of_range_times",
        "times.parquet",
        _out_of_range,
        ROWS,
        frozenset({"ingested"}),
        frozenset({"outside_partitions"}),
    ),
    Case(
        "all_rows_outside", "future.parquet", _all_outside, ROWS, frozenset({"outside_partitions"})
    ),
    Case("duplicate_keys", "dupes.parquet", _duplicates, ROWS, frozenset({"ingested"})),
    Case("redelivered_new_name", "first.parquet", _redelivered, ROWS, frozenset({"ingested"})),
]


@pytest.fixture
def landing(contract, home, instance) -> LandingHarness:
    return LandingHarness(contract, home, instance)


def _accounting(landing: LandingHarness, name: str, written: int) -> dict[str, object]:
    """The file's destinations from the Delta tables and the rejected folder, against the ledger."""
    entry = landing.status(name)
    in_raw, held = landing.rows_of(name)
    moved = (landing.rejected / name).exists()
    rejected_rows = written if moved else 0
    waiting = int(entry["rows_pending"] or 0)
    unaccounted = written - in_raw - sum(held.values()) - waiting - rejected_rows
    return {
        "file": name,
        "status": entry["status"],
        "rows_written": written,
        "rows_landed": entry["rows_landed"],
        "rows_raw": in_raw,
        "quarantined": held,
        "rows_waiting": waiting,
        "rows_in_rejected_file": rejected_rows,
        "unaccounted": unaccounted,
        "ledger_raw": entry["rows_raw"],
        "ledger_quarantined": entry["rows_quarantined"],
        "message": entry["message"],
    }


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_a_hostile_file_is_isolated_and_every_row_accounted_for(landing, contract, tmp_path, case):
    companion = write(good(contract, seed=2), landing.dir / "companion.parquet")
    case.make(contract, landing.dir / case.file, tmp_path)
    landing.settle()

    companion_rows = _accounting(landing, companion.name, ROWS)
    assert companion_rows["status"] == "ingested"
    assert companion_rows["rows_raw"] == ROWS and companion_rows["unaccounted"] == 0

    names = [case.file] + (["again_" + case.file] if case.name == "redelivered_new_name" else [])
    for name in names:
        result = _accounting(landing, name, case.rows)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        (ARTIFACTS / f"{case.name}.json").write_text(json.dumps({"case": case.name, **result}))
        assert result["status"] in case.statuses, result
        assert result["unaccounted"] == 0, result
        assert len(result["message"] or "") <= MAX_VALUE_CHARS + 20
        if result["status"] == "unreadable":
            assert result["message"], "an unreadable file says why"
            assert (landing.rejected / (name + ".error.json")).exists()
        if result["status"] == "ingested":
            assert result["rows_landed"] == case.rows
            assert result["ledger_raw"] == result["rows_raw"]
            assert result["ledger_quarantined"] == sum(result["quarantined"].values())
            assert set(result["quarantined"]) == set(case.reasons)
    assert landing.tick().run_requests == []  # settled: nothing is requested again


def test_the_huge_value_stays_out_of_the_event_log(landing, contract, tmp_path):
    """The 1 MB cell is quarantined whole in Delta, and no event of the ingest runs (messages,
    materialization metadata) carries a 300-character run of it (the validated step's copies are
    tested in test_records)."""
    _huge_cell(contract, landing.dir / "huge.parquet", tmp_path)
    landing.settle()
    run_ids = landing.instance.get_run_ids()
    assert run_ids
    texts = [
        text
        for run_id in run_ids
        for record in landing.instance.all_logs(run_id)
        for text in [
            record.user_message,
            *(
                [str(v.value) for v in record.asset_materialization.metadata.values()]
                if record.asset_materialization
                else []
            ),
        ]
    ]
    assert not [t for t in texts if "x" * 300 in t]
    assert landing.rows_of("huge.parquet") == (ROWS - 1, {"cast": 1})


def test_a_file_still_being_written_is_left_alone_until_it_settles(
    contract, home, instance, monkeypatch
):
    monkeypatch.setenv("RETRAIN_LANDING_GRACE_SECONDS", "3600")
    landing = LandingHarness(contract, home, instance)
    path = write(good(contract), landing.dir / "growing.parquet")
    first = landing.tick()
    assert first.run_requests == []
    assert landing.status("growing.parquet")["status"] == "in_progress"
    assert path.exists() and not landing.rejected.exists()
    # an hour later, unchanged: read
    past = time.time_ns() - 3_700 * 10**9
    os.utime(path, ns=(past, past))
    landing.settle()
    assert landing.status("growing.parquet")["status"] == "ingested"


def test_temp_files_are_listed_in_progress_and_flagged_when_stale(landing, contract, capfd):
    temp = write(good(contract), landing.dir / ".upload.parquet")
    write(good(contract), landing.dir / "..csv")
    landing.settle()
    assert landing.status(".upload.parquet")["status"] == "in_progress"
    assert landing.status("..csv")["status"] == "in_progress"
    assert landing.rows_of(".upload.parquet")[0] == 0
    old = time.time_ns() - 2 * 3600 * 10**9
    os.utime(temp, ns=(old, old))
    capfd.readouterr()
    landing.tick()
    assert "still being written?" in capfd.readouterr().err
    assert "unchanged since" in landing.status(".upload.parquet")["message"]


def test_a_rejected_file_that_changes_is_examined_again(landing, contract, tmp_path):
    name = "late_writer.parquet"
    (landing.dir / name).write_bytes(b"PAR1 half written")
    landing.settle()
    assert landing.status(name)["status"] == "unreadable"
    moved = landing.rejected / name
    assert moved.exists()
    # the writer finishes into the file where it now is
    good(contract, seed=5).write_parquet(moved)
    landing.settle()
    assert landing.status(name)["status"] == "ingested"
    assert landing.rows_of(name)[0] == ROWS
    assert not moved.exists()
