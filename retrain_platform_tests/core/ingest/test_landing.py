"""Landing zone: hostile names are refused; a file that crashes the parser does not stop others."""

import os
import sys
import textwrap

import polars as pl
import pytest

from retrain_platform.core.ingest.landing import (
    list_landing_files,
    name_problem,
    read_files_isolated,
)


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("..", "path separator or '..'"),
        ("..evil.csv", "path separator or '..'"),
        ("a\\b.csv", "path separator"),
        ("x" * 200 + ".csv", "characters long"),
        ("-rf.csv", "characters other than"),
        ("new\nline.csv", "characters other than"),
        ("space name.csv", "characters other than"),
        ("notes.txt", "unsupported file type"),
    ],
)
def test_hostile_names_are_refused(name, problem):
    assert problem in (name_problem(name) or "")


def test_ordinary_names_are_accepted():
    for name in ("transactions_2026-01-05.parquet", "batch.7.csv", "x.jsonl"):
        assert name_problem(name) is None


def test_listing_refuses_hostile_entries_and_escaping_links(tmp_path):
    landing = tmp_path / "landing"
    landing.mkdir()
    (landing / "good.csv").write_text("a\n1\n")
    (landing / "x").mkdir()
    (landing / ("y" * 150 + ".csv")).write_text("a\n1\n")
    outside = tmp_path / "secret.csv"
    outside.write_text("a\n1\n")
    os.symlink(outside, landing / "link.csv")
    (landing / ".partial.csv").write_text("a\n")
    accepted, refused = list_landing_files(landing)
    assert [f.name for f in accepted] == ["good.csv"]
    reasons = {r.name: r.reason for r in refused}
    assert "outside the landing zone" in reasons["link.csv"]
    assert "characters long" in reasons["y" * 150 + ".csv"]
    assert reasons["x"] == "unsupported file type (expected one of .parquet, .csv, .jsonl, .ndjson)"
    assert ".partial.csv" not in reasons


def test_parser_crash_is_pinned_on_its_file(tmp_path):
    """A reader that aborts on one file: the others are still read, the culprit is named."""
    landing = tmp_path / "landing"
    landing.mkdir()
    pl.DataFrame({"a": [1, 2]}).write_parquet(landing / "ok1.parquet")
    (landing / "crash.parquet").write_bytes(b"boom")
    pl.DataFrame({"a": [3]}).write_parquet(landing / "ok2.parquet")
    wrapper = tmp_path / "aborting_reader.py"
    wrapper.write_text(
        textwrap.dedent("""
        import json, os, sys
        from retrain_platform.core.ingest import file_reader
        jobs = json.loads(sys.stdin.read())
        if any(j["path"].endswith("crash.parquet") for j in jobs):
            for job in jobs:
                if job["path"].endswith("crash.parquet"):
                    os.abort()
                sys.stdin = __import__("io").StringIO(json.dumps([job]))
                file_reader.main(sys.argv)
        else:
            sys.stdin = __import__("io").StringIO(json.dumps(jobs))
            file_reader.main(sys.argv)
    """)
    )
    files, _ = list_landing_files(landing)
    outcomes = {
        o.file.name: o for o in read_files_isolated(files, command=[sys.executable, str(wrapper)])
    }
    assert outcomes["ok1.parquet"].frame.get_column("a").to_list() == [1, 2]
    assert outcomes["ok2.parquet"].frame.get_column("a").to_list() == [3]
    assert outcomes["crash.parquet"].frame is None
    assert "crashed (killed by signal 6)" in outcomes["crash.parquet"].error


def test_corrupt_files_report_errors_and_empty_ones_read_as_no_rows(tmp_path):
    (tmp_path / "bad.parquet").write_bytes(b"PAR1 not really parquet")
    (tmp_path / "empty.csv").write_bytes(b"")
    files, _ = list_landing_files(tmp_path)
    outcomes = {o.file.name: o for o in read_files_isolated(files)}
    assert outcomes["empty.csv"].error is None
    assert outcomes["empty.csv"].frame.height == 0
    assert outcomes["bad.parquet"].frame is None and outcomes["bad.parquet"].error
