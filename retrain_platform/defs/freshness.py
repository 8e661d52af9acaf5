"""The freshness policies Dagster evaluates: the deployed model's age and the data's staleness.

Dagster's freshness daemon (part of `dagster-daemon run`, so of `make dev`; `freshness: enabled`
in dagster.yaml) evaluates every asset's `FreshnessPolicy` on wall time, every 30 s, and records
each change of state (PASS, WARN, FAIL) as a `FreshnessStateChange` event; the UI shows it on the
asset. The platform acts on those states:

- `deployment/<dataset>_champion`: fail window = the policy's `max_model_age_days`. A FAIL is
  what the retrain sensor's age trigger reads (`defs.monitoring.model_freshness`).
- `validated/<dataset>_validated` and every `features/<dataset>_<view>` table: fail window = the
  contract's `expectations.max_staleness` (no policy when it is unset). A FAIL sends the
  data-staleness alert (`defs.alerting.build_data_freshness_alert_sensor`).

Both warn at `WARN_SHARE` of the fail window.
"""

from __future__ import annotations

from datetime import timedelta

import dagster as dg

from retrain_platform.contracts import DatasetContract
from retrain_platform.defs import keys
from retrain_platform.defs import model_keys as mk

WARN_SHARE = 0.8  # the WARN state starts at this share of the fail window
MINIMUM_WINDOW = timedelta(minutes=1)  # Dagster refuses a shorter window


def _time_window(fail_window: timedelta) -> dg.FreshnessPolicy:
    warn = fail_window * WARN_SHARE
    return dg.FreshnessPolicy.time_window(
        fail_window=fail_window,
        warn_window=warn if warn >= MINIMUM_WINDOW else None,
    )


def model_fail_window(contract: DatasetContract) -> timedelta:
    """The deployed model's maximum age: the policy's `max_model_age_days`."""
    return timedelta(days=contract.policy.max_model_age_days)


def model_freshness_policy(contract: DatasetContract) -> dg.FreshnessPolicy:
    """`deployment/<dataset>_champion`'s policy: FAIL when the champion was deployed longer ago than
    `max_model_age_days`."""
    return _time_window(model_fail_window(contract))


def data_freshness_policy(contract: DatasetContract) -> dg.FreshnessPolicy | None:
    """The validated and features tables' policy: FAIL when not updated for the contract's
    `max_staleness`; None when the contract sets no staleness limit."""
    limit = contract.expectations.max_staleness
    return _time_window(limit) if limit is not None else None


def data_freshness_keys(contract: DatasetContract) -> list[dg.AssetKey]:
    """The assets carrying `data_freshness_policy` (none without `max_staleness`)."""
    if contract.expectations.max_staleness is None:
        return []
    return [
        keys.validated_key(contract),
        *(keys.features_key(contract, view) for view in contract.feature_views),
    ]


def model_freshness_key(contract: DatasetContract) -> dg.AssetKey:
    """The asset whose freshness is the model's age."""
    return mk.deployment_key(contract)
