"""Load a YAML contract into a `DatasetContract`, rejecting anything unclear with file and key.

Contracts are written by people, so every mistake (an unknown key, a misspelt dtype, a feature that
is also the label...) is reported as `ContractError("<file>: <key>: <problem>")`. Each section has
its own parser (`columns`, `policy`, `feature_views`); this module checks how the sections relate
(one role per column, the primary key) and assembles the contract.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from retrain_platform.contracts.columns import parse_columns, parse_event_timestamp, parse_label
from retrain_platform.contracts.feature_views import parse_feature_views
from retrain_platform.contracts.model import GRAINS, Column, DatasetContract, Partitioning
from retrain_platform.contracts.parsing import (
    VALID_NAME,
    ContractError,
    Reader,
    as_date,
    parse_duration,
)
from retrain_platform.contracts.policy import parse_expectations, parse_policy

__all__ = ["ContractError", "load_contract", "parse_contract", "parse_duration"]

_Roles = list[tuple[str, Column]]


_SECTIONS = (
    "dataset",
    "description",
    "owner",
    "event_timestamp",
    "label",
    "features",
    "entity_keys",
    "identifiers",
    "primary_key",
    "partitioning",
    "expectations",
    "policy",
    "feature_views",
)


class _Problems:
    """Runs each section's parser and keeps every error, to report all of them at once."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def attempt(self, parse: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return parse(*args, **kwargs)
        except ContractError as exc:
            self.errors.extend(str(exc).splitlines())
            return None

    def raise_any(self) -> None:
        if self.errors:
            raise ContractError("\n".join(self.errors))


def parse_contract(raw: Any, *, source: str) -> DatasetContract:
    """Validate a parsed YAML document and build the contract; `source` names it in errors.

    Every section is checked even when an earlier one is wrong, and every problem found is in the
    one `ContractError` raised (a line each); sections that build on a broken one (the roles of
    the columns, feature views over a broken label) are checked once it is fixed.
    """
    r = Reader(source, "", raw)
    problems = _Problems()
    dataset = r.get("dataset", required=True) if "dataset" in r.value else None
    if dataset is None or not isinstance(dataset, str) or not VALID_NAME.match(dataset):
        problems.attempt(
            r.fail, f"{dataset!r} is not a valid dataset name (letters, digits, _)", "dataset"
        )
    stamp = problems.attempt(parse_event_timestamp, r)
    label = problems.attempt(parse_label, r)
    features = problems.attempt(parse_columns, r, "features", required=True)
    entity_keys = problems.attempt(parse_columns, r, "entity_keys")
    identifiers = problems.attempt(parse_columns, r, "identifiers")
    partitioning = problems.attempt(_partitioning, r)
    if None in (stamp, label, features, entity_keys, identifiers):
        # the columns are broken: check the sections that only need their names, then stop
        declared = _declared_names(raw)
        problems.attempt(parse_expectations, r, declared)
        problems.attempt(parse_policy, r, declared)
        r.mark_used(*_SECTIONS)
        problems.attempt(r.finish)
        problems.raise_any()
    event_timestamp, from_row_index = stamp

    roles = [("entity_keys", c) for c in entity_keys] + [("identifiers", c) for c in identifiers]
    roles += [("event_timestamp", event_timestamp), ("label", label.column)]
    roles += [("features", c) for c in features]
    problems.attempt(_check_one_role_per_column, r, roles)
    names = {col.name for _, col in roles}
    primary_key = problems.attempt(_primary_key, r, roles, names)
    expectations = problems.attempt(parse_expectations, r, names)
    policy = problems.attempt(parse_policy, r, names)
    feature_views = problems.attempt(
        parse_feature_views,
        r,
        {col.name: col for _, col in roles if col.name != label.column.name}
        | {label.column.name: label.column},
        label,
        tuple(c.name for c in entity_keys),
        tuple(c.name for c in features),
    )
    description, owner = str(r.get("description", "")), str(r.get("owner", "team:ml-platform"))
    problems.attempt(r.finish)
    problems.raise_any()
    return DatasetContract(
        dataset=dataset,
        source_path=source,
        event_timestamp=event_timestamp,
        label=label,
        features=features,
        partitioning=partitioning,
        entity_keys=entity_keys,
        identifiers=identifiers,
        primary_key=primary_key,
        timestamp_from_row_index=from_row_index,
        expectations=expectations,
        policy=policy,
        feature_views=feature_views,
        description=description,
        owner=owner,
    )


def _declared_names(raw: dict[str, Any]) -> set[str]:
    """Every column name the document declares, read leniently (some sections are broken)."""
    names = set()
    for section in ("features", "entity_keys", "identifiers"):
        items = raw.get(section)
        for item in items if isinstance(items, list) else []:
            if isinstance(item, dict) and isinstance(item.get("name"), str):
                names.add(item["name"])
    for section in ("event_timestamp", "label"):
        item = raw.get(section)
        if isinstance(item, dict) and isinstance(item.get("name"), str):
            names.add(item["name"])
    return names


def _check_one_role_per_column(r: Reader, roles: _Roles) -> None:
    """Every column name has one role; a feature that is also the label would leak it."""
    seen: dict[str, str] = {}
    for role, col in roles:
        if col.name in seen:
            problem = f"column {col.name!r} is declared both in {seen[col.name]} and in {role}"
            if {seen[col.name], role} == {"label", "features"}:
                problem = f"{col.name!r} is the label and cannot also be a feature (it would leak)"
            r.fail(problem, role)
        seen[col.name] = role


def _primary_key(r: Reader, roles: _Roles, names: set[str]) -> tuple[str, ...]:
    pk = r.get("primary_key", [])
    if not isinstance(pk, list):
        r.fail("expected a list of column names", "primary_key")
    for name in pk:
        if name not in names:
            r.fail(f"unknown column {name!r}", "primary_key")
        if _nullable(roles, name):
            r.fail(f"column {name!r} is nullable and cannot be part of the key", "primary_key")
    return tuple(pk)


def _nullable(roles: _Roles, name: str) -> bool:
    return any(col.nullable for _, col in roles if col.name == name)


def _partitioning(r: Reader) -> Partitioning:
    part = r.child("partitioning", required=True)
    assert part is not None
    grain = part.get("grain", required=True)
    if grain not in GRAINS:
        part.fail(f"unknown grain {grain!r} (one of: {', '.join(GRAINS)})", part.sub("grain"))
    partitioning = Partitioning(grain, as_date(part, "start", part.get("start", required=True)))
    part.finish()
    return partitioning


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
