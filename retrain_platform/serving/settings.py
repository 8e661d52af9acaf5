"""What one prediction service serves and how: contract, view, model, store, stale rule, canary,
and its limits (request body size, online-store wait, the child check of a new model version).

The limits default from the environment (`RETRAIN_SERVING_MAX_BODY_BYTES`,
`RETRAIN_SERVING_STORE_TIMEOUT_SECONDS`, `RETRAIN_SERVING_VERIFY_TIMEOUT_SECONDS`), so
`retrain-platform serve` takes them without an option of its own; a bad value is an error naming
the variable.
"""

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from retrain_platform.contracts import DatasetContract
from retrain_platform.contracts.model import FeatureView
from retrain_platform.core.models.mlflow_store import MlflowStore
from retrain_platform.serving.features import (
    DIRECT,
)
from retrain_platform.serving.schemas import MAX_BATCH

REJECT, FLAG = "reject", "flag"
ONLINE, REQUEST = "online", "request"
MAX_BODY_ENV_VAR = "RETRAIN_SERVING_MAX_BODY_BYTES"
STORE_TIMEOUT_ENV_VAR = "RETRAIN_SERVING_STORE_TIMEOUT_SECONDS"
VERIFY_TIMEOUT_ENV_VAR = "RETRAIN_SERVING_VERIFY_TIMEOUT_SECONDS"
DEFAULT_MAX_BODY_BYTES = 1 << 20  # 1 MiB
DEFAULT_STORE_TIMEOUT = 1.0
DEFAULT_VERIFY_TIMEOUT = 120.0  # the child imports MLflow and LightGBM: seconds on a busy host


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


def _positive(name: str, default: float, kind: type[float] | type[int] = float) -> float:
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = kind(text)
    except ValueError:
        value = 0
    if value <= 0:
        msg = f"{name}={text[:40]!r} is not a positive {kind.__name__}"
        raise ValueError(msg)
    return value


def max_body_from_env() -> int:
    """The request body limit in bytes (`$RETRAIN_SERVING_MAX_BODY_BYTES`, default 1 MiB)."""
    return int(_positive(MAX_BODY_ENV_VAR, DEFAULT_MAX_BODY_BYTES, int))


def store_timeout_from_env() -> float:
    """Seconds a request waits for the online store (`$RETRAIN_SERVING_STORE_TIMEOUT_SECONDS`)."""
    return _positive(STORE_TIMEOUT_ENV_VAR, DEFAULT_STORE_TIMEOUT)


def verify_timeout_from_env() -> float:
    """Seconds the child check of a new version may take
    (`$RETRAIN_SERVING_VERIFY_TIMEOUT_SECONDS`, default 120)."""
    return _positive(VERIFY_TIMEOUT_ENV_VAR, DEFAULT_VERIFY_TIMEOUT)


@dataclass(frozen=True)
class ServingSettings:
    """What one service instance serves and how."""

    contract: DatasetContract
    store: MlflowStore
    feast: Any  # FeastResource (its online table or feature store)
    lake_uri: str
    model_name: str
    view_name: str | None = None  # default: the contract's first feature view
    storage_options: dict[str, str] = field(default_factory=dict)
    poll_seconds: float = 5.0
    canary_share: float = 0.0
    shadow: bool = True
    stale: str = REJECT  # reject: 409; flag: answer with `stale: true`
    max_feature_age: timedelta | None = None  # default: policy.max_feature_age, else view ttl
    lookup: str = DIRECT
    log_max_rows: int = 1000
    log_max_seconds: float = 2.0
    max_batch: int = MAX_BATCH
    freeze_heap: bool = False  # gc.freeze() once started: for a process that only serves
    max_body_bytes: int = field(default_factory=max_body_from_env)  # larger: 413
    store_timeout: float = field(default_factory=store_timeout_from_env)  # then 503
    verify_reloads: bool = True  # check a new version in a child process before the swap
    verify_timeout: float = field(default_factory=verify_timeout_from_env)
    reject_retry_seconds: float = 300.0  # a rejected version is checked again after this
    now: Callable[[], datetime] = _utc_now

    @property
    def view(self) -> FeatureView:
        return self.contract.view(self.view_name)
