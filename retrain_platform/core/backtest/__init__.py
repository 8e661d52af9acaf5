"""Backtest of retraining policies: replay a historical source partition by partition.

The question it answers: how much accuracy does a retraining policy buy, for how many fits?
Each policy is replayed over the same history with the same core functions the assets use:
files are read (`landing.read_file`) and typed to the contract (`ingest.conform_file`), rows are
validated (`validate.validate_rows`), models are LightGBM fits with the platform's deterministic
parameters (`training.lightgbm_params`, `training.refit`, `training.predict`), drift is the fast
path of `drift.drift_summary` with the contract's thresholds, and (optionally) every retrained
challenger must pass `gate.evaluate_gate` against the serving model to replace it. No Dagster run
is started per partition: the replay is plain function calls, hence minutes for decades.

Protocol, for partitions p_0 .. p_n in time order and a window of W partitions: the model that
scores partition p_i was fitted on at most the W partitions before p_i (never on p_i itself);
partitions p_W .. p_n are evaluated. Before scoring p_i a policy decides whether to refit:

- `never`: one fit, at the first evaluated partition;
- `every:N`: a fit at the first evaluated partition and every N partitions after it;
- `drift`: a fit at the first evaluated partition, then whenever any feature of the recent
  partitions (the `drift_window` partitions up to and including p_i; its features, not its
  labels, are known when it is scored) drifts from the serving model's training window (PSI
  above `policy.drift_psi_threshold`). A window of recent partitions rather than p_i alone,
  because a single month of a seasonal source always differs from five years of it.

With `gate=True` a refit's challenger is trained on the window minus its newest partition, the
gate's holdout (as the platform never trains on a holdout), and replaces the serving model only
if the gate passes against it; the first model always serves (there is nothing else to serve).

Determinism: a fixed seed, one thread, a stable row order; two runs give the same numbers.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import lightgbm as lgb
import numpy as np
import polars as pl

from retrain_platform.contracts import DatasetContract
from retrain_platform.core import platform_columns as pc
from retrain_platform.core.datasets.training_set import SPLIT, TRAIN
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
from retrain_platform.core.validate.rows import validate_rows

NEVER, EVERY, DRIFT = "never", "every", "drift"
ALL_POLICIES = ("never", "every:1", "every:6", "every:12", "drift")
# Default training window per partition grain: five years of months (the reference protocol),
# about a year of weeks, a quarter of days, a week of hours.
DEFAULT_WINDOWS = {"monthly": 60, "weekly": 52, "daily": 90, "hourly": 168}
DEFAULT_DRIFT_WINDOWS = {"monthly": 12, "weekly": 13, "daily": 7, "hourly": 24}
SMOOTHING = 12  # partitions in the plot's trailing mean


@dataclass(frozen=True)
class RetrainPolicy:
    """When to refit: never, every N partitions, or on drift."""

    kind: str
    every: int = 0

    @property
    def name(self) -> str:
        return f"{EVERY}:{self.every}" if self.kind == EVERY else self.kind


def parse_policy(text: str) -> RetrainPolicy:
    """`never`, `every:N` (N >= 1) or `drift`; anything else is a ValueError naming the forms."""
    value = text.strip().lower()
    if value in (NEVER, DRIFT):
        return RetrainPolicy(value)
    kind, _, count = value.partition(":")
    if kind == EVERY and count.isdigit() and int(count) >= 1:
        return RetrainPolicy(EVERY, int(count))
    msg = f"unknown policy {text!r} (expected never, every:N with N >= 1, drift, or all)"
    raise ValueError(msg)


def parse_policies(texts: Sequence[str]) -> list[RetrainPolicy]:
    """Policies in the order given, `all` expanding to `ALL_POLICIES`, duplicates dropped."""
    expanded: list[str] = []
    for text in texts:
        expanded.extend(ALL_POLICIES if text.strip().lower() == "all" else [text])
    unique = {parse_policy(t).name: parse_policy(t) for t in expanded}
    return list(unique.values())


@dataclass(frozen=True)
class BacktestOptions:
    """Model size, window lengths, seed and threads of a backtest (the reference's by default)."""

    window: int | None = None
    drift_window: int | None = None
    num_trees: int = 200
    num_leaves: int = 15
    learning_rate: float = 0.1
    seed: int = 42
    num_threads: int = 1
    gate: bool = False

    def window_for(self, contract: DatasetContract) -> int:
        return self.window or DEFAULT_WINDOWS.get(contract.partitioning.grain, 60)

    def drift_window_for(self, contract: DatasetContract) -> int:
        return self.drift_window or DEFAULT_DRIFT_WINDOWS.get(contract.partitioning.grain, 12)


@dataclass(frozen=True)
class PreparedSource:
    """A source's validated rows, their partitions in time order, and what was held back."""

    rows: pl.DataFrame
    partitions: tuple[str, ...]
    files: tuple[str, ...]
    rows_read: int
    rows_rejected: int
    rows_quarantined: int
    duplicates: int


@dataclass(frozen=True)
class PartitionScore:
    """One evaluated partition under one policy."""

    partition: str
    rows: int
    accuracy: float
    roc_auc: float
    refit: bool
    promoted: bool
    reason: str


@dataclass
class PolicyResult:
    """A policy's scores per evaluated partition, its fits and how long it took."""

    policy: RetrainPolicy
    scores: list[PartitionScore] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def fits(self) -> int:
        return sum(s.refit for s in self.scores)

    @property
    def promotions(self) -> int:
        return sum(s.promoted for s in self.scores)

    @property
    def mean_accuracy(self) -> float:
        return float(np.mean([s.accuracy for s in self.scores])) if self.scores else math.nan

    @property
    def mean_roc_auc(self) -> float:
        values = [s.roc_auc for s in self.scores if not math.isnan(s.roc_auc)]
        return float(np.mean(values)) if values else math.nan


@dataclass(frozen=True)
class BacktestResult:
    """Every policy's result over the same evaluated partitions."""

    source: PreparedSource
    window: int
    drift_window: int
    policies: list[PolicyResult]

    def table(self) -> pl.DataFrame:
        """One row per policy: fits, promotions, mean accuracy and ROC-AUC, seconds."""
        return pl.DataFrame(
            {
                "policy": [r.policy.name for r in self.policies],
                "fits": [r.fits for r in self.policies],
                "promoted": [r.promotions for r in self.policies],
                "partitions": [len(r.scores) for r in self.policies],
                "mean_accuracy": [r.mean_accuracy for r in self.policies],
                "mean_roc_auc": [r.mean_roc_auc for r in self.policies],
                "seconds": [r.seconds for r in self.policies],
            }
        )

    def per_partition(self) -> pl.DataFrame:
        """Long frame: policy, partition, rows, accuracy, ROC-AUC, refit, promoted, reason."""
        return pl.DataFrame(
            [{"policy": r.policy.name, **asdict(s)} for r in self.policies for s in r.scores]
        )


# --- source -----------------------------------------------------------------------------------


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


def prepare_source(source: Path, contract: DatasetContract) -> PreparedSource:
    """Read, type and validate every row of the source, as the raw and validated layers do.

    Validation runs once over all partitions: its rules are per row and its de-duplication per
    primary key, so the result is the one partition-by-partition validation would give.
    """
    conformed = [conform_file(read_file(f.path), f, contract) for f in source_files(source)]
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


# --- replay -----------------------------------------------------------------------------------


@dataclass
class _Replay:
    """The shared state of one backtest: rows by partition and the fitting machinery."""

    contract: DatasetContract
    source: PreparedSource
    options: BacktestOptions
    features: list[str]
    by_partition: dict[str, pl.DataFrame]
    params: dict[str, object]

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
        )
        if summary.drifted:
            return True, f"drift: {', '.join(summary.drifted_features)}"
    return False, ""


def _replay_policy(policy: RetrainPolicy, replay: _Replay) -> PolicyResult:
    started = time.perf_counter()
    contract, options = replay.contract, replay.options
    partitions = replay.source.partitions
    window, drift_window = options.window_for(contract), options.drift_window_for(contract)
    result = PolicyResult(policy)
    model: lgb.Booster | None = None
    profile: object = None
    for step, index in enumerate(range(window, len(partitions))):
        history = partitions[index - window : index]
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
) -> BacktestResult:
    """Replay every policy over the source; `progress` is called as each policy finishes."""
    options = options or BacktestOptions()
    prepared = source if isinstance(source, PreparedSource) else prepare_source(source, contract)
    window = options.window_for(contract)
    if window < 1 or len(prepared.partitions) <= window:
        msg = (
            f"the source has {len(prepared.partitions)} partition(s): a window of {window} "
            "leaves none to evaluate"
        )
        raise ValueError(msg)
    if options.gate and window < 2:
        msg = "the gate needs a window of at least 2 partitions (one is its holdout)"
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
    )
    results = []
    for policy in policies:
        results.append(_replay_policy(policy, replay))
        if progress is not None:
            progress(results[-1])
    return BacktestResult(prepared, window, options.drift_window_for(contract), results)


# --- output -----------------------------------------------------------------------------------


def format_table(result: BacktestResult) -> str:
    """The comparison table as aligned text, one line per policy."""
    header = f"{'policy':<10} {'fits':>5} {'promoted':>8} {'partitions':>10} "
    header += f"{'accuracy':>9} {'roc_auc':>8} {'seconds':>8}"
    lines = [header]
    for row in result.table().iter_rows(named=True):
        lines.append(
            f"{row['policy']:<10} {row['fits']:>5} {row['promoted']:>8} {row['partitions']:>10} "
            f"{row['mean_accuracy']:>9.2%} {row['mean_roc_auc']:>8.4f} {row['seconds']:>8.1f}"
        )
    return "\n".join(lines)


def plot_backtest(result: BacktestResult, path: Path, *, title: str = "") -> Path:
    """Save accuracy per partition per policy, with a marker where a model was (re)fitted."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (top, bottom) = plt.subplots(
        2, 1, figsize=(14, 7), sharex=True, gridspec_kw={"height_ratios": [3, 1]}
    )
    for policy in result.policies:
        x = np.arange(len(policy.scores))
        accuracy = np.array([s.accuracy for s in policy.scores])
        refits = np.array([s.promoted for s in policy.scores])
        label = f"{policy.policy.name} ({policy.fits} fits, {policy.mean_accuracy:.1%})"
        (line,) = top.plot(x, accuracy, linewidth=0.6, alpha=0.3)
        top.scatter(x[refits], accuracy[refits], s=10, marker="^", color=line.get_color())
        # A trailing mean over a year of monthly partitions makes the policies comparable.
        span = min(SMOOTHING, len(accuracy))
        smooth = np.convolve(accuracy, np.ones(span) / span, mode="valid")
        top.plot(x[span - 1 :], smooth, linewidth=1.8, color=line.get_color(), label=label)
        bottom.step(x, np.cumsum(refits), where="post", color=line.get_color())
    labels = [s.partition for s in result.policies[0].scores] if result.policies else []
    ticks = np.arange(0, len(labels), max(1, len(labels) // 12))
    bottom.set_xticks(ticks, [labels[i] for i in ticks], rotation=45, ha="right")
    top.set_ylabel(f"accuracy per partition, {SMOOTHING}-partition mean (^ = new model)")
    bottom.set_ylabel("models served")
    top.legend(loc="lower left", fontsize=8)
    top.set_title(title or f"backtest, window {result.window} partitions")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
