"""Point-in-time joins: label events to the feature values known at each event's time.

The fast path is a polars backward as-of join per entity over the features table. Feast's
historical retrieval is kept as a selectable path; its file offline store drops label rows with
no earlier feature row, so its answer is re-joined on a row id to keep every label row (with
nulls), exactly like the as-of join. Label events of a keyless view get its series column
first (`with_view_keys`), so they join the series' features like an entity's.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import polars as pl

from retrain_platform.contracts import DatasetContract
from retrain_platform.contracts.model import FeatureView
from retrain_platform.core.features.transforms import with_view_keys

ROW_ID = "__label_row"


def label_columns(contract: DatasetContract) -> list[str]:
    """Columns a label event carries into the training set (before features are joined)."""
    keys = [c.name for c in contract.entity_keys]
    ids = [c.name for c in contract.identifiers]
    return [*keys, *ids, contract.timestamp_name, contract.label_name]


def asof_join(
    labels: pl.DataFrame, features: pl.DataFrame, contract: DatasetContract, view: FeatureView
) -> pl.DataFrame:
    """Each label row with the newest feature row of its entity at or before its timestamp and
    no older than the view's TTL (as Feast serves it)."""
    ts = contract.timestamp_name
    names = view.feature_names(contract.label_name)
    right = features.select([*view.entity_keys, ts, *names]).sort(ts)
    left = with_view_keys(labels, contract, view).with_row_index(ROW_ID).sort(ts)
    joined = left.join_asof(
        right, on=ts, by=list(view.entity_keys), strategy="backward", check_sortedness=False
    )
    return joined.sort(ROW_ID).drop(ROW_ID)


FEAST_CHUNK_ROWS = 100_000


def feast_join(
    labels: pl.DataFrame,
    contract: DatasetContract,
    view: FeatureView,
    retrieve: Callable[[pd.DataFrame], pd.DataFrame],
    feature_schema: dict[str, pl.DataType],
    *,
    chunk_rows: int = FEAST_CHUNK_ROWS,
) -> pl.DataFrame:
    """The same join through Feast: `retrieve(entity_df)` is `get_historical_features(...).to_df()`.

    Rows Feast drops come back with null features, so no label row is ever lost. Label rows go
    to Feast `chunk_rows` at a time: its file store pairs every label row with all feature rows
    of its entity before filtering by time, in pandas; with the synthetic source's ~3,000 cards
    and 47 features, 1M label rows needed more than 20 GB in one call. Each call also re-reads
    the whole source (about 17 s for 1M feature rows here), so chunks should stay large.
    """
    ts = contract.timestamp_name
    names = view.feature_names(contract.label_name)
    keyed = with_view_keys(labels, contract, view).with_row_index(ROW_ID)
    entities = keyed.select([ROW_ID, *view.entity_keys, ts]).rename({ts: "event_timestamp"})
    answers = [
        pl.from_pandas(retrieve(chunk.to_pandas())[[ROW_ID, *names]]).cast(
            {name: feature_schema[name] for name in names}  # type: ignore[arg-type]
        )
        for chunk in entities.iter_slices(chunk_rows)
    ]
    answer = pl.concat(answers).unique(ROW_ID, keep="first")
    joined = keyed.join(answer, on=ROW_ID, how="left")
    return joined.sort(ROW_ID).drop(ROW_ID)
