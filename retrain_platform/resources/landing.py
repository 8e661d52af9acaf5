"""The landing zone resource: where files land, are moved aside, indexed, and how long to wait.

`grace_seconds` is how long a file must go unmodified before it is read (a file still being
written in place is left alone); `temp_grace_minutes` is when a dot-prefixed temp file is flagged
as stale; `future_horizon_hours` is how far past the last open partition a row may be dated and
still wait for its partition (later rows are quarantined as outside the partitions). The
embedded default reads the grace from `$RETRAIN_LANDING_GRACE_SECONDS` (default 10).
"""

import os
from datetime import timedelta
from pathlib import Path

import dagster as dg
from pydantic import Field

from retrain_platform.core.ingest.landing_tick import LandingSettings

GRACE_ENV_VAR = "RETRAIN_LANDING_GRACE_SECONDS"
DEFAULT_GRACE_SECONDS = 10.0


class LandingZoneResource(dg.ConfigurableResource):
    """Where files land, where unreadable ones are moved, and where the landing index is kept."""

    landing_root: str
    rejected_root: str
    state_root: str
    grace_seconds: float = Field(
        DEFAULT_GRACE_SECONDS, description="Seconds a file must be unmodified before it is read."
    )
    temp_grace_minutes: float = Field(
        60.0, description="Minutes after which an unchanged dot-prefixed temp file is flagged."
    )
    future_horizon_hours: float = Field(
        24.0, description="How far past the last open partition a row may wait for it."
    )

    def landing_dir(self, dataset: str) -> Path:
        return Path(self.landing_root) / dataset

    def rejected_dir(self, dataset: str) -> Path:
        return Path(self.rejected_root) / dataset

    def index_dir(self, dataset: str) -> Path:
        return Path(self.state_root) / "landing_index" / dataset

    def settings(self) -> LandingSettings:
        return LandingSettings(
            grace_seconds=self.grace_seconds,
            temp_grace=timedelta(minutes=self.temp_grace_minutes),
            future_horizon=timedelta(hours=self.future_horizon_hours),
        )


def grace_from_env() -> float:
    """The grace period of the embedded default (`$RETRAIN_LANDING_GRACE_SECONDS`)."""
    text = os.environ.get(GRACE_ENV_VAR, "").strip()
    return float(text) if text else DEFAULT_GRACE_SECONDS
