"""The MLflow resource: tracking server, artifact store and model registry of the platform.

A typed `ConfigurableResource` over MLflow's own client rather than dagster-mlflow: that package
is a legacy `@resource` (untyped `context.resources.mlflow`), emits beta and deprecation warnings
with Dagster 1.13, keeps a process-wide active run that needs a hook to end, and does nothing for
the registry. Runs here are opened and closed inside one step, and every other call goes through
an `MlflowClient` bound to explicit URIs.
"""

import os

import dagster as dg
from mlflow import MlflowClient
from pydantic import Field

from retrain_platform.contracts import DatasetContract
from retrain_platform.core.mlflow_store import MlflowStore
from retrain_platform.home import HomeLayout

TRACKING_URI_ENV_VAR = "MLFLOW_TRACKING_URI"
ARTIFACT_ROOT_ENV_VAR = "RETRAIN_MLFLOW_ARTIFACTS"


class MlflowResource(dg.ConfigurableResource):
    """MLflow tracking and registry: one experiment and one registered model per dataset."""

    tracking_uri: str = Field(description="sqlite:///... (embedded) or http(s)://server")
    artifact_root: str = Field(description="Folder or object-store URI for new experiments.")
    registry_uri: str | None = Field(None, description="Default: the tracking URI.")
    model_name_prefix: str = Field("", description="Prefix of registered model names.")

    def store(self) -> MlflowStore:
        return MlflowStore(self.tracking_uri, self.artifact_root, self.registry_uri)

    def client(self) -> MlflowClient:
        return self.store().client()

    def experiment_name(self, contract: DatasetContract) -> str:
        return contract.dataset

    def registry_model_name(self, contract: DatasetContract) -> str:
        return registered_model_name(contract, self.model_name_prefix)


def registered_model_name(contract: DatasetContract, prefix: str = "") -> str:
    """The registered model of a dataset: its name, optionally prefixed."""
    return f"{prefix}{contract.dataset}"


def embedded_store(home: HomeLayout) -> MlflowStore:
    """The embedded default: `$RETRAIN_HOME/mlflow/mlflow.db` and `$RETRAIN_HOME/mlflow/artifacts`,
    unless `MLFLOW_TRACKING_URI` / `RETRAIN_MLFLOW_ARTIFACTS` point elsewhere."""
    root = home.home / "mlflow"
    return MlflowStore(
        tracking_uri=os.environ.get(TRACKING_URI_ENV_VAR) or f"sqlite:///{root / 'mlflow.db'}",
        artifact_root=os.environ.get(ARTIFACT_ROOT_ENV_VAR) or str(root / "artifacts"),
    )


def default_mlflow_resource(home: HomeLayout) -> MlflowResource:
    """The resource of the embedded default; a tracking server when `MLFLOW_TRACKING_URI` is set
    (read at run time through `dg.EnvVar`, so the URI never lands in the run config)."""
    store = embedded_store(home)
    if os.environ.get(TRACKING_URI_ENV_VAR):
        return MlflowResource(
            tracking_uri=dg.EnvVar(TRACKING_URI_ENV_VAR), artifact_root=store.artifact_root
        )
    return MlflowResource(tracking_uri=store.tracking_uri, artifact_root=store.artifact_root)
