"""Typed, frozen objects of a contract's feature views: windows, aggregates, lags, combinations.

A view that declares no entity keys treats the whole dataset as one series: its key is the
platform column `SERIES_KEY`, holding one constant value per dataset (the dataset's name), so
windows, lags, the point-in-time join and the feature store key every row the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

AGGREGATE_FUNCTIONS = ("count", "sum", "mean", "std", "min", "max", "last")
LABEL_FUNCTIONS = ("count", "rate", "last")
ENCODINGS = ("one_hot", "ordinal")

# The key column of a view with no entity keys ("the series is the entity"): a platform column
# (hence the underscore, no contract column can be called so), string-typed, valued with the
# dataset's name. `core.platform_columns.SERIES` is the same name.
SERIES_KEY = "_series"
SERIES_DTYPE = "string"
# The view a contract with no `feature_views` gets: its own features, per entity or per series.
DEFAULT_VIEW_NAME = "series"


@dataclass(frozen=True)
class Window:
    """A look-back window: a duration of event time, or a number of earlier events."""

    text: str
    duration: timedelta | None = None
    events: int | None = None

    @property
    def suffix(self) -> str:
        return self.text if self.duration is not None else f"{self.events}ev"


@dataclass(frozen=True)
class Aggregate:
    """Aggregates of one column over an entity's earlier events, one output column per pair."""

    column: str
    functions: tuple[str, ...]
    windows: tuple[Window, ...]

    def output_names(self) -> list[str]:
        return [f"{self.column}_{f}_{w.suffix}" for w in self.windows for f in self.functions]


@dataclass(frozen=True)
class LabelAggregate:
    """Count, positive rate or last value of the entity's labels already known at each event.

    The label of an event at s is known at t when s + `label.delay` <= t (and s < t: an event's
    own label, or one at the same instant, is never known when it happens). A time window w
    holds the known labels of events in [t - w, t - delay]; an `n events` window the last n of
    them within the view's lookback.
    """

    functions: tuple[str, ...]
    windows: tuple[Window, ...]


@dataclass(frozen=True)
class Lag:
    """Values of a column at the entity's k-th previous event."""

    column: str
    lags: tuple[int, ...]

    def output_names(self) -> list[str]:
        return [f"{self.column}_lag_{k}" for k in self.lags]


@dataclass(frozen=True)
class Combination:
    """A ratio or difference of two columns (contract or derived)."""

    name: str
    kind: str
    left: str
    right: str


@dataclass(frozen=True)
class Encoding:
    """A categorical column encoded as one-hot indicators or its position among the categories."""

    column: str
    kind: str
    categories: tuple[str | int | bool, ...]

    def output_names(self) -> list[str]:
        if self.kind == "ordinal":
            return [f"{self.column}_code"]
        return [f"{self.column}__{c}" for c in self.categories]


@dataclass(frozen=True)
class FeatureView:
    """A set of per-entity, point-in-time features computed from validated rows.

    Every output row describes one event as known at its own time: the event's contract
    features plus aggregates over the entity's events (`closure` "before": strictly earlier
    ones; "including": also the event itself and any other at the same instant), lags and the
    time since the previous event (always strictly earlier events, whatever the closure) and
    label features over labels already known then (`label.delay`, whatever the closure).
    """

    name: str
    entity_keys: tuple[str, ...]
    closure: str
    lookback: timedelta
    ttl: timedelta
    passthrough: tuple[str, ...]
    aggregates: tuple[Aggregate, ...] = ()
    label_aggregates: tuple[LabelAggregate, ...] = ()
    lags: tuple[Lag, ...] = ()
    combinations: tuple[Combination, ...] = ()
    encodings: tuple[Encoding, ...] = ()
    time_since_previous: bool = False
    label_lags: tuple[int, ...] = ()

    @property
    def keyless(self) -> bool:
        """True when the view declares no entity keys and is keyed by the series column."""
        return self.entity_keys == (SERIES_KEY,)

    @property
    def time_since_previous_name(self) -> str:
        return "seconds_since_previous"

    def label_output_names(self, label: str) -> list[str]:
        """Label aggregates (`<label>_<function>_<window>`), then label lags (`<label>_lag_<k>`)."""
        return [
            *(
                f"{label}_{f}_{w.suffix}"
                for a in self.label_aggregates
                for w in a.windows
                for f in a.functions
            ),
            *(f"{label}_lag_{k}" for k in self.label_lags),
        ]

    def derived_names(self, label: str) -> list[str]:
        """Names of the columns the view adds to the contract features, in output order."""
        names: list[str] = []
        for aggregate in self.aggregates:
            names += aggregate.output_names()
        names += self.label_output_names(label)
        for lag in self.lags:
            names += lag.output_names()
        if self.time_since_previous:
            names.append(self.time_since_previous_name)
        for encoding in self.encodings:
            names += encoding.output_names()
        names += [c.name for c in self.combinations]
        return names

    def feature_names(self, label: str) -> list[str]:
        """Model inputs served by this view: passthrough contract features, then derived ones."""
        return [*self.passthrough, *self.derived_names(label)]

    @property
    def history_span(self) -> timedelta:
        """How far before a partition its windows may read (including the label delay)."""
        return self.lookback


def default_view(entity_keys: tuple[str, ...], features: tuple[str, ...]) -> FeatureView:
    """The view of a contract that declares none: its features as they are, one row per event,
    keyed by `entity_keys` (the series column when there are none)."""
    day = timedelta(days=1)
    keys = entity_keys or (SERIES_KEY,)
    return FeatureView(DEFAULT_VIEW_NAME, keys, "before", day, day, features)
