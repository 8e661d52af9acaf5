"""Table-level expectations of a validated partition: schema, volume, label rate, nulls, freshness.

Each returns a `CheckOutcome` whose metadata lists every failure at once, so one look at a failed
check says everything that is wrong with the partition.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time

import polars as pl

from retrain_platform.contracts import DatasetContract
from retrain_platform.core.bounded import clip_text

MATCHES_SCHEMA = "matches_schema"
HAS_MIN_ROWS = "has_min_rows"
LABEL_RATE_IN_BAND = "label_rate_in_band"
NULL_SHARE_WITHIN_LIMIT = "null_share_within_limit"
NEWEST_PARTITION_IS_FRESH = "newest_partition_is_fresh"
NOT_ALL_ROWS_REFUSED = "not_all_rows_refused"

MAX_PROBLEMS = 20  # schema problems listed in a check result (all are counted)

# Blocking (ERROR severity): features, the training set and automation must not use the partition.
BLOCKING_CHECKS = (MATCHES_SCHEMA, HAS_MIN_ROWS, NOT_ALL_ROWS_REFUSED)
PARTITION_CHECKS = (
    MATCHES_SCHEMA,
    HAS_MIN_ROWS,
    NOT_ALL_ROWS_REFUSED,
    LABEL_RATE_IN_BAND,
    NULL_SHARE_WITHIN_LIMIT,
)

# How a per-partition check reads in the UI: the Checks list shows a check's status over all
# partitions (Failed when any partition's latest evaluation failed), the check's panel shows its
# latest execution, which may be another partition; each result names its `partition`.
PER_PARTITION = (
    " Evaluated per partition (see the result's `partition`): the Checks list is Failed when any "
    "partition's latest evaluation failed, while 'Latest execution' is the newest run's partition."
)
_BLOCKS = " Blocking: a failed partition is left out downstream (features, training set)."
_WARNS = " Warning only: downstream goes on."

DESCRIPTIONS = {
    MATCHES_SCHEMA: "Every landed file had the contract's columns and the table has its dtypes."
    + _BLOCKS
    + PER_PARTITION,
    HAS_MIN_ROWS: "The partition has at least the contract's minimum number of valid rows."
    + _BLOCKS
    + PER_PARTITION,
    NOT_ALL_ROWS_REFUSED: "Some of the partition's landed rows passed validation: a partition "
    "whose rows were all refused (quarantined) is blocked here, on validated."
    + _BLOCKS
    + PER_PARTITION,
    LABEL_RATE_IN_BAND: "The share of positive labels is inside the contract's band."
    + _WARNS
    + PER_PARTITION,
    NULL_SHARE_WITHIN_LIMIT: "No column has a larger share of nulls than the contract allows."
    + _WARNS
    + PER_PARTITION,
    NEWEST_PARTITION_IS_FRESH: "The newest validated event is younger than the allowed staleness"
    " (the whole table, hourly)." + _WARNS,
}


@dataclass(frozen=True)
class CheckOutcome:
    """Result of one table-level check."""

    name: str
    passed: bool
    metadata: dict[str, object] = field(default_factory=dict)

    @property
    def blocking(self) -> bool:
        return self.name in BLOCKING_CHECKS


def check_schema(problems: list[str]) -> CheckOutcome:
    """`problems`: schema-level Pandera failures and landed files missing contract columns.

    They name landed files, columns and values, so each is clipped (`clip_text`) and at most
    `MAX_PROBLEMS` are kept: the outcome becomes check metadata and an alert.
    """
    return CheckOutcome(
        MATCHES_SCHEMA,
        not problems,
        {"failures": len(problems), "problems": [clip_text(p) for p in problems[:MAX_PROBLEMS]]},
    )


def check_volume(valid: pl.DataFrame, contract: DatasetContract) -> CheckOutcome:
    minimum = contract.expectations.min_rows_per_partition
    return CheckOutcome(
        HAS_MIN_ROWS, valid.height >= minimum, {"rows": valid.height, "min_rows": minimum}
    )


def check_not_all_refused(valid_rows: int, refused_rows: int) -> CheckOutcome:
    """Fails when rows landed for the partition and every one was refused (none valid).

    A partition with no landed rows at all passes here (`has_min_rows` judges its volume).
    """
    return CheckOutcome(
        NOT_ALL_ROWS_REFUSED,
        valid_rows > 0 or refused_rows == 0,
        {"valid_rows": valid_rows, "refused_rows": refused_rows},
    )


def check_label_rate(valid: pl.DataFrame, contract: DatasetContract) -> CheckOutcome:
    band = contract.expectations.label_rate
    if valid.is_empty():
        return CheckOutcome(LABEL_RATE_IN_BAND, band is None, {"rows": 0, "label_rate": None})
    rate = float((valid.get_column(contract.label_name) == contract.label.positive).mean() or 0.0)
    meta: dict[str, object] = {"label_rate": round(rate, 6)}
    if band is None:
        return CheckOutcome(LABEL_RATE_IN_BAND, True, meta)
    meta.update({"band_low": band[0], "band_high": band[1]})
    return CheckOutcome(LABEL_RATE_IN_BAND, band[0] <= rate <= band[1], meta)


def check_null_share(valid: pl.DataFrame, contract: DatasetContract) -> CheckOutcome:
    if valid.is_empty():
        return CheckOutcome(NULL_SHARE_WITHIN_LIMIT, True, {"rows": 0})
    shares = valid.select(pl.col(contract.column_names).null_count() / valid.height).row(
        0, named=True
    )
    over = {
        name: {"null_share": round(share, 6), "limit": contract.expectations.null_share_limit(name)}
        for name, share in shares.items()
        if share > contract.expectations.null_share_limit(name)
    }
    worst = max(shares.values()) if shares else 0.0
    return CheckOutcome(
        NULL_SHARE_WITHIN_LIMIT,
        not over,
        {"columns_over_limit": over, "max_null_share": round(worst, 6)},
    )


def check_freshness(
    newest_event: datetime | date | None, now: datetime, contract: DatasetContract
) -> CheckOutcome:
    """The table's newest event is at most the contract's `max_staleness` old at `now`."""
    limit = contract.expectations.max_staleness
    if isinstance(newest_event, date) and not isinstance(newest_event, datetime):
        newest_event = datetime.combine(newest_event, time(), tzinfo=UTC)
    if newest_event is None:
        return CheckOutcome(NEWEST_PARTITION_IS_FRESH, False, {"newest_event": None})
    age = now - newest_event
    meta: dict[str, object] = {
        "newest_event": newest_event.isoformat(),
        "age_hours": round(age.total_seconds() / 3600, 2),
    }
    if limit is None:
        return CheckOutcome(NEWEST_PARTITION_IS_FRESH, True, meta)
    meta["max_staleness_hours"] = round(limit.total_seconds() / 3600, 2)
    return CheckOutcome(NEWEST_PARTITION_IS_FRESH, age <= limit, meta)


def evaluate_partition(
    valid: pl.DataFrame,
    contract: DatasetContract,
    *,
    schema_problems: list[str],
    refused_rows: int = 0,
) -> list[CheckOutcome]:
    """The per-partition checks of one validated partition, in `PARTITION_CHECKS` order.

    `refused_rows`: the partition's rows quarantined at ingest or validation (not duplicates).
    """
    return [
        check_schema(schema_problems),
        check_volume(valid, contract),
        check_not_all_refused(valid.height, refused_rows),
        check_label_rate(valid, contract),
        check_null_share(valid, contract),
    ]
