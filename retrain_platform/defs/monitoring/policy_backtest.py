"""`monitoring/<dataset>_policy_backtest`: the retraining-policy backtest, run from the UI.

It answers "how often should this dataset be retrained?" on the platform's own validated
history: the policies a run's config names (by default never, the grain's fixed schedules, the
contract's policy and the hindsight oracle) are replayed through the loop by `core.backtest`
(the same features, label delay, window, candidate search, gate and `triggers.decide`). The
materialization carries the comparison table (Dagster table and Markdown), the frontier and
per-partition plots embedded in Markdown as PNG data URIs (Dagster's UI sanitizer allows `data:`
image sources) with links to the files under `$RETRAIN_HOME/state/backtest/<dataset>/<run>/`,
and the headline figures. Not partitioned and without an automation condition: it is
materialized on demand, since a backtest costs many fits.
"""

import base64
import json
import math
from pathlib import Path

import dagster as dg
import polars as pl
from pydantic import Field

from retrain_platform.contracts import DatasetContract
from retrain_platform.core import platform_columns as pc
from retrain_platform.core.backtest import (
    CONTRACT,
    ORACLE,
    BacktestOptions,
    BacktestResult,
    PreparedSource,
    RetrainPolicy,
    parse_policies,
    parse_settings,
    plot_frontier,
    plot_partitions,
    run_backtest,
    with_settings,
)
from retrain_platform.core.backtest.policies import METRICS, replay_training
from retrain_platform.core.lake import read_partitions, table_exists
from retrain_platform.core.models.inputs import stable_order
from retrain_platform.defs import keys
from retrain_platform.defs.metadata import recorded
from retrain_platform.defs.monitoring.metadata import GROUP, MONITORING
from retrain_platform.home import layout
from retrain_platform.resources import DeltaLakeResource

__all__ = [
    "TABLE_COLUMNS",
    "PolicyBacktestConfig",
    "build_policy_backtest_asset",
    "policy_backtest_key",
    "validated_source",
]

# The table's columns (`BacktestResult.table()` names) and their Dagster types.
TABLE_COLUMNS = {
    "policy": "string",
    "fits": "int",
    "promoted": "int",
    "mean_roc_auc": "float",
    "mean_accuracy": "float",
    "below_floor": "float",
    "c_alpha_area": "float",
    "oracle_at_fits": "float",
}
PROGRESS_STEPS = 10  # log each piece of work at every tenth


def policy_backtest_key(contract: DatasetContract) -> dg.AssetKey:
    return dg.AssetKey([MONITORING, f"{contract.dataset}_policy_backtest"])


class PolicyBacktestConfig(dg.Config):
    """What to replay and how hard to search (the defaults are the CLI's)."""

    policies: list[str] = Field(
        default=["all"],
        description="never | every:N | contract | contract:key=value,... | oracle | all "
        "(never, the grain's fixed schedules, contract, oracle)",
    )
    overrides: list[str] = Field(
        default=[], description="policy key=value settings applied to every contract policy"
    )
    alpha_max: float = Field(
        default=0.1, description="C_alpha = mean metric - alpha x retrains per partition"
    )
    metric: str = Field(default="roc_auc", description="the oracle's metric: roc_auc or accuracy")
    max_rounds: int = Field(
        default=400, description="boosting rounds of each fit (400: the retrain job's search)"
    )
    workers: int = Field(default=0, description="fitting processes (0: one per core)")
    onsets: list[str] = Field(
        default=[], description="drift onset partitions: recovery is measured after each"
    )


def _partitions_of(uri: str, lake: DeltaLakeResource) -> set[str]:
    if not table_exists(uri, lake.storage_options):
        return set()
    frame = pl.scan_delta(uri, storage_options=lake.storage_options)
    values = frame.select(pl.col(pc.PARTITION).unique()).collect().get_column(pc.PARTITION)
    return {value for value in values.to_list() if value is not None}


def validated_source(contract: DatasetContract, lake: DeltaLakeResource) -> PreparedSource:
    """The whole validated table as the backtest's source, in stable order.

    Refused partitions (rows in quarantine, none validated) are the history's gaps, as the
    drift report reads them. No files were read here, so the file counts are 0.
    """
    uri = lake.uri(keys.VALIDATED, contract.dataset)
    if not table_exists(uri, lake.storage_options):
        msg = f"no validated {contract.dataset} rows yet ({uri}): ingest and validate first"
        raise dg.Failure(description=msg)
    rows = stable_order(read_partitions(uri, storage_options=lake.storage_options), contract)
    partitions = tuple(sorted(rows.get_column(pc.PARTITION).unique().to_list()))
    quarantined = _partitions_of(lake.uri(keys.VALIDATED, keys.quarantine_table(contract)), lake)
    return PreparedSource(
        rows=rows,
        partitions=partitions,
        files=(),
        rows_read=0,
        rows_rejected=0,
        rows_quarantined=0,
        duplicates=0,
        refused_partitions=tuple(sorted(quarantined - set(partitions))),
    )


class _LoggedProgress:
    """A progress callback that logs each piece of work at every tenth of it, and when done."""

    def __init__(self, log: dg.DagsterLogManager) -> None:
        self._log = log
        self._logged: dict[str, int] = {}

    def __call__(self, what: str, done: int, total: int) -> None:
        tenth = PROGRESS_STEPS * done // total if total > 0 else PROGRESS_STEPS
        if tenth <= self._logged.get(what, -1):
            return
        self._logged[what] = tenth
        self._log.info(f"backtest: {what} {done}/{total}")


def _policies(contract: DatasetContract, config: PolicyBacktestConfig) -> list[RetrainPolicy]:
    """The config's policies, overrides applied; a bad one fails the step before any work."""
    try:
        policies = parse_policies(config.policies, contract.partitioning.grain)
        settings = dict(parse_settings(config.overrides, separator="\0"))
        policies = with_settings(policies, settings)
        for policy in policies:
            policy.contract_for(contract)
    except ValueError as error:
        raise dg.Failure(description=f"policy_backtest config: {error}") from error
    checks = {
        f"metric {config.metric!r} is not one of {METRICS}": config.metric not in METRICS,
        "alpha_max must be > 0": config.alpha_max <= 0,
        "max_rounds must be >= 1": config.max_rounds < 1,
        "workers must be >= 0": config.workers < 0,
    }
    problems = [message for message, failed in checks.items() if failed]
    if problems:
        raise dg.Failure(description=f"policy_backtest config: {'; '.join(problems)}")
    return policies


def _cell(value: object) -> str | int | float | bool | None:
    if isinstance(value, float) and not math.isfinite(value):
        return None  # NaN is not JSON: the UI shows an empty cell
    return value  # type: ignore[return-value]


def _table_value(table: pl.DataFrame) -> dg.MetadataValue:
    schema = dg.TableSchema(
        columns=[dg.TableColumn(name, kind) for name, kind in TABLE_COLUMNS.items()]
    )
    records = [
        dg.TableRecord({name: _cell(row[name]) for name in TABLE_COLUMNS})
        for row in table.iter_rows(named=True)
    ]
    return dg.MetadataValue.table(records, schema=schema)


def _markdown_table(table: pl.DataFrame) -> str:
    def text(value: object) -> str:
        if value is None or (isinstance(value, float) and not math.isfinite(value)):
            return "-"
        return f"{value:.4f}" if isinstance(value, float) else str(value)

    lines = ["| " + " | ".join(TABLE_COLUMNS) + " |", "|" + "---|" * len(TABLE_COLUMNS)]
    for row in table.iter_rows(named=True):
        lines.append("| " + " | ".join(text(row[name]) for name in TABLE_COLUMNS) + " |")
    return "\n".join(lines)


def _embedded(path: Path, alt: str) -> dg.MetadataValue:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return dg.MetadataValue.md(f"![{alt}](data:image/png;base64,{data})\n\n`{path}`")


def _headline(result: BacktestResult, table: pl.DataFrame) -> dict[str, object]:
    """The best deployable policy by C_alpha area, the contract policy's place, the window."""
    metric = f"mean_{result.metric}"
    figures: dict[str, object] = {
        "partitions_evaluated": len(result.partitions),
        "evaluated": f"{result.partitions[0]} .. {result.partitions[-1]}",
        "window": result.window,
        "fitted_models": result.fitted_models,
        "seconds": round(result.seconds, 1),
    }
    deployable = table.filter(~pl.col("policy").str.starts_with(ORACLE))
    ranked = deployable.filter(pl.col("c_alpha_area").is_not_nan()).sort(
        "c_alpha_area", descending=True
    )
    if ranked.height:
        best = ranked.row(0, named=True)
        figures |= {"best_policy": best["policy"], "best_c_alpha_area": best["c_alpha_area"]}
    contract = next((p for p in result.policies if p.policy.kind == CONTRACT), None)
    if contract is not None:
        row = table.filter(pl.col("policy") == contract.name).row(0, named=True)
        figures |= {
            "contract_policy": contract.name,
            "contract_fits": row["fits"],
            f"contract_{metric}": row[metric],
        }
        oracle = result.frontier.get(contract.fits)
        if oracle is not None:
            figures[f"oracle_{metric}_at_contract_fits"] = oracle
    return {name: _cell(value) for name, value in figures.items()}


def _outputs(
    result: BacktestResult, contract: DatasetContract, directory: Path
) -> dict[str, object]:
    """The plots (files, links and embedded), the table and the JSON, as metadata entries."""
    frontier = plot_frontier(result, directory / "frontier.png")
    per_partition = plot_partitions(
        result, directory / "partitions.png", grain=contract.partitioning.grain
    )
    summary = directory / "backtest.json"
    summary.write_text(json.dumps(result.to_json(), indent=2, default=str) + "\n")
    table = result.table()
    return {
        "table": _table_value(table),
        "table_markdown": dg.MetadataValue.md(_markdown_table(table)),
        "frontier_plot": _embedded(frontier, "frontier"),
        "partitions_plot": _embedded(per_partition, "partitions"),
        "frontier_png": dg.MetadataValue.path(frontier),
        "partitions_png": dg.MetadataValue.path(per_partition),
        "json": dg.MetadataValue.path(summary),
        **_headline(result, table),
    }


def backtest_options(config: PolicyBacktestConfig) -> BacktestOptions:
    """The backtest options a run's config describes."""
    return BacktestOptions(
        metric=config.metric,
        alpha_max=config.alpha_max,
        onsets=tuple(config.onsets),
        training=replay_training(config.max_rounds),
        workers=config.workers,
    )


def build_policy_backtest_asset(contract: DatasetContract) -> dg.AssetsDefinition:
    """`monitoring/<dataset>_policy_backtest`: retraining policies replayed on the history."""
    key = policy_backtest_key(contract)

    @dg.asset(
        key=key,
        deps=[keys.validated_key(contract)],
        group_name=GROUP,
        kinds={"lightgbm", "polars"},
        tags={"layer": MONITORING, "dataset": contract.dataset},
        owners=[contract.owner],
        description=(
            f"How often should {contract.dataset} be retrained? The validated history "
            "replayed through the loop (features, label delay, training window, candidate "
            "search, gate and the retrain sensor's triggers) under each configured policy: "
            "never, fixed schedules, the contract's policy (with overrides) and the hindsight "
            "oracle. Records per policy the fits, mean ROC-AUC and accuracy, the share under "
            "the floor, the C_alpha area and the oracle at equal fits, with the frontier and "
            "per-partition plots. Materialized on demand (many fits: lower max_rounds for a "
            "quick look)."
        ),
    )
    def policy_backtest(
        context: dg.AssetExecutionContext, config: PolicyBacktestConfig, lake: DeltaLakeResource
    ) -> dg.MaterializeResult:
        policies = _policies(contract, config)
        prepared = validated_source(contract, lake)
        context.log.info(
            f"backtest of {', '.join(p.name for p in policies)} over {len(prepared.partitions)} "
            f"validated {contract.dataset} partitions ({prepared.rows.height} rows)"
        )
        try:
            result = run_backtest(
                prepared,
                contract,
                policies,
                backtest_options(config),
                steps=_LoggedProgress(context.log),
            )
        except ValueError as error:  # too short a history, an unknown first fit
            raise dg.Failure(description=f"backtest: {error}") from error
        directory = layout().state_root / "backtest" / contract.dataset / context.run.run_id
        metadata = _outputs(result, contract, directory)
        context.log.info(
            f"backtest: {len(result.partitions)} partitions, best by C_alpha area "
            f"{metadata.get('best_policy', '-')}, {result.seconds:.1f} s"
        )
        return recorded(context, key, metadata)

    return policy_backtest
