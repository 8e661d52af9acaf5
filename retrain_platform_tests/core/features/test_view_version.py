"""A feature view's version changes with the contract's columns and the view's meaning, not its ttl.

Checked on every shipped and test contract file: adding a column (served or not) gives every
view a new version and a new Feast feature service name; so do a new closure or label delay;
reloading the same contract, or a longer ttl, keeps it.
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest

from retrain_platform.core.feature_store.feast_objects import feature_service_name
from retrain_platform.core.features.version import view_version
from retrain_platform_tests.fixtures.label_views import (
    SHIPPED_CONTRACT_PATHS,
    contract_files_in_tests,
    contract_variant,
)

PATHS = {
    f"{p.parent.name}/{p.name}": p for p in [*SHIPPED_CONTRACT_PATHS, *contract_files_in_tests()]
}
ADDED = {"name": "added_signal", "dtype": "float64", "nullable": True}


def _versions(contract) -> list[str]:
    return [view_version(contract, view) for view in contract.feature_views]


def _passthrough_only_old_features(raw) -> None:
    for view in raw.get("feature_views", []):
        view.setdefault("passthrough", [f["name"] for f in raw["features"]])


@pytest.mark.parametrize("name", sorted(PATHS))
def test_adding_a_column_changes_every_view_version(name):
    path = PATHS[name]
    base = contract_variant(path, "base", lambda raw: None)
    assert _versions(contract_variant(path, "again", lambda raw: None)) == _versions(base)
    added = contract_variant(path, "added", lambda raw: raw["features"].append(ADDED))
    for old, new in zip(_versions(base), _versions(added), strict=True):
        assert old != new
    for old, new in zip(base.feature_views, added.feature_views, strict=True):
        assert feature_service_name(base, old) != feature_service_name(added, new)

    def add_unserved(raw):
        _passthrough_only_old_features(raw)
        raw["features"].append(ADDED)

    unserved = contract_variant(path, "unserved", add_unserved)
    same_served = contract_variant(path, "served", _passthrough_only_old_features)
    for old, new in zip(_versions(same_served), _versions(unserved), strict=True):
        assert old != new  # the view does not serve it, but its rows now carry it


@pytest.mark.parametrize("name", sorted(PATHS))
def test_the_views_meaning_is_part_of_its_version(name):
    base = contract_variant(PATHS[name], "base", lambda raw: None)
    delayed = contract_variant(PATHS[name], "delayed", lambda raw: raw["label"].update(delay="1m"))
    for view, later in zip(base.feature_views, delayed.feature_views, strict=True):
        version = view_version(base, view)
        assert view_version(delayed, later) != version
        other = "including" if view.closure == "before" else "before"
        assert view_version(base, dataclasses.replace(view, closure=other)) != version
        longer_ttl = dataclasses.replace(view, ttl=view.ttl + timedelta(days=1))
        assert view_version(base, longer_ttl) == version
