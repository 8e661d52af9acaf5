"""A fresh platform home for a test: the environment variables that point the platform at it."""

from pathlib import Path

import pytest

from retrain_platform.home import HomeLayout

# Variables a developer's shell may set that would send a test's state elsewhere.
OVERRIDES = (
    "RETRAIN_LAKE_URI",
    "RETRAIN_LAKE_STORAGE_OPTIONS",
    "MLFLOW_TRACKING_URI",
    "RETRAIN_MLFLOW_ARTIFACTS",
    "RETRAIN_MLFLOW_UI_URL",
)


def isolate_home(env: pytest.MonkeyPatch, root: Path) -> HomeLayout:
    """Point the platform and Dagster at a new home under `root`, with no overrides left."""
    (root / "dagster").mkdir(parents=True, exist_ok=True)
    env.setenv("RETRAIN_HOME", str(root))
    env.setenv("DAGSTER_HOME", str(root / "dagster"))
    # Tests write a landing file and tick at once; the grace period has tests of its own.
    env.setenv("RETRAIN_LANDING_GRACE_SECONDS", "0")
    for name in OVERRIDES:
        env.delenv(name, raising=False)
    return HomeLayout(root)
