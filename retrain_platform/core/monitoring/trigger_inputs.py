"""What the retraining triggers read and answer: observations, state, policy and the decision."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from retrain_platform.contracts.model import Policy

DRIFT, PERFORMANCE, AGE, NEW_DATA = "drift", "performance", "age", "new_data"
TRIGGERS = (DRIFT, PERFORMANCE, AGE, NEW_DATA)


# Outcome codes (`Decision.code`).
RETRAIN = "retrain"
NO_CHAMPION = "no_champion"
IN_FLIGHT = "in_flight"
COOLDOWN = "cooldown"
DEFERRED = "deferred"  # a drift retrain waits for labelled partitions of the new regime
HANDLED = "handled"
HEALTHY = "healthy"


# The policy's defaults (`retrain_cooldown_hours`, `drift_worsening_factor`).
DEFAULT_COOLDOWN = timedelta(hours=6)
DEFAULT_WORSENING_FACTOR = 1.5


@dataclass(frozen=True)
class DriftObservation:
    """The drift report of one partition against the current champion's reference."""

    partition: str
    max_psi: float
    max_psi_feature: str | None
    prediction_ks: float | None


@dataclass(frozen=True)
class PerformanceObservation:
    """The current champion's ROC-AUC on one partition whose labels are known."""

    partition: str
    roc_auc: float
    rows: int


# Freshness states, as Dagster names them (`dagster.FreshnessState` values).
FRESHNESS_PASS, FRESHNESS_WARN, FRESHNESS_FAIL = "PASS", "WARN", "FAIL"
FRESHNESS_UNKNOWN = "UNKNOWN"  # never deployed, or not evaluated yet


@dataclass(frozen=True)
class FreshnessObservation:
    """The deployed model's freshness state under its `FreshnessPolicy` (fail window = the
    policy's maximum model age).

    `state` is Dagster's freshness state of `deployment/<dataset>_champion` as its freshness daemon
    evaluated it, or the same rule evaluated at a simulated clock (`evaluated_by` says which);
    `last_deployed` is the deployment's latest materialization, `since` when the state began.
    """

    state: str
    last_deployed: datetime | None
    since: datetime | None
    evaluated_by: str


def time_window_state(
    last_update: datetime | None,
    now: datetime,
    fail_window: timedelta,
    warn_window: timedelta | None = None,
) -> str:
    """Dagster's time-window freshness rule (`TimeWindowFreshnessPolicy`): FAIL once the last
    update is `fail_window` old, WARN once it is `warn_window` old, else PASS; UNKNOWN when
    there was no update."""
    if last_update is None:
        return FRESHNESS_UNKNOWN
    age = now - last_update
    if age >= fail_window:
        return FRESHNESS_FAIL
    if warn_window is not None and age >= warn_window:
        return FRESHNESS_WARN
    return FRESHNESS_PASS


@dataclass(frozen=True)
class PastRetrain:
    """A retrain the triggers requested earlier (read back from its run's tags)."""

    trigger: str
    episode: str
    max_psi: float | None
    requested_at: datetime


@dataclass(frozen=True)
class TriggerState:
    """Everything `decide` looks at, gathered by the sensor."""

    champion_version: int | None
    champion_window_end: datetime | None
    drift: tuple[DriftObservation, ...] = ()
    performance: tuple[PerformanceObservation, ...] = ()
    in_flight: tuple[str, ...] = ()
    past: tuple[PastRetrain, ...] = ()
    new_labelled_rows: int = 0
    freshness: FreshnessObservation | None = None


@dataclass(frozen=True)
class TriggerPolicy:
    """Thresholds from the contract's policy, plus the cooldown and the re-trigger factor."""

    psi_threshold: float
    ks_threshold: float
    min_roc_auc: float
    max_model_age: timedelta
    cooldown: timedelta = DEFAULT_COOLDOWN
    worsening_factor: float = DEFAULT_WORSENING_FACTOR
    new_labelled_rows: int | None = None
    persistence: int = 1
    persistence_window: int = 1
    min_post_drift_labelled: int = 0

    @classmethod
    def from_policy(
        cls,
        policy: Policy,
        *,
        cooldown: timedelta | None = None,
        worsening_factor: float | None = None,
    ) -> TriggerPolicy:
        """The contract policy's thresholds; `cooldown` and `worsening_factor` override its
        `retrain_cooldown_hours` and `drift_worsening_factor`."""
        return cls(
            psi_threshold=policy.drift_psi_threshold,
            ks_threshold=policy.drift_ks_threshold,
            min_roc_auc=policy.min_roc_auc,
            max_model_age=timedelta(days=policy.max_model_age_days),
            cooldown=(
                cooldown if cooldown is not None else timedelta(hours=policy.retrain_cooldown_hours)
            ),
            worsening_factor=(
                worsening_factor if worsening_factor is not None else policy.drift_worsening_factor
            ),
            new_labelled_rows=policy.retrain_on_new_labelled_rows,
            persistence=policy.drift_persistence,
            persistence_window=max(policy.drift_persistence_window, policy.drift_persistence),
            min_post_drift_labelled=policy.min_post_drift_labelled_partitions,
        )


@dataclass(frozen=True)
class Decision:
    """Retrain or not, which trigger, the human reason, and the run key that de-duplicates."""

    retrain: bool
    trigger: str | None
    reason: str
    run_key: str | None
    code: str
    state_key: str
    episode: str | None = None
    max_psi: float | None = None
