"""Checks of `features/<dataset>_<view>`: the Pandera schema derived from the contract and view.

One step reads the partitions just written and validates them once; it reports two checks:
`features_match_schema` (dtypes, derived ranges such as rates in [0, 1] and counts >= 0, nulls
only where a column may be null) blocks the online store and the training set, and
`features_complete_after_warm_up` (a one-series view's history columns not null once the
history covers their lookback) only warns: a gap in the data produces such nulls too. A range run
also records each partition's verdict (`defs.check_partitions`), so no partition of it is left
"skipped".
"""

from datetime import datetime

import dagster as dg
import polars as pl
from deltalake import DeltaTable
from deltalake.exceptions import TableNotFoundError

from retrain_platform.contracts import DatasetContract
from retrain_platform.contracts.model import FeatureView
from retrain_platform.core.features.schema import (
    SchemaProblem,
    feature_rules,
    feature_schema,
    schema_problems,
    split_problems,
    warm_up_columns,
)
from retrain_platform.core.features.transforms import feature_table_name
from retrain_platform.core.lake import read_partitions
from retrain_platform.core.partitions import partition_start
from retrain_platform.core.platform_columns import PARTITION
from retrain_platform.defs import keys
from retrain_platform.defs.check_partitions import partition_evaluation
from retrain_platform.defs.metadata import bounded_metadata
from retrain_platform.defs.partitions import partitions_for
from retrain_platform.resources import DeltaLakeResource

FEATURES_MATCH_SCHEMA = "features_match_schema"
FEATURES_COMPLETE_AFTER_WARM_UP = "features_complete_after_warm_up"
MAX_PROBLEMS = 20

_EVALUATED = (
    " Evaluated on the partitions of the run that wrote them (`partitions` in the result): a "
    "range run reports each partition's result, then one for its whole range."
)


def _history_start(contract: DatasetContract, lake: DeltaLakeResource) -> datetime | None:
    """Start of the first validated partition: where the data's history begins."""
    try:
        table = DeltaTable(
            lake.uri(keys.VALIDATED, contract.dataset), storage_options=lake.storage_options
        )
    except TableNotFoundError:
        return None
    found = [p[PARTITION] for p in table.partitions() if p.get(PARTITION)]
    return partition_start(min(found), contract.partitioning.grain) if found else None


def _span(partitions: list[str]) -> str:
    return partitions[0] if len(partitions) == 1 else f"{partitions[0]}..{partitions[-1]}"


def build_feature_checks(contract: DatasetContract, view: FeatureView) -> dg.AssetChecksDefinition:
    """The schema check (blocking) and the warm-up check (warning) of one view's table."""
    asset = keys.features_key(contract, view)
    partitions = partitions_for(contract)
    late = warm_up_columns(view, feature_rules(contract, view))
    specs = [
        dg.AssetCheckSpec(
            FEATURES_MATCH_SCHEMA,
            asset=asset,
            blocking=True,
            partitions_def=partitions,
            description=(
                "The features match the Pandera schema derived from the contract and the view: "
                "dtypes; counts >= 0, rates in [0, 1], means/min/max/last/lags within their "
                "column's contract range or categories, std and time since previous >= 0, "
                "one-hot in {0, 1}, ordinal codes within the category count; nulls only where "
                "the base column is nullable or the value needs earlier events. Blocking: the "
                "online store does not load a failed run." + _EVALUATED
            ),
        ),
        dg.AssetCheckSpec(
            FEATURES_COMPLETE_AFTER_WARM_UP,
            asset=asset,
            partitions_def=partitions,
            description=(
                "A one-series view's history columns "
                f"({', '.join(late) if late else 'none in this view'}) are not null in rows "
                f"whose lookback ({view.lookback}) lies inside the validated history (after the "
                "warm-up). Warning only: a gap in the data causes such nulls too." + _EVALUATED
            ),
        ),
    ]

    blocking = {spec.name: spec.blocking for spec in specs}

    @dg.multi_asset_check(
        name=f"check_{feature_table_name(contract, view)}",
        specs=specs,
        description=f"Pandera schema of features/{feature_table_name(contract, view)}.",
    )
    def feature_checks(context: dg.AssetCheckExecutionContext, lake: DeltaLakeResource):
        evaluated = sorted(context.partition_keys)
        uri = lake.uri(keys.FEATURES, feature_table_name(contract, view))
        frame = read_partitions(uri, evaluated, storage_options=lake.storage_options)
        start = _history_start(contract, lake)
        warm_up_end = start + view.lookback if start is not None else None
        schema = feature_schema(contract, view, warm_up_end=warm_up_end)
        problems = schema_problems(frame, schema)
        if len(evaluated) > 1:  # a range run: each partition's own verdict (check_partitions)
            for partition in evaluated:
                part = frame.filter(pl.col(PARTITION) == partition)
                # every check is per row or per dtype: the partitions of a clean range are clean
                found = schema_problems(part, schema) if problems else []
                for result in _results(contract, view, part, [partition], found, warm_up_end):
                    yield partition_evaluation(
                        context, result, partition, blocking=blocking[result.check_name]
                    )
        yield from _results(contract, view, frame, evaluated, problems, warm_up_end)

    return feature_checks


def _results(
    contract: DatasetContract,
    view: FeatureView,
    frame: pl.DataFrame,
    evaluated: list[str],
    problems: list[SchemaProblem],
    warm_up_end: datetime | None,
) -> list[dg.AssetCheckResult]:
    """Both checks' results on `frame` (the rows of the `evaluated` partitions) and its problems."""
    asset = keys.features_key(contract, view)
    late = warm_up_columns(view, feature_rules(contract, view))
    wrong, warm = split_problems(problems)
    common = {"partitions": _span(evaluated), "rows": frame.height}
    return [
        dg.AssetCheckResult(
            asset_key=asset,
            check_name=FEATURES_MATCH_SCHEMA,
            passed=not wrong,
            severity=dg.AssetCheckSeverity.ERROR,
            description=f"Partitions {_span(evaluated)}.",
            metadata=bounded_metadata(
                {
                    **common,
                    "failures": len(wrong),
                    "problems": [p.as_dict() for p in wrong[:MAX_PROBLEMS]],
                }
            ),
        ),
        dg.AssetCheckResult(
            asset_key=asset,
            check_name=FEATURES_COMPLETE_AFTER_WARM_UP,
            passed=not warm,
            severity=dg.AssetCheckSeverity.WARN,
            description=f"Partitions {_span(evaluated)}.",
            metadata=bounded_metadata(
                {
                    **common,
                    "warm_up_end": warm_up_end.isoformat() if warm_up_end else "",
                    "history_columns": late,
                    "rows_with_nulls_after_warm_up": sum(p.rows for p in warm),
                    "rows_in_warm_up": _rows_before(frame, contract, warm_up_end),
                }
            ),
        ),
    ]


def _rows_before(frame: pl.DataFrame, contract: DatasetContract, end: datetime | None) -> int:
    if end is None or frame.is_empty():
        return frame.height
    ts = contract.timestamp_name
    return frame.filter(pl.col(ts) < pl.lit(end).cast(frame.schema[ts])).height


def build_checks(contract: DatasetContract) -> list[dg.AssetChecksDefinition]:
    """The feature checks of every view of the contract."""
    return [build_feature_checks(contract, view) for view in contract.feature_views]
