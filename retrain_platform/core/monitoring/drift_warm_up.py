"""Which windowed features a partition's drift leaves out, and why.

A windowed feature is not comparable while its window reaches before the first validated
partition (warm-up) or over a partition whose rows were all refused (a gap): its values there
are short of history, not drifted.

Warm-up: a windowed feature (a 30-day count, a lag, the time since the previous event) read over a
history that starts less than its window before the event sees fewer earlier events than it would
with full history, so its distribution is lower in the first partitions of the data (or after a
backfill from the start) than in a reference computed with full history, and it would read as
drift. Only values whose whole window lies within the available history are comparable, so
(`feature_reach`, `warming_up`): a feature whose window, from the start of the current partition,
reaches before the first available partition is left out of that partition's drift (recorded
with the date from which it is complete), and the reference keeps, per feature, only rows whose
window lies within the history (`build_reference_profile(complete_from=...)`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from retrain_platform.contracts.model import DatasetContract, FeatureView


def feature_reach(contract: DatasetContract, view: FeatureView) -> dict[str, timedelta]:
    """How far before its event each feature of `view` may read (zero: the event alone).

    A time window reads its duration back; event-count windows, lags and the time since the
    previous event read as far as the view's lookback, and so do label lags; label aggregates read
    their window; a ratio or difference reads as far as the further of its two sides.
    """
    zero = timedelta(0)
    reach: dict[str, timedelta] = dict.fromkeys(view.passthrough, zero)
    for aggregate in view.aggregates:
        for window in aggregate.windows:
            span = window.duration or view.lookback
            reach |= dict.fromkeys(
                (f"{aggregate.column}_{f}_{window.suffix}" for f in aggregate.functions), span
            )
    for spec in view.label_aggregates:
        for window in spec.windows:
            span = window.duration or view.lookback
            reach |= dict.fromkeys(
                (f"{contract.label_name}_{f}_{window.suffix}" for f in spec.functions), span
            )
    for lag in view.lags:
        reach |= dict.fromkeys(lag.output_names(), view.lookback)
    reach |= dict.fromkeys(
        (f"{contract.label_name}_lag_{k}" for k in view.label_lags), view.lookback
    )
    if view.time_since_previous:
        reach[view.time_since_previous_name] = view.lookback
    for encoding in view.encodings:
        reach |= dict.fromkeys(encoding.output_names(), zero)
    for combination in view.combinations:
        reach[combination.name] = max(
            reach.get(combination.left, zero), reach.get(combination.right, zero)
        )
    return reach


def complete_from(reach: Mapping[str, timedelta], history_start: datetime) -> dict[str, datetime]:
    """For each windowed feature, the first event time whose window lies within the history."""
    return {name: history_start + span for name, span in reach.items() if span > timedelta(0)}


def warming_up(
    reach: Mapping[str, timedelta], history_start: datetime, partition_start: datetime
) -> dict[str, datetime]:
    """Features whose window, from `partition_start`, reaches before `history_start`.

    Returns each such feature with the time from which its values are complete.
    """
    return {
        name: start
        for name, start in complete_from(reach, history_start).items()
        if partition_start < start
    }


def reaching_gaps(
    reach: Mapping[str, timedelta],
    gaps: Sequence[tuple[datetime, datetime]],
    partition_start: datetime,
) -> dict[str, datetime]:
    """Features whose window, from `partition_start`, covers a gap in the history.

    A gap is a partition (start, end) without validated rows, e.g. one whose file was refused:
    a window over it counts fewer events than it should, which reads as drift of the window
    features for as long as they reach back to it, although nothing changed in the data that
    did arrive. Returns each such feature with the time from which its values are complete again
    (the gap's end plus the window).
    """
    out: dict[str, datetime] = {}
    for name, span in reach.items():
        covered = [
            end for start, end in gaps if start < partition_start and end > partition_start - span
        ]
        if span > timedelta(0) and covered:
            out[name] = max(covered) + span
    return out


def left_out(
    reach: Mapping[str, timedelta],
    history_start: datetime | None,
    gaps: Sequence[tuple[datetime, datetime]],
    partition_start: datetime,
) -> dict[str, datetime]:
    """The features a partition's drift leaves out, warming up (`warming_up`, when the history's
    start is known) or over a gap (`reaching_gaps`), each with when it is complete again."""
    warm = warming_up(reach, history_start, partition_start) if history_start else {}
    for name, complete in reaching_gaps(reach, gaps, partition_start).items():
        warm[name] = max(complete, warm.get(name, complete))
    return warm


def drift_features(contract: DatasetContract) -> tuple[list[str], list[str]]:
    """(numeric, categorical) features: numeric without categories; with categories, or bool."""
    numeric = [c.name for c in contract.features if c.is_numeric and c.categories is None]
    categorical = [
        c.name for c in contract.features if c.categories is not None or c.dtype == "bool"
    ]
    return numeric, categorical
