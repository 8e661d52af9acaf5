"""Health-gated promotion: verify a version before `champion` moves to it, then watch it serve.

`promote_with_health_gate` is the deployment step:
1. verify before promotion (`verification.verify_in_child`, one child process): the version is
   loaded as the service loads it, the golden requests must give the offline scores, and p99
   latency and model size must be within budget. A failure here leaves `champion` where it was
   (the caller records the refused cycle);
2. `champion` moves to the version (`registry.promote`, the replaced champion becomes
   `previous`) and `on_promoted` records the move;
3. when a service URL is given, its `/health` is polled until it reports the new version (its
   reload thread picked the alias up) within `timeout`.
Any failure after the move, and any exception anywhere in the gate, puts `champion` back where
it was whenever it points at the version (also when it was moved there by hand before the gate
ran): `champion` back to `previous` (`registry.rollback`), recorded as a `rollback` row with the
reason. Every row's time is read from `now` (the platform passes its `ClockResource.now`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from retrain_platform.core.bounded import clip_text
from retrain_platform.core.deployment.decisions import ROLLBACK, Decision, append_decision
from retrain_platform.core.deployment.registry import (
    CHAMPION,
    TAG_ROLLED_BACK,
    AliasMove,
    RollbackError,
    alias_version,
    append_version_description,
    promote,
    rollback,
)
from retrain_platform.core.deployment.verification import Budgets, Verification, verify_in_child
from retrain_platform.core.models.mlflow_store import MlflowStore

HEALTH_GATE = "health_gate"
SMOKE, PROMOTE, HEALTH, DONE = "smoke", "promote", "health", "done"


@dataclass(frozen=True)
class GateOutcome:
    """What the health gate found and did.

    `moved`: whether the gate moved `champion` to the version; `rolled_back_to`: the champion
    after a rollback (None when nothing was rolled back, or no version was left to go back to).
    """

    version: int
    passed: bool
    stage: str  # smoke (the child verification) | promote | health | done
    reason: str
    rolled_back_to: int | None = None
    smoke_seconds: float = 0.0
    health_seconds: float = 0.0
    moved: bool = False
    verification: Verification | None = None


def _wall_clock() -> datetime:
    return datetime.now(UTC)


def wait_for_version(
    service_url: str, version: int, *, timeout: float, interval: float = 0.25
) -> tuple[bool, str]:
    """Poll `{service_url}/health` until it reports `model_version == version`."""
    import httpx

    deadline = time.monotonic() + timeout
    last = "no answer"
    with httpx.Client(base_url=service_url, timeout=min(5.0, timeout)) as client:
        while True:
            try:
                health = client.get("/health").json()
                served, status = health.get("model_version"), health.get("status")
                last = f"serving version {served}, status {status}"
                if health.get("model_version") == version and health.get("status") == "ok":
                    return True, f"health: {last}"
            except (httpx.HTTPError, ValueError) as exc:
                last = f"{type(exc).__name__}: {clip_text(exc)}"
            if time.monotonic() >= deadline:
                return False, f"health: version {version} not served within {timeout:.0f}s ({last})"
            time.sleep(interval)


@dataclass(frozen=True)
class _Record:
    """Where and how a rollback row is written."""

    decisions_uri: str
    dataset: str
    trigger: str
    now: Callable[[], datetime]
    storage_options: Mapping[str, str] | None


def _restore(store: MlflowStore, name: str, version: int, reason: str, to: _Record) -> bool:
    """Champion off `version` if it points there, recorded as a rollback; whether it did."""
    client = store.client()
    before = alias_version(client, name, CHAMPION)
    if before != version:
        return False
    try:
        move = rollback(client, name)
        after, previous = move.champion, move.previous
    except RollbackError:  # a first deployment: no champion rather than one that fails
        client.delete_registered_model_alias(name, CHAMPION)
        client.set_model_version_tag(name, str(version), TAG_ROLLED_BACK, "true")
        after, previous = None, None
    append_version_description(
        client, name, version, f"**Rolled back** at {to.now().isoformat()}: {reason}"
    )
    append_decision(
        to.decisions_uri,
        Decision(
            decided_at=to.now(),
            event=ROLLBACK,
            dataset=to.dataset,
            trigger=to.trigger,
            reason=reason,
            promoted=False,
            champion_before=before,
            champion_after=after,
            previous_after=previous,
            model_version=version,
        ),
        to.storage_options,
    )
    return True


def promote_with_health_gate(
    store: MlflowStore,
    name: str,
    version: int,
    sample_rows: Sequence[Sequence[float | None]],
    *,
    decisions_uri: str,
    dataset: str,
    expected_scores: Sequence[float] | None = None,
    budgets: Budgets | None = None,
    now: Callable[[], datetime] | None = None,
    on_promoted: Callable[[AliasMove], object] | None = None,
    service_url: str | None = None,
    timeout: float = 60.0,
    smoke_timeout: float = 120.0,
    storage_options: Mapping[str, str] | None = None,
    trigger: str = HEALTH_GATE,
) -> GateOutcome:
    """Verify `version`, make it champion, and check it serves (see the module doc).

    `sample_rows` are model inputs in the model's feature order (the golden requests) and
    `expected_scores` their offline predictions (not compared when None). `timeout` bounds the
    wait for the service, `smoke_timeout` the child (which imports MLflow: seconds). `now` is
    the clock of the rows written (the wall clock when None).
    """
    record = _Record(decisions_uri, dataset, trigger, now or _wall_clock, storage_options)
    stage, moved, verification = SMOKE, False, None
    smoke_seconds = health_seconds = 0.0
    try:
        started = time.monotonic()
        verification = verify_in_child(
            store,
            name,
            version,
            sample_rows,
            expected_scores=expected_scores,
            budgets=budgets,
            timeout=smoke_timeout,
        )
        smoke_seconds = time.monotonic() - started
        passed, reason = verification.passed, verification.reason
        if passed:
            stage = PROMOTE
            move = promote(store.client(), name, version)
            moved = move.moved
            if moved:
                replaced = f"v{move.replaced}" if move.replaced is not None else "no champion"
                append_version_description(
                    store.client(),
                    name,
                    version,
                    f"**Champion** since {record.now().isoformat()} (replaced {replaced}).",
                )
            if on_promoted is not None:
                on_promoted(move)
        if passed and service_url:
            stage, started = HEALTH, time.monotonic()
            passed, reason = wait_for_version(service_url, version, timeout=timeout)
            health_seconds = time.monotonic() - started
    except Exception as exc:  # noqa: BLE001 - whatever broke, the champion must not stay unchecked
        passed, reason = False, f"health gate error at the {stage} stage: {clip_text(repr(exc))}"
    if passed:
        return GateOutcome(
            version, True, DONE, reason, None, smoke_seconds, health_seconds, moved, verification
        )
    restored = _restore(store, name, version, reason, record)
    champion = alias_version(store.client(), name, CHAMPION) if restored else None
    return GateOutcome(
        version, False, stage, reason, champion, smoke_seconds, health_seconds, moved, verification
    )
