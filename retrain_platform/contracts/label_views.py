"""The label section of a feature view (`label_aggregates`, `label_lags`) and the label refusals.

A label is known `label.delay` after its event, so only this section may read the label column:
its features are computed over the labels known at each event. Anywhere else in a view (an
entity key, passthrough, aggregate, lag, encoding, ratio or difference) the label would be read
before it is known, so the loader refuses it there and names the key.
"""

from __future__ import annotations

from datetime import timedelta

from retrain_platform.contracts.model import LABEL_FUNCTIONS, Label, LabelAggregate, Window
from retrain_platform.contracts.parsing import Reader, compact_duration
from retrain_platform.contracts.view_reading import read_choices, read_list, read_windows


def refuse_label(reader: Reader, column: str, what: str, key: str) -> None:
    """Fail at `key`: `what` (e.g. "a lag") would read the label `column` before it is known."""
    reader.fail(
        f"{column!r} is the label: {what} would read labels before they are known; declare "
        "label features under label_aggregates or label_lags (they wait for label.delay)",
        key,
    )


def parse_label_aggregates(
    v: Reader, label: Label
) -> tuple[tuple[LabelAggregate, ...], list[timedelta]]:
    """`label_aggregates`: count, rate or last of the labels known so far, over windows.

    A time window must be longer than `label.delay`: a shorter one could hold no known label.
    """
    label_aggregates, spans = [], []
    for j, entry in enumerate(read_list(v, "label_aggregates")):
        a = Reader(v.path, f"{v.sub('label_aggregates')}[{j}]", entry)
        functions = read_choices(a, "functions", LABEL_FUNCTIONS)
        windows = read_windows(a)
        for w in windows:
            if w.duration is not None and w.duration <= label.delay:
                a.fail(
                    f"label window {w.text} is not longer than the label delay "
                    f"{compact_duration(label.delay)}: no label in it is known yet",
                    a.sub("windows"),
                )
        a.finish()
        label_aggregates.append(LabelAggregate(functions, windows))
        spans += [w.duration for w in windows if w.duration]
    return tuple(label_aggregates), spans


def parse_label_lags(v: Reader) -> tuple[int, ...]:
    """`label_lags`: the k-th most recent label already known at each event (k = 1, 2, ...)."""
    values = read_list(v, "label_lags")
    if not all(isinstance(k, int) and not isinstance(k, bool) and k >= 1 for k in values):
        v.fail("label lags are whole numbers of known labels back, 1 or more", v.sub("label_lags"))
    if len(set(values)) != len(values):
        v.fail("label lags repeat", v.sub("label_lags"))
    return tuple(values)


def check_label_reach(
    v: Reader,
    label: Label,
    lookback: timedelta,
    label_aggregates: tuple[LabelAggregate, ...],
    label_lags: tuple[int, ...],
) -> None:
    """Event-count label windows and label lags read the lookback: it must outlast the delay."""
    if lookback > label.delay:
        return
    event_windows: list[Window] = [
        w for a in label_aggregates for w in a.windows if w.duration is None
    ]
    problem = (
        f"the lookback {compact_duration(lookback)} is not longer than the label delay "
        f"{compact_duration(label.delay)}: no label in it is known yet (set a longer lookback)"
    )
    if label_lags:
        v.fail(f"label lags read labels within the lookback; {problem}", v.sub("label_lags"))
    if event_windows:
        v.fail(
            f"label window {event_windows[0].text} reads labels within the lookback; {problem}",
            v.sub("label_aggregates"),
        )
