"""Typed, frozen objects a dataset contract is loaded into.

A contract describes one dataset once: its columns and their roles, how it is partitioned, what a
healthy partition looks like and the retraining policy. Every column name the platform uses comes
from here.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta

from retrain_platform.contracts.feature_view_model import (
    AGGREGATE_FUNCTIONS,
    ENCODINGS,
    LABEL_FUNCTIONS,
    SERIES_DTYPE,
    SERIES_KEY,
    Aggregate,
    Combination,
    Encoding,
    FeatureView,
    LabelAggregate,
    Lag,
    Window,
)

__all__ = [
    "AGGREGATE_FUNCTIONS",
    "Aggregate",
    "Column",
    "Combination",
    "DRIFT_HTML_MODES",
    "DTYPES",
    "DatasetContract",
    "ENCODINGS",
    "Encoding",
    "Expectations",
    "FeatureView",
    "GATE_METHODS",
    "GRAINS",
    "LABEL_FUNCTIONS",
    "Label",
    "LabelAggregate",
    "Lag",
    "NUMERIC_DTYPES",
    "Partitioning",
    "Policy",
    "RowIndexTimestamp",
    "SERIES_DTYPE",
    "SERIES_KEY",
    "TRAINING_WINDOWS",
    "Window",
]


DTYPES = (
    "bool",
    "int8",
    "int16",
    "int32",
    "int64",
    "float32",
    "float64",
    "string",
    "date",
    "datetime",
)


NUMERIC_DTYPES = ("int8", "int16", "int32", "int64", "float32", "float64")
GRAINS = ("hourly", "daily", "weekly", "monthly")


# How the evaluation gate compares a challenger with the champion: point estimates against the
# allowed regression, or a paired bootstrap interval that must clear it.
GATE_METHODS = ("threshold", "bootstrap")
DRIFT_HTML_MODES = ("always", "on_drift", "never")
# How a training set's window moves: the newest N labelled partitions, or every one since the
# first (growing, starting from N).
TRAINING_WINDOWS = ("sliding", "expanding")


@dataclass(frozen=True)
class Column:
    """One column: its dtype and the row-level rules every value must satisfy."""

    name: str
    dtype: str
    nullable: bool = False
    min: float | None = None
    max: float | None = None
    categories: tuple[str | int | bool, ...] | None = None
    description: str = ""

    @property
    def is_numeric(self) -> bool:
        return self.dtype in NUMERIC_DTYPES


@dataclass(frozen=True)
class RowIndexTimestamp:
    """Event timestamp derived from the row's position in its file (sources with no time column)."""

    start: date
    every: timedelta


@dataclass(frozen=True)
class Label:
    """The label column, its positive class and how long after the event it becomes known."""

    column: Column
    positive: str | int | bool
    delay: timedelta = timedelta(0)


@dataclass(frozen=True)
class Partitioning:
    """Partition grain and the first partition's start."""

    grain: str
    start: date


@dataclass(frozen=True)
class Expectations:
    """Table-level expectations checked on every validated partition."""

    min_rows_per_partition: int = 1
    label_rate: tuple[float, float] | None = None
    max_null_share: float = 1.0
    max_null_share_by_column: tuple[tuple[str, float], ...] = ()
    max_staleness: timedelta | None = None

    def null_share_limit(self, column: str) -> float:
        return dict(self.max_null_share_by_column).get(column, self.max_null_share)


@dataclass(frozen=True)
class Policy:
    """Retraining policy read by the model, monitoring and serving layers."""

    decision_threshold: float = 0.5
    min_roc_auc: float = 0.5
    min_recall_at_threshold: float = 0.0
    max_relative_regression: float = 0.05
    slice_columns: tuple[str, ...] = ()
    drift_psi_threshold: float = 0.25
    drift_ks_threshold: float = 0.2
    drift_row_cap: int = 50_000
    # A feature with fewer present values than this in the partition's sample or the reference
    # is not scored for drift that partition (listed as unscored): PSI over a handful is noise.
    drift_min_values: int = 20
    # When the drift report renders Evidently's HTML (seconds per partition): always, only for
    # partitions that drifted, or never. The numbers the triggers read are computed either way.
    drift_html: str = "always"
    max_model_age_days: int = 30
    max_feature_age: timedelta | None = None
    gate_method: str = "threshold"
    bootstrap_resamples: int = 1000
    bootstrap_confidence: float = 0.95
    max_slice_regression: float = 0.10
    min_slice_rows: int = 200
    max_gate_rejection_rate: float = 0.2
    # Retrain once this many labelled rows arrived after the champion's training window (off
    # when None): the lowest-priority trigger, after drift, performance and age.
    retrain_on_new_labelled_rows: int | None = None
    # A trigger that fires within this many hours of the last automatic retrain is held; a drift
    # episode already retrained fires again only once its max PSI grew by this factor.
    retrain_cooldown_hours: float = 6.0
    drift_worsening_factor: float = 1.5
    # The drift trigger reads the largest PSI among the champion's features carrying this share
    # of its gain importance (None: every feature). It fires once `drift_persistence` of the
    # last max(`drift_persistence_window`, `drift_persistence`) reports drifted, the newest
    # among them. A drift retrain waits until this many partitions from the onset are labelled,
    # so the gate's holdout holds the new regime (0: no wait).
    drift_importance_share: float | None = None
    drift_persistence: int = 1
    drift_persistence_window: int = 1
    min_post_drift_labelled_partitions: int = 0
    # Serving budgets a candidate must meet before it becomes champion (checked in a child
    # process by the deployment step): p99 latency of single-row predictions, size of the model.
    max_p99_ms: float = 50.0
    max_model_mb: float = 200.0
    # The training window (`core.datasets.window`, used by every retrain, the demo and the
    # backtest): `window_partitions` labelled partitions, newest last (sliding), or every labelled
    # partition once there are that many (expanding); its newest `holdout_partitions` are the
    # gate's holdout and the `validation_partitions` before them select the model. None: the
    # grain's default (`contracts.policy.WINDOW_DEFAULTS`; the loader fills it in).
    training_window: str = "sliding"
    window_partitions: int | None = None
    validation_partitions: int | None = None
    holdout_partitions: int | None = None


@dataclass(frozen=True)
class DatasetContract:
    """Everything the platform knows about one dataset, loaded from its YAML contract."""

    dataset: str
    source_path: str
    event_timestamp: Column
    label: Label
    features: tuple[Column, ...]
    partitioning: Partitioning
    entity_keys: tuple[Column, ...] = ()
    identifiers: tuple[Column, ...] = ()
    primary_key: tuple[str, ...] = ()
    timestamp_from_row_index: RowIndexTimestamp | None = None
    expectations: Expectations = field(default_factory=Expectations)
    policy: Policy = field(default_factory=Policy)
    feature_views: tuple[FeatureView, ...] = ()
    description: str = ""
    owner: str = "team:ml-platform"

    @property
    def columns(self) -> tuple[Column, ...]:
        """Contract columns in table order: entity keys, identifiers, timestamp, features, label."""
        return (
            *self.entity_keys,
            *self.identifiers,
            self.event_timestamp,
            *self.features,
            self.label.column,
        )

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def feature_names(self) -> list[str]:
        return [c.name for c in self.features]

    @property
    def timestamp_name(self) -> str:
        return self.event_timestamp.name

    @property
    def label_name(self) -> str:
        return self.label.column.name

    @property
    def entity_key_names(self) -> list[str]:
        return [c.name for c in self.entity_keys]

    def view(self, name: str | None = None) -> FeatureView:
        """The feature view called `name`, else (no name) the first one the contract declares."""
        if not self.feature_views:
            msg = f"{self.source_path}: dataset {self.dataset!r} declares no feature view"
            raise ValueError(msg)
        if not name:
            return self.feature_views[0]
        for view in self.feature_views:
            if view.name == name:
                return view
        known = ", ".join(v.name for v in self.feature_views)
        msg = f"{self.source_path}: dataset {self.dataset!r} has no feature view {name!r} ({known})"
        raise ValueError(msg)

    @property
    def series_value(self) -> str:
        """The value of the series column (`SERIES_KEY`) in the rows of a keyless view."""
        return self.dataset

    def key_column(self, name: str) -> Column:
        """The column of a view's key: a contract column, or the series column."""
        if name == SERIES_KEY:
            return Column(
                SERIES_KEY,
                SERIES_DTYPE,
                description="The series of a dataset with no entity keys (the dataset's name).",
            )
        return self.column(name)

    def column(self, name: str) -> Column:
        for col in self.columns:
            if col.name == name:
                return col
        msg = f"{self.source_path}: dataset {self.dataset!r} has no column {name!r}"
        raise KeyError(msg)

    @property
    def contract_hash(self) -> str:
        """Short hash of the contract's content (not its path), recorded with every version."""
        content = asdict(self)
        content.pop("source_path")
        blob = json.dumps(content, sort_keys=True, default=str).encode()
        return hashlib.sha256(blob).hexdigest()[:16]
