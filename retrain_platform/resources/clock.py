"""The platform clock: the one place "now" is read by assets, checks and sensors."""

from datetime import UTC, datetime

import dagster as dg
from pydantic import Field


class ClockResource(dg.ConfigurableResource):
    """What the platform's time-based decisions (model age, cooldown, labels due) read as "now".

    The wall clock unless `fixed_at` is set: a replay or simulation (the closed-loop demo, a test)
    evaluates the real sensors at the moment it simulates by passing a clock fixed there.
    """

    fixed_at: str | None = Field(None, description="ISO-8601 instant; empty: the wall clock.")

    def now(self) -> datetime:
        if not self.fixed_at:
            return datetime.now(UTC)
        moment = datetime.fromisoformat(self.fixed_at)
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
