"""The training window from the policy: labelled partitions only, sliding or expanding, splits."""

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from retrain_platform.core.datasets.window import (
    EXPANDING,
    HOLDOUT,
    TRAIN,
    VALIDATION,
    WindowSpec,
    select_window,
    window_spec,
)
from retrain_platform_tests.fixtures.models import with_policy

DAYS = [f"2026-04-{d:02d}" for d in range(1, 21)]  # 04-01 .. 04-20
END_OF_20TH = datetime(2026, 4, 21, tzinfo=UTC)


@pytest.fixture
def small(contract):
    """The transactions contract (daily, labels due 2 days after the event), a 6-day window."""
    return with_policy(contract, window_partitions=6, validation_partitions=2, holdout_partitions=1)


def test_sliding_window_is_the_newest_labelled_partitions_split_by_time(small):
    window = select_window(small, DAYS, END_OF_20TH)
    # labels are due 2 days late: at the end of 04-20 they are complete up to 04-18
    assert window.partitions == tuple(DAYS[12:18])
    assert window.kind == "sliding"
    assert window.splits() == {
        TRAIN: DAYS[12:15],
        VALIDATION: DAYS[15:17],
        HOLDOUT: [DAYS[17]],
    }
    assert window.as_of == END_OF_20TH


def test_expanding_window_keeps_every_labelled_partition(small):
    expanding = with_policy(small, training_window=EXPANDING)
    window = select_window(expanding, DAYS, END_OF_20TH)
    assert window.partitions == tuple(DAYS[:18])
    assert window.splits()[HOLDOUT] == [DAYS[17]]
    assert window.splits()[VALIDATION] == DAYS[15:17]
    # a day later it has grown by one at the new end
    later = select_window(expanding, DAYS, datetime(2026, 4, 22, tzinfo=UTC))
    assert later.partitions == tuple(DAYS[:19])


def test_only_available_partitions_count(small):
    gappy = [d for d in DAYS if d not in ("2026-04-16", "2026-04-17")]
    window = select_window(small, gappy, END_OF_20TH)
    # 04-16 and 04-17 are not there: the older 04-11 and 04-12 take their place
    assert window.partitions == (
        "2026-04-11",
        "2026-04-12",
        "2026-04-13",
        "2026-04-14",
        "2026-04-15",
        "2026-04-18",
    )


def test_excluded_partitions_are_skipped_and_recorded(small):
    window = select_window(small, DAYS, END_OF_20TH, excluded={"2026-04-17": ["has_min_rows"]})
    assert window.partitions == tuple(d for d in DAYS[11:18] if d != "2026-04-17")
    assert window.excluded == {"2026-04-17": ("has_min_rows",)}


def test_run_overrides_replace_only_what_they_set(small):
    spec = window_spec(small, partitions=4)
    assert spec == WindowSpec("sliding", 4, 2, 1)
    assert select_window(small, DAYS, END_OF_20TH, spec=spec).partitions == tuple(DAYS[14:18])
    with pytest.raises(ValueError, match="nothing is left to train on after 2 validation and 1"):
        select_window(small, DAYS, END_OF_20TH, spec=window_spec(small, partitions=3))
    with pytest.raises(ValueError, match="'rolling' is not one of sliding, expanding"):
        window_spec(small, kind="rolling")


def test_a_policy_built_in_code_gets_the_grain_default(contract):
    unset = replace(
        contract,
        policy=replace(
            contract.policy,
            window_partitions=None,
            validation_partitions=None,
            holdout_partitions=None,
        ),
    )
    assert window_spec(unset) == WindowSpec("sliding", 28, 3, 3)
    monthly = replace(unset, partitioning=replace(unset.partitioning, grain="monthly"))
    assert window_spec(monthly) == WindowSpec("sliding", 36, 3, 3)


def test_a_partition_with_some_labels_due_is_in_the_window(weather_contract):
    """Monthly partitions, labels due a day late: at the end of March, March's labels are due
    but for its last day, so March is the newest partition (its last day's rows are left out
    row by row when the training set is built)."""
    months = [f"1950-{m:02d}-01" for m in range(1, 13)]
    spec = WindowSpec("sliding", 4, 1, 1)
    end_of_march = datetime(1950, 4, 1, tzinfo=UTC)
    window = select_window(weather_contract, months, end_of_march, spec=spec)
    assert window.partitions == ("1950-01-01", "1950-02-01", "1950-03-01")
