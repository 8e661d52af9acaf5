"""What one prediction service serves and how: contract, view, model, store, stale rule, canary."""

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


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


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
    now: Callable[[], datetime] = _utc_now

    @property
    def view(self) -> FeatureView:
        return self.contract.view(self.view_name)
