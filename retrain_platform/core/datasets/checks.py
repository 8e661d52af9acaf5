"""Checks of a frozen training-set version: labels, splits, completeness and point-in-time.

Each returns a `CheckOutcome` (as the validated layer's table checks do). They read the frozen
frame and, for completeness and the point-in-time sample, the label events and features it was
built from, so a join that loses label rows (Feast's file store drops some) or one that reads a
feature row from after its label event is caught before a model trains on it.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from retrain_platform.contracts import DatasetContract
from retrain_platform.contracts.model import FeatureView
from retrain_platform.core.validate.table_checks import CheckOutcome

LABEL_IN_CATEGORIES = "label_in_categories"
SPLIT_VALUES_KNOWN = "split_values_known"
EVERY_LABEL_EVENT_KEPT = "every_label_event_kept"
FEATURES_NOT_FROM_THE_FUTURE = "features_not_from_the_future"
SAMPLE_ROWS = 200
_ROW = "__sample_row"
_FEATURE_TS = "__feature_ts"


def check_labels(frame: pl.DataFrame, contract: DatasetContract) -> CheckOutcome:
    """Every row's label is one of the contract's label categories (never null)."""
    label = contract.label.column
    values = frame.get_column(contract.label_name)
    allowed = list(label.categories or ())
    bad = values.is_null() | (~values.is_in(allowed) if allowed else pl.lit(False))
    bad_rows = frame.filter(bad)
    examples = bad_rows.get_column(contract.label_name).unique().head(5).to_list()
    return CheckOutcome(
        LABEL_IN_CATEGORIES,
        bad_rows.is_empty(),
        {
            "rows": frame.height,
            "bad_rows": bad_rows.height,
            "categories": allowed,
            "found": examples,
        },
    )


def check_splits(frame: pl.DataFrame, split_column: str, splits: Sequence[str]) -> CheckOutcome:
    """Every row has a known split value, and training rows exist."""
    counts = dict(frame.group_by(split_column).len().iter_rows())
    unknown = sorted(str(k) for k in counts if k not in splits)
    passed = not unknown and counts.get(splits[0], 0) > 0
    return CheckOutcome(
        SPLIT_VALUES_KNOWN,
        passed,
        {"rows_by_split": {str(k): v for k, v in counts.items()}, "unknown_values": unknown},
    )


def check_label_events_kept(
    frame: pl.DataFrame, label_events: pl.DataFrame, contract: DatasetContract
) -> CheckOutcome:
    """The frame has exactly the label events of its window: none lost, none repeated."""
    key = list(contract.primary_key)
    lost = label_events.select(key).join(frame.select(key), on=key, how="anti").height
    repeated = frame.height - frame.select(key).unique().height
    return CheckOutcome(
        EVERY_LABEL_EVENT_KEPT,
        lost == 0 and repeated == 0 and frame.height == label_events.height,
        {
            "rows": frame.height,
            "label_events": label_events.height,
            "lost": lost,
            "repeated": repeated,
        },
    )


def check_point_in_time(
    frame: pl.DataFrame,
    features: pl.DataFrame,
    contract: DatasetContract,
    view: FeatureView,
    *,
    sample_rows: int = SAMPLE_ROWS,
    seed: int = 0,
) -> CheckOutcome:
    """On a sample of rows: the features match a feature row of the same entity at or before
    the label event (none from later), found by a plain filter rather than the as-of join.

    A row whose features are all null passes only when its entity has no feature row at or
    before its event.
    """
    ts, keys = contract.timestamp_name, list(view.entity_keys)
    names = [n for n in view.feature_names(contract.label_name) if n in features.columns]
    sample = frame.sample(min(sample_rows, frame.height), seed=seed).with_row_index(_ROW)
    candidates = features.select([*keys, pl.col(ts).alias(_FEATURE_TS), *names])
    pairs = sample.select([_ROW, *keys, ts, *names]).join(
        candidates, on=keys, how="inner", suffix="__f"
    )
    pairs = pairs.filter(pl.col(_FEATURE_TS) <= pl.col(ts))
    same = pl.all_horizontal([pl.col(n).eq_missing(pl.col(f"{n}__f")) for n in names])
    matched = set(pairs.filter(same).get_column(_ROW).to_list())
    with_history = set(pairs.get_column(_ROW).to_list())
    all_null = sample.filter(pl.all_horizontal([pl.col(n).is_null() for n in names]))
    empty_ok = set(all_null.get_column(_ROW).to_list()) - with_history
    unmatched = sample.filter(~pl.col(_ROW).is_in(sorted(matched | empty_ok)))
    return CheckOutcome(
        FEATURES_NOT_FROM_THE_FUTURE,
        unmatched.is_empty(),
        {
            "sampled_rows": sample.height,
            "rows_not_matching_an_earlier_feature_row": unmatched.height,
            "examples": unmatched.select(list(dict.fromkeys([*contract.primary_key, ts])))
            .head(5)
            .to_dicts(),
        },
    )


def evaluate_training_set(
    frame: pl.DataFrame,
    label_events: pl.DataFrame,
    features: pl.DataFrame,
    contract: DatasetContract,
    view: FeatureView,
    *,
    split_column: str,
    splits: Sequence[str],
) -> list[CheckOutcome]:
    """The four checks of one training-set version, in `TRAINING_SET_CHECKS` order."""
    return [
        check_labels(frame, contract),
        check_splits(frame, split_column, splits),
        check_label_events_kept(frame, label_events, contract),
        check_point_in_time(frame, features, contract, view),
    ]


TRAINING_SET_CHECKS = (
    LABEL_IN_CATEGORIES,
    SPLIT_VALUES_KNOWN,
    EVERY_LABEL_EVENT_KEPT,
    FEATURES_NOT_FROM_THE_FUTURE,
)
