"""Dagster resources for the systems the data layers touch: the lake and the landing zone."""

import os
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
from pydantic import Field

from retrain_platform.core.lake import table_uri
from retrain_platform.home import LAKE_OPTIONS_ENV_VAR, HomeLayout, parse_storage_options
from retrain_platform.resources.feast import FeastResource
from retrain_platform.resources.notifier import notifier_from_env
from retrain_platform.resources.tracking import default_mlflow_resource


class DeltaLakeResource(dg.ConfigurableResource):
    """Root of the Delta lake (a local path or an object-store URI) and its storage options.

    `storage_options` (what the assets pass to delta-rs) merges `options` (plain, non-secret
    values) with `options_json`, a JSON object that is normally
    `EnvVar("RETRAIN_LAKE_STORAGE_OPTIONS")`, so that credentials are read from the environment
    when a step runs and are never stored in the run config, the instance or the UI.
    """

    root_uri: str
    options: dict[str, str] = Field(
        default={}, description="Non-secret Delta storage options (e.g. AWS_REGION)."
    )
    options_json: str = Field(
        default="",
        description=f"JSON object of storage options, usually EnvVar('{LAKE_OPTIONS_ENV_VAR}').",
    )

    @property
    def storage_options(self) -> dict[str, str]:
        return {**self.options, **parse_storage_options(self.options_json)}

    def uri(self, layer: str, dataset: str) -> str:
        return table_uri(self.root_uri, layer, dataset)


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


class LandingZoneResource(dg.ConfigurableResource):
    """Where files land, where unreadable ones are moved, and where the landing index is kept."""

    landing_root: str
    rejected_root: str
    state_root: str

    def landing_dir(self, dataset: str) -> Path:
        return Path(self.landing_root) / dataset

    def rejected_dir(self, dataset: str) -> Path:
        return Path(self.rejected_root) / dataset

    def index_dir(self, dataset: str) -> Path:
        return Path(self.state_root) / "landing_index" / dataset


def default_resources(home: HomeLayout) -> dict[str, dg.ConfigurableResource]:
    """Resources of the embedded default, all under the platform home."""
    return {
        "lake": lake_resource(home),
        "landing": LandingZoneResource(
            landing_root=str(home.landing_root),
            rejected_root=str(home.rejected_root),
            state_root=str(home.state_root),
        ),
        "feast": FeastResource(home=str(home.home)),
        "mlflow": default_mlflow_resource(home),
        "notifier": notifier_from_env(),
        "clock": ClockResource(),
    }


def lake_resource(home: HomeLayout) -> DeltaLakeResource:
    """The lake at `home.lake_uri`; its options from `$RETRAIN_LAKE_STORAGE_OPTIONS` when set.

    The options stay an `EnvVar` (resolved in the process that runs a step, which must have the
    variable too); without the variable, as in the embedded default, there are none.
    """
    text = os.environ.get(LAKE_OPTIONS_ENV_VAR, "")
    if not text.strip():
        return DeltaLakeResource(root_uri=home.lake_uri)
    parse_storage_options(text)  # malformed JSON fails when the definitions load, not in a step
    return DeltaLakeResource(root_uri=home.lake_uri, options_json=dg.EnvVar(LAKE_OPTIONS_ENV_VAR))
