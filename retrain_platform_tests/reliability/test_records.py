"""Bounded records: a huge landed value never reaches the event log, check results or alerts.

Covers the validated step end to end on a temporary Dagster home (ingest and validation runs in
process): a 1 MB cell in a row that is quarantined must leave only clipped copies (at most
`MAX_VALUE_CHARS` plus the elision marker) in every event of the runs, and the Dagster home stays
small. Does not touch features, models or serving.
"""

from datetime import date
from pathlib import Path

import dagster as dg
import polars as pl
import pytest
from dagster._serdes import serialize_value

from retrain_platform.core import platform_columns as pc
from retrain_platform.core.bounded import MAX_VALUE_CHARS
from retrain_platform.core.synthetic import write_landing_files
from retrain_platform.definitions import build_definitions
from retrain_platform.resources.notifier import MAX_BODY_LINES, NotifierResource
from retrain_platform_tests.fixtures.receivers import webhook_receiver

pytestmark = [
    pytest.mark.filterwarnings("ignore::dagster.BetaWarning"),
    pytest.mark.filterwarnings("ignore::dagster.PreviewWarning"),
]

DAY = date(2026, 2, 3)
HUGE = 1_000_000
# A run of the huge value longer than this in any event means it was copied unclipped.
LONGEST_ALLOWED = 300
RANGE_START, RANGE_END = "dagster/asset_partition_range_start", "dagster/asset_partition_range_end"


def _directory_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


@pytest.fixture
def landed_huge_cell(contract, home) -> str:
    """One day landed, one row's category replaced by a 1 MB string (a failed row check)."""
    files = write_landing_files(
        contract,
        home.landing_root / contract.dataset,
        start=DAY,
        days=1,
        rows_per_day=1200,
        seed=3,
        late_share=0.0,
    )
    path = files[0].path
    frame = pl.read_parquet(path)
    column = next(c.name for c in contract.columns if c.categories and c.dtype == "string")
    huge = "Q" * HUGE
    frame = frame.with_columns(
        pl.when(pl.int_range(pl.len()) == 0)
        .then(pl.lit(huge))
        .otherwise(pl.col(column))
        .alias(column)
    )
    frame.write_parquet(path)
    return column


def test_a_1mb_quarantined_cell_is_clipped_in_every_event(
    contract, home, instance, landed_huge_cell
):
    defs = build_definitions([contract], home)
    day = DAY.isoformat()
    before = _directory_bytes(home.dagster_home)
    ingest = defs.resolve_job_def(f"{contract.dataset}_ingest_job").execute_in_process(
        instance=instance, tags={RANGE_START: day, RANGE_END: day}
    )
    assert ingest.success
    validate = defs.resolve_job_def(f"{contract.dataset}_validate_job").execute_in_process(
        instance=instance, partition_key=day, raise_on_error=False
    )
    quarantine = {e.asset_key: e for e in validate.get_asset_materialization_events()}[
        dg.AssetKey(["validated", f"{contract.dataset}_quarantine"])
    ]
    failures = quarantine.materialization.metadata["failures"].value
    examples = [x for f in failures if f[pc.COLUMN] == landed_huge_cell for x in f["examples"]]
    assert examples, failures  # the huge value was quarantined and is reported, clipped
    assert all(len(x) <= MAX_VALUE_CHARS + 20 for x in examples)
    assert any(x.endswith(f"…[{HUGE} chars]") for x in examples), [x[-40:] for x in examples]

    run_ids = [ingest.run_id, validate.run_id]
    records = [r for run_id in run_ids for r in instance.all_logs(run_id)]
    assert records
    event_types = {r.dagster_event.event_type_value for r in records if r.dagster_event}
    assert {"ASSET_MATERIALIZATION", "STEP_OUTPUT", "ASSET_CHECK_EVALUATION"} <= event_types
    # the step outputs of the validated step carry no copy of the materializations' metadata
    outputs = [r.dagster_event for r in records if r.dagster_event_type == "STEP_OUTPUT"]
    assert all(not e.step_output_data.metadata for e in outputs if e.step_key.startswith("val"))
    longest = "Q" * LONGEST_ALLOWED
    for record in records:
        text = serialize_value(record)
        assert longest not in text, (record.dagster_event_type, text[:300])
    grown = _directory_bytes(home.dagster_home) - before
    assert grown < 5_000_000, grown  # the 1 MB value was not copied into the event log


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in [*_strings(k), *_strings(v)]]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def test_an_alert_quoting_a_huge_value_is_bounded():
    huge = "Q" * HUGE
    details = "\n".join([f"problem {i}: {huge}" for i in range(3)] + ["x"] * 100)
    with webhook_receiver() as received:
        notifier = NotifierResource(webhook_url=received.url)
        delivery = notifier.blocking_check_failed("transactions", huge, "matches_schema", details)
        payload = received.next()["json"]
    assert delivery.webhook is True
    assert f"…[{HUGE + len('problem 0: ')} chars]" in payload["text"]
    assert f"…[{103 - MAX_BODY_LINES} more lines]" in payload["text"]
    strings = _strings(payload)
    assert max(len(line) for s in strings for line in s.splitlines()) < LONGEST_ALLOWED
    assert len(payload["text"]) < 20_000
