"""The closed loop of the embedded default: each simulated day lands a file, the platform decides.

After the backfill (`main_job.backfill`: the first days ingested, validated, featurized, frozen
into a training set, a first champion trained, gated and deployed), every following day
(`retrain_platform.demo.day`):

1. the day's file is moved into the landing zone;
2. the landing sensor (its definition from `defs`) ticks with its kept cursor, and its run
   requests are executed in-process on the instance, with their tags and run keys;
3. the automation conditions are evaluated with `dg.evaluate_automation_conditions` (cursor kept,
   evaluation time = the simulated time) and what they request is executed, one run per partition
   for every asset requested in it (as the automation sensor groups them), until nothing more is
   requested: validation, features, online store, drift report, and live performance once labels
   are due;
4. the retrain sensor ticks and its retrain request runs (the retrain job freezes a training set,
   trains, gates and deploys).

No step decides anything itself: which partitions run and when a retrain happens is what the
sensors and conditions request, exactly as the daemon would launch it.

Simulated time: a day's file arrives one hour after the day ends, and that moment is "now" for the
automation evaluation (labels due, new partitions) and for the retrain sensor, whose `clock`
resource is fixed at it (model age, cooldown: each retrain request carries the time it was asked
for). A simulated day lasts seconds of wall time; nothing else about the sensors changes.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from retrain_platform.contracts import ContractError, DatasetContract
from retrain_platform.core.progress import ProgressCallback, report
from retrain_platform.core.synthetic import DriftSpec, Fault, GeneratedFile, write_landing_files
from retrain_platform.definitions import build_definitions
from retrain_platform.demo import timeline as lt
from retrain_platform.demo.backfill import backfill, ensure_instance, retrain_run_config
from retrain_platform.demo.contract import ContractCopyError, write_demo_contract
from retrain_platform.demo.day import land, run_day
from retrain_platform.demo.driver import LoopDriver, arrival
from retrain_platform.demo.results import LoopResult, finish
from retrain_platform.home import HomeLayout

# (kind, day of the daily phase): rows quarantined with a non-blocking null-share failure,
# duplicates removed, and a renamed column whose blocking schema and volume checks stop the
# partition's downstream automation.
DEFAULT_FAULTS = (("nulls", 4), ("duplicates", 8), ("renamed_column", 12))
DAYS = "daily phase: simulated days"
SMALL_CANDIDATE = {"folds": 2, "max_rounds": 150, "early_stopping_rounds": 20, "num_threads": 1}


class LoopSetupError(ValueError):
    """The loop cannot start: bad options, a contract without a model, a used landing zone."""


@dataclass(frozen=True)
class LoopOptions:
    """The simulated history (length, backfill, drift, faults) and the loop's training budget.

    `training_window` is the training-set window (labelled partitions, newest last) written into
    the demo contract's policy (`window_partitions`; None: the contract's own), so the backfill's
    training set and every retrain the sensor requests use it: two weeks let a retrain after drift
    learn the new regime within days of its labels arriving.
    `retrain_every_days` sets the policy's new-labelled-data trigger to that many days of rows
    when the contract sets none, so a challenger the gate rejected under drift is retried once
    more labelled data of the new regime has arrived (None: the contract's policy as it is).
    """

    days: int = 90
    backfill_days: int = 30
    rows_per_day: int = 3_000
    drift_day: int | None = 60
    drift_kind: str = "both"
    drift_strength: float = 1.0
    seed: int = 7
    faults: tuple[Fault, ...] | None = None
    start: date | None = None
    rejection_window: int = 10
    training_window: int | None = 14
    retrain_every_days: int | None = 7
    candidate: Mapping[str, Any] = field(default_factory=lambda: dict(SMALL_CANDIDATE))

    def first_day(self) -> date:
        """Day 0: by default the history ends yesterday, so every day is a past partition."""
        return self.start or datetime.now(UTC).date() - timedelta(days=self.days)

    def drift(self) -> DriftSpec | None:
        if self.drift_day is None:
            return None
        start = self.first_day() + timedelta(days=self.drift_day)
        return DriftSpec(start, self.drift_kind, self.drift_strength)

    def fault_list(self) -> tuple[Fault, ...]:
        """The given faults, else `DEFAULT_FAULTS` on days of the daily phase that exist."""
        if self.faults is not None:
            return self.faults
        first = self.first_day() + timedelta(days=self.backfill_days)
        daily = self.days - self.backfill_days
        return tuple(
            Fault(kind, first + timedelta(days=offset))
            for kind, offset in DEFAULT_FAULTS
            if offset < daily
        )

    def run_config(self, contract: DatasetContract) -> dict[str, Any]:
        """Run config of every retrain run: the small candidate (the training window is the
        demo contract's policy, `training_window` written into it)."""
        return retrain_run_config(contract, self.candidate)


def new_labelled_rows(options: LoopOptions) -> int | None:
    """The new-labelled-data trigger `options` set (rows of `retrain_every_days` days), or None."""
    if options.retrain_every_days is None:
        return None
    return options.retrain_every_days * options.rows_per_day


def _generate(
    contract: DatasetContract, incoming: Path, options: LoopOptions
) -> list[GeneratedFile]:
    """Write every day's file into `incoming` (outside the landing zone), one file per day."""
    if incoming.exists():
        shutil.rmtree(incoming)
    return write_landing_files(
        contract,
        incoming,
        start=options.first_day(),
        days=options.days,
        rows_per_day=options.rows_per_day,
        seed=options.seed,
        drift=options.drift(),
        faults=options.fault_list(),
        late_share=0.0,
    )


def run_closed_loop(
    contract: DatasetContract,
    home: HomeLayout,
    options: LoopOptions,
    *,
    echo: Callable[[str], None] = print,
    progress: ProgressCallback | None = None,
) -> LoopResult:
    """Backfill, then drive the sensors and automation day by day; return the timeline.

    `progress` is called as each backfilled partition is validated (`backfill.VALIDATING`) and
    as each simulated day ends (`DAYS`).

    The loop runs on `demo.contract.demo_contract(contract, ...)`, written to the home's contracts
    (`demo.contract`) and read back; its definitions under `home` are those the code location
    of `make dev` serves from that file: the same assets, partitions, checks, sensors and jobs.
    """
    started = time.perf_counter()
    if not contract.feature_views:
        msg = f"{contract.dataset}: the closed loop needs a feature view (a model to monitor)"
        raise LoopSetupError(msg)
    if not 0 < options.backfill_days < options.days:
        msg = f"backfill_days must be in 1..{options.days - 1}, got {options.backfill_days}"
        raise LoopSetupError(msg)
    landing = home.landing_root / contract.dataset
    if landing.exists() and any(landing.iterdir()):
        msg = (
            f"{landing} already holds files: the closed loop replays a history into an empty "
            "landing zone; run `make clean` or point RETRAIN_HOME at a new directory"
        )
        raise LoopSetupError(msg)
    files = _generate(contract, home.state_root / "closed_loop" / contract.dataset, options)
    try:
        contract = write_demo_contract(
            contract,
            home,
            files[0].day,
            new_labelled_rows=new_labelled_rows(options),
            window_partitions=options.training_window,
        )
    except (ContractCopyError, ContractError) as error:
        raise LoopSetupError(str(error)) from None
    echo(
        f"contract: {contract.source_path} (partitions from {contract.partitioning.start}, the "
        "data's first day); `make dev` on this home serves it while RETRAIN_CONTRACT is unset"
    )
    defs = build_definitions([contract], home)
    echo(
        f"generated {len(files)} daily files of {options.rows_per_day:,} rows "
        f"({files[0].day}..{files[-1].day}); drift: {options.drift() or 'none'}; faults: "
        + (", ".join(f"{f.kind}@{f.day}" for f in options.fault_list()) or "none")
    )
    policy = contract.policy
    echo(
        f"policy: drift PSI > {policy.drift_psi_threshold:g}, live ROC-AUC < "
        f"{policy.min_roc_auc:g}, age > {policy.max_model_age_days} days, "
        + (
            f"{policy.retrain_on_new_labelled_rows:,} new labelled rows"
            if policy.retrain_on_new_labelled_rows
            else "no new-data trigger"
        )
        + f"; retrains train on a {policy.training_window} window of {policy.window_partitions} "
        f"labelled days ({policy.validation_partitions} validation, "
        f"{policy.holdout_partitions} holdout)"
    )
    instance = ensure_instance(home)
    driver = LoopDriver(defs, contract, instance)
    first = files[: options.backfill_days]
    driver.clock.set(arrival(contract, first[-1].day.isoformat()))
    land(first, landing)
    requests = driver.landing_requests()
    ingest = driver.run_landing_range(requests)
    echo(
        f"backfill: landing sensor requested {len(requests)} partitions, served by one raw run "
        f"({ingest.run_id[:8]}, {'ok' if ingest.success else 'FAILED'})"
    )
    partitions = sorted(r.partition_key for r in requests if r.partition_key)
    backfill(
        defs,
        contract,
        instance,
        partitions,
        run_config=options.run_config(contract),
        echo=echo,
        clock_at=driver.clock.now,
        progress=progress,
    )
    driver.evaluate_automation()
    driver.persist()
    echo(f"backfill done in {time.perf_counter() - started:.0f} s; daily phase:")
    daily = files[options.backfill_days :]
    days, scores = _daily_phase(driver, daily, landing, options, echo, progress)
    drift = options.drift()
    onset = drift.start.isoformat() if drift is not None else None
    return finish(home, contract, options.rejection_window, days, scores, echo, started, onset)


def _daily_phase(
    driver: LoopDriver,
    files: Sequence[GeneratedFile],
    landing: Path,
    options: LoopOptions,
    echo: Callable[[str], None],
    progress: ProgressCallback | None,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    days: list[dict[str, Any]] = []
    scores: list[dict[str, Any]] = []
    for done, file in enumerate(files, 1):
        facts, new_scores = run_day(driver, file, landing, options.run_config(driver.contract))
        scores += new_scores
        days.append(facts)
        driver.persist()  # the daemon of `make dev` on this home starts from the last day
        echo(lt.progress_line(facts, new_scores[-1] if new_scores else None))
        report(progress, DAYS, done, len(files))
    return days, scores
