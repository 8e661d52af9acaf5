"""The Delta lake resource: where every table lives, and the storage options to reach it."""

import os

import dagster as dg
from pydantic import Field

from retrain_platform.core.lake import table_uri
from retrain_platform.home import LAKE_OPTIONS_ENV_VAR, HomeLayout, parse_storage_options


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
