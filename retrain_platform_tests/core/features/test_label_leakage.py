"""No feature of any contract's views reads a label before it is known.

For every shipped contract, every test contract file and variants using every label feature
(both closures, delays 0 to 2 days), on random rows generated from the contract with event
times on a 30 minute grid (labels become known exactly at a later event's time; some events
share an instant): changing every label not yet known at a time t (event time + delay > t, or
event time >= t) changes no feature of any event at or before t. The check can fail: each view
with label features must change after t when those labels change.
"""

from __future__ import annotations

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from retrain_platform.contracts import DatasetContract
from retrain_platform.core.features.transforms import build_features
from retrain_platform_tests.fixtures.label_views import (
    SHIPPED_CONTRACT_PATHS,
    contract_files_in_tests,
    every_contract,
    random_rows,
)

CONTRACTS = every_contract()
CUTS = (0.4, 0.6, 0.8, 0.95)  # where t falls among the event times


def _changed_labels(contract: DatasetContract) -> pl.Expr:
    """Each label replaced by another value: the next category, the negation, or plus one."""
    label = pl.col(contract.label_name)
    categories = contract.label.column.categories
    if categories:
        rotated = [*categories[1:], categories[0]]
        return label.replace(list(categories), rotated)
    if contract.label.column.dtype == "bool":
        return ~label
    return label + 1


def test_every_contract_is_checked():
    names = set(CONTRACTS)
    for path in [*SHIPPED_CONTRACT_PATHS, *contract_files_in_tests()]:
        assert f"{path.parent.name}/{path.name}" in names
    assert "fixtures/keyless_series.yaml" in names


@pytest.mark.parametrize("name", sorted(CONTRACTS))
def test_no_feature_changes_when_labels_not_yet_known_change(name):
    contract = CONTRACTS[name]
    ts, delay = contract.timestamp_name, contract.label.delay
    rows = random_rows(contract, days=4, rows=40)
    label = contract.label_name
    stamps = rows.get_column(ts).unique().sort()
    for view in contract.feature_views:
        features = build_features(rows, contract, view)
        label_features = view.label_output_names(label)
        moved_after = 0
        for share in CUTS:
            t = stamps[int(share * (stamps.len() - 1))]
            unknown = (pl.col(ts) + delay > t) | (pl.col(ts) >= t)
            changed = rows.with_columns(
                pl.when(unknown).then(_changed_labels(contract)).otherwise(pl.col(label))
            )
            assert changed.get_column(label).ne(rows.get_column(label)).any()
            again = build_features(changed, contract, view)
            assert_frame_equal(
                again.filter(pl.col(ts) <= t), features.filter(pl.col(ts) <= t), check_exact=True
            )
            if label_features:
                later = pl.col(ts) > t
                before = features.filter(later).select(label_features)
                moved_after += int(not again.filter(later).select(label_features).equals(before))
        if label_features:
            assert moved_after > 0, f"{name}/{view.name}: label features ignore every label"
