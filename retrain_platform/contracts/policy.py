"""Parse a contract's table-level sections: partition `expectations` and the retraining `policy`.

Both sections are optional; a missing one means the defaults of `Expectations` and `Policy`.
Column names they mention are checked against the contract's columns. The training window's
sizes default per partition grain (`WINDOW_DEFAULTS`); the loaded policy holds the numbers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

import yaml

from retrain_platform.contracts.model import (
    DRIFT_HTML_MODES,
    GATE_METHODS,
    GRAINS,
    TRAINING_WINDOWS,
    Expectations,
    Policy,
)
from retrain_platform.contracts.parsing import Reader, as_number, parse_duration


def parse_expectations(r: Reader, column_names: set[str]) -> Expectations:
    """The `expectations` section (defaults when absent)."""
    e = r.child("expectations")
    if e is None:
        return Expectations()
    min_rows = e.get("min_rows_per_partition", 1)
    if not isinstance(min_rows, int) or min_rows < 0:
        e.fail(f"{min_rows!r} is not a non-negative integer", e.sub("min_rows_per_partition"))
    label_rate = _label_rate(e)
    share = as_number(e, "max_null_share", e.get("max_null_share", 1.0))
    by_column = e.get("max_null_share_by_column", {})
    if not isinstance(by_column, dict):
        e.fail("expected a mapping column -> share", e.sub("max_null_share_by_column"))
    for name, value in by_column.items():
        if name not in column_names:
            e.fail(f"unknown column {name!r}", f"{e.sub('max_null_share_by_column')}.{name}")
        as_number(e, f"max_null_share_by_column.{name}", value)
    staleness = e.get("max_staleness")
    e.finish()
    return Expectations(
        min_rows_per_partition=min_rows,
        label_rate=label_rate,
        max_null_share=float(share if share is not None else 1.0),
        max_null_share_by_column=tuple(sorted((k, float(v)) for k, v in by_column.items())),
        max_staleness=(
            parse_duration(staleness, path=r.path, key=e.sub("max_staleness"))
            if staleness
            else None
        ),
    )


def _label_rate(e: Reader) -> tuple[float, float] | None:
    band = e.get("label_rate")
    if band is None:
        return None
    if not isinstance(band, list) or len(band) != 2:
        e.fail("expected [low, high]", e.sub("label_rate"))
    low, high = as_number(e, "label_rate", band[0]), as_number(e, "label_rate", band[1])
    if low is None or high is None or not 0 <= low <= high <= 1:
        e.fail(f"{band!r} is not a band within [0, 1]", e.sub("label_rate"))
    return (low, high)


_POLICY_FIELDS: dict[str, Callable[[Any], Any]] = {
    "decision_threshold": float,
    "min_roc_auc": float,
    "min_recall_at_threshold": float,
    "max_relative_regression": float,
    "slice_columns": tuple,
    "drift_psi_threshold": float,
    "drift_ks_threshold": float,
    "drift_row_cap": int,
    "drift_min_values": int,
    "drift_html": str,
    "max_model_age_days": int,
    "gate_method": str,
    "bootstrap_resamples": int,
    "bootstrap_confidence": float,
    "max_slice_regression": float,
    "min_slice_rows": int,
    "max_gate_rejection_rate": float,
    "retrain_on_new_labelled_rows": int,
    "retrain_cooldown_hours": float,
    "drift_worsening_factor": float,
    "drift_importance_share": float,
    "drift_persistence": int,
    "drift_persistence_window": int,
    "min_post_drift_labelled_partitions": int,
    "max_p99_ms": float,
    "max_model_mb": float,
}


# Training window sizes per grain when the policy sets none: (window, validation, holdout)
# partitions. Four weeks of days with three days each to select and to gate the model; two weeks
# of hours with a day each; half a year of weeks with two each; three years of months with a
# quarter each (enough seasons to learn from, recent enough to follow drift).
WINDOW_DEFAULTS: dict[str, tuple[int, int, int]] = {
    "hourly": (14 * 24, 24, 24),
    "daily": (28, 3, 3),
    "weekly": (26, 2, 2),
    "monthly": (36, 3, 3),
}
WINDOW_SIZES = ("window_partitions", "validation_partitions", "holdout_partitions")


def window_defaults(grain: str) -> dict[str, int]:
    """The default window sizes of a grain, keyed by their policy key."""
    return dict(zip(WINDOW_SIZES, WINDOW_DEFAULTS[grain], strict=True))


def parse_policy(r: Reader, column_names: set[str]) -> Policy:
    """The `policy` section (defaults when absent; window sizes by the contract's grain)."""
    grain = _grain(r)
    p = r.child("policy")
    if p is None:
        return Policy(**(window_defaults(grain) if grain else {}))
    values = _converted_fields(p)
    _check_policy_values(p, values, column_names)
    values.update(_training_window(p, grain))
    max_age = p.get("max_feature_age")
    if max_age is not None:
        values["max_feature_age"] = parse_duration(
            max_age, path=r.path, key=p.sub("max_feature_age")
        )
    p.finish()
    return Policy(**values)


def _converted_fields(p: Reader) -> dict[str, Any]:
    """The plain policy keys that are set, each converted to its field's type."""
    values: dict[str, Any] = {}
    for name, convert in _POLICY_FIELDS.items():
        raw = p.get(name)
        if raw is None:
            continue
        try:
            values[name] = convert(raw)
        except (TypeError, ValueError):
            p.fail(f"{raw!r} is not a valid {convert.__name__}", p.sub(name))
    return values


def _check_policy_values(p: Reader, values: dict[str, Any], column_names: set[str]) -> None:
    for name in values.get("slice_columns", ()):
        if name not in column_names:
            p.fail(f"unknown column {name!r}", p.sub("slice_columns"))
    method = values.get("gate_method", Policy.gate_method)
    if method not in GATE_METHODS:
        p.fail(f"{method!r} is not one of {', '.join(GATE_METHODS)}", p.sub("gate_method"))
    if not 0 < values.get("bootstrap_confidence", Policy.bootstrap_confidence) < 1:
        p.fail("must be between 0 and 1 (exclusive)", p.sub("bootstrap_confidence"))
    if values.get("bootstrap_resamples", Policy.bootstrap_resamples) < 100:
        p.fail("needs at least 100 resamples", p.sub("bootstrap_resamples"))
    if values.get("drift_html", Policy.drift_html) not in DRIFT_HTML_MODES:
        choices = ", ".join(DRIFT_HTML_MODES)
        p.fail(f"{values['drift_html']!r} is not one of {choices}", p.sub("drift_html"))
    if values.get("drift_min_values", 1) < 1:
        p.fail("must be a positive number of values", p.sub("drift_min_values"))
    if values.get("retrain_on_new_labelled_rows", 1) < 1:
        p.fail("must be a positive number of rows", p.sub("retrain_on_new_labelled_rows"))
    if values.get("retrain_cooldown_hours", 0.0) < 0:
        p.fail("must be a non-negative number of hours", p.sub("retrain_cooldown_hours"))
    share = values.get("drift_importance_share")
    if share is not None and not 0 < share <= 1:
        p.fail("must be a share in (0, 1]", p.sub("drift_importance_share"))
    persistence = values.get("drift_persistence", 1)
    if persistence < 1:
        p.fail("must be at least 1 report", p.sub("drift_persistence"))
    if values.get("drift_persistence_window", 1) < 1:
        p.fail("must be at least 1 report", p.sub("drift_persistence_window"))
    if values.get("min_post_drift_labelled_partitions", 0) < 0:
        p.fail("must be a non-negative number", p.sub("min_post_drift_labelled_partitions"))
    if values.get("drift_worsening_factor", 1.0) < 1:
        p.fail("must be at least 1", p.sub("drift_worsening_factor"))
    for budget in ("max_p99_ms", "max_model_mb"):
        if not values.get(budget, 1.0) > 0:
            p.fail("must be a positive budget", p.sub(budget))


def _grain(r: Reader) -> str | None:
    """The contract's partition grain if it is a known one (the partitioning parser reports it
    otherwise); read without marking the key, which that parser owns."""
    part = r.value.get("partitioning")
    grain = part.get("grain") if isinstance(part, dict) else None
    return grain if grain in GRAINS else None


def _training_window(p: Reader, grain: str | None) -> dict[str, Any]:
    """`training_window` and the window sizes, each unset size the grain's default.

    Every size is a whole number of partitions, at least 1, and the window must leave at least one
    partition to train on after the validation and holdout partitions.
    """
    kind = p.get("training_window", Policy.training_window)
    if kind not in TRAINING_WINDOWS:
        p.fail(f"{kind!r} is not one of {', '.join(TRAINING_WINDOWS)}", p.sub("training_window"))
    sizes = window_defaults(grain) if grain else {}
    for name in WINDOW_SIZES:
        raw = p.get(name)
        if raw is None:
            continue
        if isinstance(raw, bool) or not isinstance(raw, int) or raw < 1:
            p.fail(f"{raw!r} is not a whole number of partitions (at least 1)", p.sub(name))
        sizes[name] = raw
    if len(sizes) == len(WINDOW_SIZES):
        window, validation, holdout = (sizes[name] for name in WINDOW_SIZES)
        if window <= validation + holdout:
            p.fail(
                f"a window of {window} partition(s) leaves none to train on after "
                f"{validation} validation and {holdout} holdout partition(s)",
                p.sub("window_partitions"),
            )
    return {"training_window": kind, **sizes}


POLICY_KEYS = (*_POLICY_FIELDS, "training_window", *WINDOW_SIZES)
_OPTIONAL_KEYS = ("retrain_on_new_labelled_rows", "drift_importance_share")  # null: off


def override_policy(policy: Policy, settings: Mapping[str, object]) -> Policy:
    """`policy` with the `settings` (policy key -> value, text as YAML reads it) replaced.

    The backtest's `--set` and named variants, and `calibrate`'s candidates: each value is
    converted as the loader converts it; an unknown key, a value of the wrong kind or a window
    left with nothing to train on is a ValueError naming the key.
    """
    values: dict[str, Any] = {}
    for key, raw in settings.items():
        value = yaml.safe_load(raw) if isinstance(raw, str) else raw
        if key not in POLICY_KEYS:
            msg = f"unknown policy key {key!r} (known: {', '.join(sorted(POLICY_KEYS))})"
            raise ValueError(msg)
        try:
            if key in WINDOW_SIZES:
                if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                    raise ValueError
                values[key] = value
            elif key == "training_window":
                if value not in TRAINING_WINDOWS:
                    raise ValueError
                values[key] = value
            elif (
                key in ("retrain_on_new_labelled_rows", "drift_importance_share") and value is None
            ):
                values[key] = None
            else:
                values[key] = _POLICY_FIELDS[key](value)
        except (TypeError, ValueError):
            msg = f"policy {key}: {raw!r} is not a valid value"
            raise ValueError(msg) from None
    changed = replace(policy, **values)
    _check_trigger_settings(changed)
    sizes = [getattr(changed, name) for name in WINDOW_SIZES]
    if None not in sizes and sizes[0] <= sizes[1] + sizes[2]:
        msg = (
            f"policy window_partitions {sizes[0]} leaves nothing to train on after "
            f"{sizes[1]} validation and {sizes[2]} holdout partition(s)"
        )
        raise ValueError(msg)
    return changed


def _check_trigger_settings(policy: Policy) -> None:
    share = policy.drift_importance_share
    if share is not None and not 0 < share <= 1:
        msg = f"policy drift_importance_share: {share} is not a share in (0, 1]"
        raise ValueError(msg)
    if policy.drift_persistence < 1 or policy.drift_persistence_window < 1:
        msg = "policy drift_persistence and drift_persistence_window must be at least 1"
        raise ValueError(msg)
    if policy.min_post_drift_labelled_partitions < 0:
        msg = "policy min_post_drift_labelled_partitions must be non-negative"
        raise ValueError(msg)
