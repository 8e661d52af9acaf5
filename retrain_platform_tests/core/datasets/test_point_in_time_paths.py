"""The training set's two point-in-time paths, polars as-of and Feast, give identical frames."""

import polars as pl
from polars.testing import assert_frame_equal

from retrain_platform.core.datasets.point_in_time import asof_join, feast_join, label_columns
from retrain_platform.core.features.transforms import feature_columns
from retrain_platform.resources.feast import FeastResource
from retrain_platform_tests.fixtures.online_store import feature_rows, write_features


def _labels(features: pl.DataFrame, contract, view) -> pl.DataFrame:
    """Label events at feature rows, one second after them, and an hour before an entity's first
    event (which has no feature row yet and must survive with nulls)."""
    ts, label = contract.timestamp_name, contract.label_name
    carried = [c for c in label_columns(contract) if c != label]
    base = features.select(carried).sample(300, seed=1)
    later = base.with_columns(pl.col(ts) + pl.duration(seconds=1))
    first = features.sort(ts).group_by(view.entity_keys, maintain_order=True).first()
    early = first.select(carried).head(25).with_columns(pl.col(ts) - pl.duration(hours=1))
    frame = pl.concat([base, later, early])
    positive = (pl.int_range(pl.len()) % 7 == 0).cast(pl.Int8)
    return frame.with_columns(positive.alias(label))


def test_polars_and_feast_paths_give_identical_frames(home, contract):
    view = contract.feature_views[0]
    features = feature_rows(contract, view)
    write_features(home.lake_uri, contract, view, features)
    feast = FeastResource()
    feast.apply(contract)
    labels = _labels(features, contract, view)

    fast = asof_join(labels, features, contract, view)
    through_feast = feast_join(
        labels,
        contract,
        view,
        lambda entity_df: feast.historical_features(contract, view, entity_df),
        feature_columns(contract, view),
    )

    assert fast.height == through_feast.height == labels.height
    assert_frame_equal(fast, through_feast, check_exact=True)
    derived = view.derived_names(contract.label_name)
    orphans = fast.tail(25)
    assert orphans.select(derived).null_count().sum_horizontal().item() == 25 * len(derived)
