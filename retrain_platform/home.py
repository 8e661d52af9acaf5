"""Where the embedded default keeps its state: one platform home directory.

Everything the platform writes on one machine (landing zone, Delta lake, Dagster instance, later
MLflow and Feast state) lives under `RETRAIN_HOME`, so deleting that directory resets everything.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

HOME_ENV_VAR = "RETRAIN_HOME"
LAKE_ENV_VAR = "RETRAIN_LAKE_URI"
# JSON object of Delta storage options (object-store keys and credentials), e.g.
# {"AWS_REGION": "eu-west-1", "AWS_ACCESS_KEY_ID": "...", "AWS_SECRET_ACCESS_KEY": "..."}.
# It may hold secrets: it is read only from the environment, never written to config or logs.
LAKE_OPTIONS_ENV_VAR = "RETRAIN_LAKE_STORAGE_OPTIONS"
# Which instance configuration a new Dagster home is seeded with: `default` (sqlite under the
# platform home, `dagster.yaml`) or `production` (PostgreSQL, `deploy/production/dagster.yaml`).
PROFILE_ENV_VAR = "RETRAIN_PROFILE"
DEFAULT_PROFILE = "default"
PRODUCTION_PROFILE = "production"

_CHECKOUT = Path(__file__).resolve().parents[1]
INSTANCE_CONFIGS = {
    DEFAULT_PROFILE: _CHECKOUT / "dagster.yaml",
    PRODUCTION_PROFILE: _CHECKOUT / "deploy" / "production" / "dagster.yaml",
}


def platform_home() -> Path:
    """The platform home: `$RETRAIN_HOME`, else `.retrain_home` in the working directory."""
    value = os.environ.get(HOME_ENV_VAR, "").strip()
    return Path(value).expanduser().resolve() if value else (Path.cwd() / ".retrain_home").resolve()


@dataclass(frozen=True)
class HomeLayout:
    """Paths under one platform home."""

    home: Path

    @property
    def landing_root(self) -> Path:
        return self.home / "landing"

    @property
    def rejected_root(self) -> Path:
        return self.home / "landing_rejected"

    @property
    def state_root(self) -> Path:
        return self.home / "state"

    @property
    def lake_uri(self) -> str:
        """Root URI of the Delta lake: `$RETRAIN_LAKE_URI` when set (object storage), else local."""
        return os.environ.get(LAKE_ENV_VAR, "").strip() or str(self.home / "lake")

    @property
    def lake_storage_options(self) -> dict[str, str]:
        """Storage options of the lake: `$RETRAIN_LAKE_STORAGE_OPTIONS` (JSON), else none."""
        return parse_storage_options(os.environ.get(LAKE_OPTIONS_ENV_VAR, ""))

    @property
    def contracts_root(self) -> Path:
        """Contracts written for this home by `retrain-platform demo` (see `contract_paths`)."""
        return self.home / "contracts"

    def contract_path(self, dataset: str) -> Path:
        """Where the demo writes the contract it runs `dataset` with."""
        return self.contracts_root / f"{dataset}.yaml"

    def contract_paths(self) -> list[Path]:
        """The contracts the demo wrote into this home, sorted; none when it wrote none.

        The code location serves them while `RETRAIN_CONTRACT` is unset, so `make dev` shows the
        assets, partitions and policy the demo ran with (their partitions start on the demo's
        first day of data, not on the shipped contract's start).
        """
        if not self.contracts_root.is_dir():
            return []
        return sorted(self.contracts_root.glob("*.yaml"))

    @property
    def dagster_home(self) -> Path:
        """Default DAGSTER_HOME: `dagster/`, or `dagster-production/` in the production profile.

        Separate directories keep a home seeded with the sqlite configuration from silently
        serving the production profile (and the other way round).
        """
        return self.home / ("dagster" if profile() == DEFAULT_PROFILE else f"dagster-{profile()}")


def layout() -> HomeLayout:
    return HomeLayout(platform_home())


def profile() -> str:
    """The deployment profile named by `$RETRAIN_PROFILE` (default `default`)."""
    name = os.environ.get(PROFILE_ENV_VAR, "").strip().lower() or DEFAULT_PROFILE
    if name not in INSTANCE_CONFIGS:
        choices = ", ".join(INSTANCE_CONFIGS)
        msg = f"{PROFILE_ENV_VAR}={name!r} is not a profile: use one of {choices}"
        raise ValueError(msg)
    return name


def instance_config_template(name: str | None = None) -> Path:
    """The `dagster.yaml` a new Dagster home of profile `name` (default: the active one) gets."""
    return INSTANCE_CONFIGS[name or profile()]


def parse_storage_options(text: str, *, source: str = LAKE_OPTIONS_ENV_VAR) -> dict[str, str]:
    """Delta storage options from a JSON object of scalars (empty text: no options).

    Values are turned into strings (`true`/`false` for booleans), as delta-rs expects. Errors name
    `source` and the offending key but never a value, since values may be credentials.
    """
    if not text.strip():
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        msg = (
            f"{source} is not valid JSON; expected an object such as "
            '{"AWS_REGION": "eu-west-1", "AWS_ALLOW_HTTP": "true"}'
        )
        raise ValueError(msg) from None
    if not isinstance(value, dict):
        kind = type(value).__name__
        msg = f"{source} must be a JSON object of option names to values, not {kind}"
        raise ValueError(msg)
    options: dict[str, str] = {}
    for key, item in value.items():
        if isinstance(item, bool):
            options[key] = "true" if item else "false"
        elif isinstance(item, (str, int, float)):
            options[key] = str(item)
        else:
            msg = f"{source}: option {key!r} must be a string, number or boolean"
            raise ValueError(msg)
    return options
