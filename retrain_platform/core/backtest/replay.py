"""The replay: a historical source validated once, then each policy partition by partition."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import lightgbm as lgb
import numpy as np
import polars as pl

from retrain_platform.contracts import DatasetContract
from retrain_platform.core import platform_columns as pc
from retrain_platform.core.backtest.policies import DRIFT, EVERY, BacktestOptions, RetrainPolicy
from retrain_platform.core.backtest.results import (
    BacktestResult,
    PartitionScore,
    PolicyResult,
    PreparedSource,
)
from retrain_platform.core.datasets.training_set import SPLIT, TRAIN
from retrain_platform.core.datasets.window import WindowSpec, labelled_partitions, select_window
from retrain_platform.core.ingest.landing import LandingFile, list_landing_files, read_file
from retrain_platform.core.ingest.rows import conform_file
from retrain_platform.core.models import training
from retrain_platform.core.models.gate import evaluate_gate
from retrain_platform.core.models.inputs import label_vector, stable_order
from retrain_platform.core.models.metrics import roc_auc
from retrain_platform.core.monitoring.drift import (
    build_reference_profile,
    drift_features,
    drift_summary,
)
from retrain_platform.core.partitions import partition_start
from retrain_platform.core.progress import ProgressCallback, report
from retrain_platform.core.validate.rows import validate_rows


def source_files(source: Path) -> list[LandingFile]:
    """The file itself, or the landing-safe files of a directory in name order."""
    if source.is_dir():
        files, _refused = list_landing_files(source)
        if not files:
            msg = f"{source}: no readable landing file (.parquet, .csv, .jsonl, .ndjson)"
            raise FileNotFoundError(msg)
        return files
    stat = source.stat()
    return [LandingFile(source.name, source, stat.st_size, stat.st_mtime_ns)]


READING = "read source files"


def prepare_source(
    source: Path, contract: DatasetContract, *, progress: ProgressCallback | None = None
) -> PreparedSource:
    """Read, type and validate every row of the source, as the raw and validated layers do.

    Validation runs once over all partitions: its rules are per row and its de-duplication per
    primary key, so the result is the one partition-by-partition validation would give.
    `progress` is called (`READING`) as each file is read.
    """
    files = source_files(source)
    conformed = []
    for done, file in enumerate(files, 1):
        conformed.append(conform_file(read_file(file.path), file, contract))
        report(progress, READING, done, len(files))
    raw = pl.concat([c.rows for c in conformed])
    validated = validate_rows(raw, contract)
    if validated.schema_failures:
        msg = f"{source}: rows do not match the contract: {'; '.join(validated.schema_failures)}"
        raise ValueError(msg)
    rows = stable_order(validated.valid, contract)
    partitions = tuple(sorted(rows.get_column(pc.PARTITION).unique().to_list()))
    return PreparedSource(
        rows=rows,
        partitions=partitions,
        files=tuple(c.file.name for c in conformed),
        rows_read=sum(c.rows.height + c.rejected.height for c in conformed),
        rows_rejected=sum(c.rejected.height for c in conformed),
        rows_quarantined=validated.quarantine.height,
        duplicates=validated.duplicates.height,
    )


def model_features(contract: DatasetContract) -> list[str]:
    """The model's inputs: the contract's numeric and boolean features, in contract order."""
    return [c.name for c in contract.features if c.is_numeric or c.dtype == "bool"]


def refit_windows(
    contract: DatasetContract, partitions: Sequence[str], spec: WindowSpec
) -> list[tuple[int, tuple[str, ...]]]:
    """Each evaluated partition (its index) with the window a refit before scoring it trains on.

    The window is `select_window`'s at the partition's start over the partitions before it, as
    the platform's training set would be then (labels due per the contract's delay). Evaluation
    starts at the first partition with `spec.partitions` labelled partitions before it.
    """
    grain = contract.partitioning.grain
    windows: list[tuple[int, tuple[str, ...]]] = []
    for index in range(1, len(partitions)):
        now, before = partition_start(partitions[index], grain), partitions[:index]
        if not windows and len(labelled_partitions(contract, before, now)) < spec.partitions:
            continue
        windows.append((index, select_window(contract, before, now, spec=spec).partitions))
    return windows


@dataclass
class _Replay:
    """The shared state of one backtest: rows by partition and the fitting machinery."""

    contract: DatasetContract
    source: PreparedSource
    options: BacktestOptions
    features: list[str]
    by_partition: dict[str, pl.DataFrame]
    params: dict[str, object]
    windows: list[tuple[int, tuple[str, ...]]]

    def rows(self, partitions: Sequence[str]) -> pl.DataFrame:
        return pl.concat([self.by_partition[p] for p in partitions])

    def fit(self, partitions: Sequence[str]) -> lgb.Booster:
        frame = self.rows(partitions).with_columns(pl.lit(TRAIN).alias(SPLIT))
        return training.refit(
            frame, self.contract, self.features, self.params, self.options.num_trees
        )

    def profile(self, partitions: Sequence[str]):  # noqa: ANN201 - drift.ReferenceProfile
        numeric, categorical = drift_features(self.contract)
        policy = self.contract.policy
        return build_reference_profile(
            self.rows(partitions),
            numeric,
            categorical,
            row_cap=policy.drift_row_cap,
            seed=self.options.seed,
        )


def _decide(
    policy: RetrainPolicy, step: int, replay: _Replay, recent: Sequence[str], profile: object
) -> tuple[bool, str]:
    """Whether to refit before scoring evaluated partition number `step`, and why."""
    if step == 0:
        return True, "first fit"
    if policy.kind == EVERY:
        return step % policy.every == 0, f"every {policy.every}"
    if policy.kind == DRIFT:
        contract_policy = replay.contract.policy
        summary = drift_summary(
            replay.rows(recent),
            profile,  # type: ignore[arg-type]
            row_cap=contract_policy.drift_row_cap,
            seed=replay.options.seed,
            psi_threshold=contract_policy.drift_psi_threshold,
            ks_threshold=contract_policy.drift_ks_threshold,
            min_values=contract_policy.drift_min_values,
        )
        if summary.drifted:
            return True, f"drift: {', '.join(summary.drifted_features)}"
    return False, ""


def _replay_policy(
    policy: RetrainPolicy, replay: _Replay, progress: ProgressCallback | None
) -> PolicyResult:
    started = time.perf_counter()
    contract, options = replay.contract, replay.options
    partitions = replay.source.partitions
    drift_window = options.drift_window_for(contract)
    result = PolicyResult(policy)
    model: lgb.Booster | None = None
    profile: object = None
    evaluated = len(replay.windows)
    for step, (index, history) in enumerate(replay.windows):
        recent = partitions[max(0, index - drift_window + 1) : index + 1]
        refit, reason = _decide(policy, step, replay, recent, profile)
        promoted = False
        if refit:
            model, promoted, profile = _refit(replay, history, model, profile)
        current = replay.by_partition[partitions[index]]
        scores = training.predict(model, current, replay.features)  # type: ignore[arg-type]
        labels = label_vector(current, contract)
        predicted = scores >= contract.policy.decision_threshold
        result.scores.append(
            PartitionScore(
                partition=partitions[index],
                rows=current.height,
                accuracy=float(np.mean(predicted == labels.astype(bool))),
                roc_auc=roc_auc(labels, scores),
                refit=refit,
                promoted=promoted,
                reason=reason,
            )
        )
        report(progress, policy.name, step + 1, evaluated)
    result.seconds = time.perf_counter() - started
    return result


def _refit(
    replay: _Replay, history: Sequence[str], model: lgb.Booster | None, profile: object
) -> tuple[lgb.Booster, bool, object]:
    """Fit a challenger on `history`; with the gate, it must beat the serving model to serve."""
    if not replay.options.gate:
        return replay.fit(history), True, replay.profile(history)
    train, holdout_partition = history[:-1], history[-1]
    challenger = replay.fit(train)
    if model is None:
        return challenger, True, replay.profile(train)
    holdout = replay.by_partition[holdout_partition]
    verdict = evaluate_gate(
        holdout,
        training.predict(challenger, holdout, replay.features),
        training.predict(model, holdout, replay.features),
        replay.contract,
    )
    if verdict.passed:
        return challenger, True, replay.profile(train)
    return model, False, profile


def run_backtest(
    source: Path | PreparedSource,
    contract: DatasetContract,
    policies: Sequence[RetrainPolicy],
    options: BacktestOptions | None = None,
    *,
    progress: Callable[[PolicyResult], None] | None = None,
    steps: ProgressCallback | None = None,
) -> BacktestResult:
    """Replay every policy over the source; `progress` is called as each policy finishes.

    `steps` is called as each source file is read (`READING`) and, per policy (its name), as
    each evaluated partition is scored.
    """
    options = options or BacktestOptions()
    prepared = (
        source
        if isinstance(source, PreparedSource)
        else prepare_source(source, contract, progress=steps)
    )
    spec = options.window_spec(contract)
    if options.gate and spec.partitions < 2:
        msg = "the gate needs a window of at least 2 partitions (one is its holdout)"
        raise ValueError(msg)
    windows = refit_windows(contract, prepared.partitions, spec)
    if not windows:
        msg = (
            f"the source has {len(prepared.partitions)} partition(s): a window of "
            f"{spec.partitions} labelled partitions leaves none to evaluate"
        )
        raise ValueError(msg)
    config = training.CandidateConfig(
        "backtest", {"num_leaves": options.num_leaves, "learning_rate": options.learning_rate}
    )
    train_options = training.TrainingOptions(seed=options.seed, num_threads=options.num_threads)
    by_partition = {
        key: frame
        for (key,), frame in prepared.rows.partition_by(pc.PARTITION, as_dict=True).items()
    }
    replay = _Replay(
        contract=contract,
        source=prepared,
        options=options,
        features=model_features(contract),
        by_partition=by_partition,
        params=training.lightgbm_params(config, train_options),
        windows=windows,
    )
    results = []
    for policy in policies:
        results.append(_replay_policy(policy, replay, steps))
        if progress is not None:
            progress(results[-1])
    return BacktestResult(prepared, spec.partitions, options.drift_window_for(contract), results)
