"""Load a YAML contract into a `DatasetContract`, rejecting anything unclear with file and key.

Contracts are written by people, so every mistake (an unknown key, a misspelt dtype, a feature that
is also the label...) is reported as `ContractError("<file>: <key>: <problem>")`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from retrain_platform.contracts.feature_views import parse_feature_views
from retrain_platform.contracts.model import (
    DRIFT_HTML_MODES,
    DTYPES,
    GATE_METHODS,
    GRAINS,
    NUMERIC_DTYPES,
    Column,
    DatasetContract,
    Expectations,
    Label,
    Partitioning,
    Policy,
    RowIndexTimestamp,
)

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
_DURATION = re.compile(r"^(\d+)\s*(m|h|d|w)$")
_DURATION_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


class ContractError(ValueError):
    """A contract file is malformed; the message names the file and the key."""


class _Reader:
    """Reads one mapping of a contract, tracking the key path for error messages."""

    def __init__(self, path: str, key: str, value: Any) -> None:
        self.path = path
        self.key = key
        if not isinstance(value, dict):
            self.fail(f"expected a mapping, got {type(value).__name__}")
        self.value: dict[str, Any] = value
        self._used: set[str] = set()

    def fail(self, problem: str, key: str | None = None) -> None:
        where = key if key is not None else self.key
        msg = f"{self.path}: {where or '<top level>'}: {problem}"
        raise ContractError(msg)

    def sub(self, name: str) -> str:
        return f"{self.key}.{name}" if self.key else name

    def get(self, name: str, default: Any = None, *, required: bool = False) -> Any:
        self._used.add(name)
        if name not in self.value or self.value[name] is None:
            if required:
                self.fail("missing required key", self.sub(name))
            return default
        return self.value[name]

    def child(self, name: str, *, required: bool = False) -> _Reader | None:
        raw = self.get(name, required=required)
        return None if raw is None else _Reader(self.path, self.sub(name), raw)

    def finish(self) -> None:
        unknown = sorted(set(self.value) - self._used)
        if unknown:
            known = ", ".join(sorted(self._used))
            self.fail(f"unknown key(s) {', '.join(map(repr, unknown))} (known: {known})")


def parse_duration(text: Any, *, path: str = "<duration>", key: str = "") -> timedelta:
    """Parse '15m', '1h', '2d' or '1w' into a timedelta."""
    match = _DURATION.match(str(text).strip())
    if not match:
        msg = f"{path}: {key}: {text!r} is not a duration like '15m', '6h', '2d' or '1w'"
        raise ContractError(msg)
    return timedelta(**{_DURATION_UNITS[match.group(2)]: int(match.group(1))})


def _as_date(reader: _Reader, name: str, value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        reader.fail(f"{value!r} is not a date (YYYY-MM-DD)", reader.sub(name))
        raise


def _number(reader: _Reader, name: str, value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        reader.fail(f"{value!r} is not a number", reader.sub(name))
    return float(value)


def _column(path: str, key: str, raw: Any, *, default_dtype: str | None = None) -> Column:
    r = _Reader(path, key, raw)
    name = r.get("name", required=True)
    if not isinstance(name, str) or not _NAME.match(name):
        r.fail(f"{name!r} is not a valid column name (letters, digits, _)", r.sub("name"))
    r.key = f"{key}[{name}]"
    dtype = r.get("dtype", default_dtype, required=default_dtype is None)
    if dtype not in DTYPES:
        r.fail(f"unknown dtype {dtype!r} (one of: {', '.join(DTYPES)})", r.sub("dtype"))
    nullable = r.get("nullable", False)
    if not isinstance(nullable, bool):
        r.fail(f"{nullable!r} is not true or false", r.sub("nullable"))
    bounds = r.get("range")
    low = high = None
    if bounds is not None:
        if dtype not in NUMERIC_DTYPES:
            r.fail(f"a range needs a numeric dtype, not {dtype!r}", r.sub("range"))
        if not isinstance(bounds, list) or len(bounds) != 2:
            r.fail("expected [min, max] (use null for an open end)", r.sub("range"))
        low, high = _number(r, "range", bounds[0]), _number(r, "range", bounds[1])
        if low is not None and high is not None and low > high:
            r.fail(f"min {low} is above max {high}", r.sub("range"))
    categories = r.get("categories")
    if categories is not None:
        if not isinstance(categories, list) or not categories:
            r.fail("expected a non-empty list", r.sub("categories"))
        if len(set(map(str, categories))) != len(categories):
            r.fail("categories repeat a value", r.sub("categories"))
        categories = tuple(categories)
    description = str(r.get("description", ""))
    r.finish()
    return Column(name, dtype, nullable, low, high, categories, description)


def _columns(r: _Reader, name: str, *, required: bool = False) -> tuple[Column, ...]:
    raw = r.get(name, [], required=required)
    if not isinstance(raw, list):
        r.fail("expected a list of columns", r.sub(name))
    if required and not raw:
        r.fail("needs at least one column", r.sub(name))
    return tuple(_column(r.path, f"{r.sub(name)}[{i}]", item) for i, item in enumerate(raw))


def _event_timestamp(r: _Reader) -> tuple[Column, RowIndexTimestamp | None]:
    ts = r.child("event_timestamp", required=True)
    assert ts is not None
    derived = ts.child("from_row_index")
    from_row_index = None
    if derived is not None:
        from_row_index = RowIndexTimestamp(
            start=_as_date(derived, "start", derived.get("start", required=True)),
            every=parse_duration(
                derived.get("every", required=True), path=r.path, key=derived.sub("every")
            ),
        )
        derived.finish()
    ts._used.add("from_row_index")
    raw = {k: v for k, v in ts.value.items() if k != "from_row_index"}
    column = _column(r.path, ts.key, raw, default_dtype="datetime")
    if column.dtype not in ("datetime", "date"):
        r.fail(f"must be datetime or date, not {column.dtype!r}", f"{ts.key}.dtype")
    if column.nullable:
        r.fail("the event timestamp cannot be nullable", f"{ts.key}.nullable")
    return column, from_row_index


def _label(r: _Reader) -> Label:
    lab = r.child("label", required=True)
    assert lab is not None
    positive = lab.get("positive", required=True)
    delay = lab.get("delay")
    raw = {k: v for k, v in lab.value.items() if k not in ("positive", "delay")}
    lab._used.update(raw)
    column = _column(r.path, lab.key, raw)
    lab.finish()
    if column.nullable:
        r.fail(
            "the label cannot be nullable (unlabelled rows are not training data)",
            lab.sub("nullable"),
        )
    if column.categories is not None and positive not in column.categories:
        r.fail(
            f"positive class {positive!r} is not among {list(column.categories)}",
            lab.sub("positive"),
        )
    return Label(
        column=column,
        positive=positive,
        delay=parse_duration(delay, path=r.path, key=lab.sub("delay")) if delay else timedelta(0),
    )


def _expectations(r: _Reader, column_names: set[str]) -> Expectations:
    e = r.child("expectations")
    if e is None:
        return Expectations()
    min_rows = e.get("min_rows_per_partition", 1)
    if not isinstance(min_rows, int) or min_rows < 0:
        e.fail(f"{min_rows!r} is not a non-negative integer", e.sub("min_rows_per_partition"))
    band = e.get("label_rate")
    label_rate = None
    if band is not None:
        if not isinstance(band, list) or len(band) != 2:
            e.fail("expected [low, high]", e.sub("label_rate"))
        low, high = _number(e, "label_rate", band[0]), _number(e, "label_rate", band[1])
        if low is None or high is None or not 0 <= low <= high <= 1:
            e.fail(f"{band!r} is not a band within [0, 1]", e.sub("label_rate"))
        label_rate = (low, high)
    share = _number(e, "max_null_share", e.get("max_null_share", 1.0))
    by_column = e.get("max_null_share_by_column", {})
    if not isinstance(by_column, dict):
        e.fail("expected a mapping column -> share", e.sub("max_null_share_by_column"))
    for name, value in by_column.items():
        if name not in column_names:
            e.fail(f"unknown column {name!r}", f"{e.sub('max_null_share_by_column')}.{name}")
        _number(e, f"max_null_share_by_column.{name}", value)
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


_POLICY_FIELDS: dict[str, Callable[[Any], Any]] = {
    "decision_threshold": float,
    "min_roc_auc": float,
    "min_recall_at_threshold": float,
    "max_relative_regression": float,
    "slice_columns": tuple,
    "drift_psi_threshold": float,
    "drift_ks_threshold": float,
    "drift_row_cap": int,
    "drift_html": str,
    "max_model_age_days": int,
    "gate_method": str,
    "bootstrap_resamples": int,
    "bootstrap_confidence": float,
    "max_slice_regression": float,
    "min_slice_rows": int,
    "max_gate_rejection_rate": float,
    "retrain_on_new_labelled_rows": int,
}


def _policy(r: _Reader, column_names: set[str]) -> Policy:
    p = r.child("policy")
    if p is None:
        return Policy()
    values: dict[str, Any] = {}
    for name, convert in _POLICY_FIELDS.items():
        raw = p.get(name)
        if raw is None:
            continue
        try:
            values[name] = convert(raw)
        except (TypeError, ValueError):
            p.fail(f"{raw!r} is not a valid {convert.__name__}", p.sub(name))
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
    if values.get("retrain_on_new_labelled_rows", 1) < 1:
        p.fail("must be a positive number of rows", p.sub("retrain_on_new_labelled_rows"))
    max_age = p.get("max_feature_age")
    if max_age is not None:
        values["max_feature_age"] = parse_duration(
            max_age, path=r.path, key=p.sub("max_feature_age")
        )
    p.finish()
    return Policy(**values)


def parse_contract(raw: Any, *, source: str) -> DatasetContract:
    """Validate a parsed YAML document and build the contract; `source` names it in errors."""
    r = _Reader(source, "", raw)
    dataset = r.get("dataset", required=True)
    if not isinstance(dataset, str) or not _NAME.match(dataset):
        r.fail(f"{dataset!r} is not a valid dataset name (letters, digits, _)", "dataset")
    event_timestamp, from_row_index = _event_timestamp(r)
    label = _label(r)
    features = _columns(r, "features", required=True)
    entity_keys = _columns(r, "entity_keys")
    identifiers = _columns(r, "identifiers")

    seen: dict[str, str] = {}
    roles = [("entity_keys", c) for c in entity_keys] + [("identifiers", c) for c in identifiers]
    roles += [("event_timestamp", event_timestamp), ("label", label.column)]
    roles += [("features", c) for c in features]
    for role, col in roles:
        if col.name in seen:
            problem = f"column {col.name!r} is declared both in {seen[col.name]} and in {role}"
            if {seen[col.name], role} == {"label", "features"}:
                problem = f"{col.name!r} is the label and cannot also be a feature (it would leak)"
            r.fail(problem, role)
        seen[col.name] = role
    names = set(seen)

    pk = r.get("primary_key", [])
    if not isinstance(pk, list):
        r.fail("expected a list of column names", "primary_key")
    for name in pk:
        if name not in names:
            r.fail(f"unknown column {name!r}", "primary_key")
        if _nullable(roles, name):
            r.fail(f"column {name!r} is nullable and cannot be part of the key", "primary_key")

    part = r.child("partitioning", required=True)
    assert part is not None
    grain = part.get("grain", required=True)
    if grain not in GRAINS:
        part.fail(f"unknown grain {grain!r} (one of: {', '.join(GRAINS)})", part.sub("grain"))
    partitioning = Partitioning(grain, _as_date(part, "start", part.get("start", required=True)))
    part.finish()

    contract = DatasetContract(
        dataset=dataset,
        source_path=source,
        event_timestamp=event_timestamp,
        label=label,
        features=features,
        partitioning=partitioning,
        entity_keys=entity_keys,
        identifiers=identifiers,
        primary_key=tuple(pk),
        timestamp_from_row_index=from_row_index,
        expectations=_expectations(r, names),
        policy=_policy(r, names),
        feature_views=parse_feature_views(
            r,
            {col.name: col for _, col in roles if col.name != label.column.name}
            | {label.column.name: label.column},
            label,
            tuple(c.name for c in entity_keys),
            tuple(c.name for c in features),
        ),
        description=str(r.get("description", "")),
        owner=str(r.get("owner", "team:ml-platform")),
    )
    r.finish()
    return contract


def _nullable(roles: list[tuple[str, Column]], name: str) -> bool:
    return any(col.nullable for _, col in roles if col.name == name)


def load_contract(path: str | Path) -> DatasetContract:
    """Read and validate a contract file."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        msg = f"{path}: cannot read contract: {exc.strerror or exc}"
        raise ContractError(msg) from exc
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        msg = f"{path}: not valid YAML: {exc}"
        raise ContractError(msg) from exc
    return parse_contract(raw, source=str(path))
