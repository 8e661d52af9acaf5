"""Where MLflow keeps runs, models and the registry: one tracking URI and one artifact root.

Embedded default: a sqlite database and a local artifact folder under the platform home.
Production: a tracking server URI (the registry shares it unless told otherwise) and object
storage for artifacts. Each dataset gets its own experiment whose artifacts live under
`<artifact_root>/<dataset>`.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

# Downloading a model or a JSON record draws a progress bar on stderr; in step logs and CLI output
# it is noise (set the variable to true to get it back).
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")

import mlflow  # noqa: E402
from mlflow import MlflowClient  # noqa: E402

SQLITE_PREFIX = "sqlite:///"


def _is_local_path(uri: str) -> bool:
    return "://" not in uri


def _artifact_uri(root: str, name: str) -> str:
    if _is_local_path(root):
        return (Path(root).expanduser().resolve() / name).as_uri()
    return f"{root.rstrip('/')}/{name}"


@dataclass(frozen=True)
class MlflowStore:
    """A tracking URI, a registry URI and the root under which experiments keep artifacts."""

    tracking_uri: str
    artifact_root: str
    registry_uri: str | None = None

    @property
    def registry(self) -> str:
        return self.registry_uri or self.tracking_uri

    def _ensure_local_dirs(self) -> None:
        for uri in (self.tracking_uri, self.registry):
            if uri.startswith(SQLITE_PREFIX):
                Path(uri[len(SQLITE_PREFIX) :]).parent.mkdir(parents=True, exist_ok=True)
        if _is_local_path(self.artifact_root):
            Path(self.artifact_root).mkdir(parents=True, exist_ok=True)

    def client(self) -> MlflowClient:
        """A client bound to this store (no process-wide state)."""
        self._ensure_local_dirs()
        return MlflowClient(tracking_uri=self.tracking_uri, registry_uri=self.registry)

    def activate(self) -> None:
        """Point MLflow's fluent API (used by `log_model`) at this store."""
        self._ensure_local_dirs()
        mlflow.set_tracking_uri(self.tracking_uri)
        mlflow.set_registry_uri(self.registry)

    def experiment_id(self, name: str, tags: Mapping[str, str] | None = None) -> str:
        """The id of experiment `name`, created with its artifacts under the root if new.

        `tags` are set on a new experiment, and on an existing one where they are missing (a
        value set since, by hand or in the UI, is kept).
        """
        client = self.client()
        existing = client.get_experiment_by_name(name)
        if existing is not None:
            for key, value in (tags or {}).items():
                if key not in existing.tags:
                    client.set_experiment_tag(existing.experiment_id, key, value)
            return str(existing.experiment_id)
        return str(
            client.create_experiment(
                name,
                artifact_location=_artifact_uri(self.artifact_root, name),
                tags=dict(tags or {}),
            )
        )


def ui_base_url(configured: str | None, tracking_uri: str) -> str | None:
    """The MLflow UI's address: `configured` when set, else an http(s) tracking URI (a
    tracking server serves its UI), else None (a sqlite or PostgreSQL store has no UI)."""
    if configured:
        return configured.rstrip("/")
    if tracking_uri.startswith(("http://", "https://")):
        return tracking_uri.rstrip("/")
    return None


def run_ui_url(base: str, experiment_id: str, run_id: str) -> str:
    """The MLflow UI page of a run."""
    return f"{base}/#/experiments/{experiment_id}/runs/{run_id}"


def model_version_ui_url(base: str, name: str, version: int | str) -> str:
    """The MLflow UI page of a registered model version."""
    return f"{base}/#/models/{quote(name, safe='')}/versions/{version}"


def code_version(path: Path | None = None) -> str:
    """The git commit of the code (suffixed `-dirty` with local changes), or `unknown`."""
    where = str(path or Path(__file__).resolve().parent)
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=where, capture_output=True, text=True, check=True
        ).stdout.strip()
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=where,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{sha}-dirty" if status else sha
