"""Load a registered LightGBM model safely: its text model file only, checked against its digest.

MLflow's LightGBM flavor builds whatever class the artifact's `MLmodel` names, and for a
scikit-learn class that means unpickling a file of the artifact: an `MLmodel` edited to
`model_class: lightgbm.sklearn.LGBMClassifier`, `serialization_format: cloudpickle` makes
`mlflow.lightgbm.load_model` run code from the artifact. The platform never loads through it: it
downloads the one file LightGBM wrote (`model.lgb`, plain text), never reads `MLmodel`, and parses
the text with `lightgbm.Booster(model_str=...)`, which builds trees and runs nothing.

The file's sha256 is recorded on the registered version when it is registered
(`TAG_MODEL_SHA256`) and checked before the text reaches LightGBM, so a file changed after
registration (swapped, edited, truncated) is refused naming the model, the version and both
digests. The text must also be a complete LightGBM model file: LightGBM aborts or segfaults on
some truncated files, which would kill the caller (promotion also parses each candidate in a child
process first, see `core.deployment.verification`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import lightgbm as lgb
import mlflow
from mlflow.exceptions import MlflowException

from retrain_platform.core.bounded import clip_text
from retrain_platform.core.models.mlflow_store import MlflowStore

log = logging.getLogger(__name__)

MODEL_FILE = "model.lgb"
TAG_MODEL_SHA256 = "model.sha256"
TAG_MODEL_BYTES = "model.bytes"
_CATEGORICAL = "pandas_categorical:"
_VERSION_URI = re.compile(r"^models:/(?P<name>[^/@]+)/(?P<version>\d+)$")


class ModelIntegrityError(RuntimeError):
    """A registered model file that is not the one registered, or not a LightGBM model."""


@dataclass(frozen=True)
class LoadedArtifact:
    """A registered version's booster, and the digest and size of the file it was parsed from."""

    name: str
    version: int
    booster: lgb.Booster
    sha256: str
    size_bytes: int

    @property
    def size_mb(self) -> float:
        """Size of `model.lgb` in MB (10^6 bytes)."""
        return self.size_bytes / 1e6


def digest(data: bytes) -> str:
    """The sha256 of `data`, hex."""
    return hashlib.sha256(data).hexdigest()


def _download(artifact_uri: str, what: str) -> bytes:
    with tempfile.TemporaryDirectory(prefix="retrain-model-") as into:
        try:
            path = mlflow.artifacts.download_artifacts(artifact_uri=artifact_uri, dst_path=into)
            return Path(path).read_bytes()
        except (MlflowException, OSError) as exc:
            msg = f"{what}: no readable {MODEL_FILE} in the artifact ({clip_text(exc)})"
            raise ModelIntegrityError(msg) from exc


def logged_model_digest(store: MlflowStore, model_id: str) -> tuple[str, int]:
    """(sha256, bytes) of `model.lgb` of a logged model, as stored: what registration records."""
    store.activate()
    location = store.client().get_logged_model(model_id).artifact_location
    data = _download(f"{location.rstrip('/')}/{MODEL_FILE}", f"logged model {model_id}")
    return digest(data), len(data)


def check_model_text(text: str, what: str) -> None:
    """Refuse text that is not a whole LightGBM model file (the shape `Booster.save_model` writes).

    LightGBM's parser aborts or segfaults on some truncated files instead of raising, so the
    shape is checked first: trees, then `end of trees`, the parameters, `end of parameters`, and
    the `pandas_categorical:` line the Python package always writes last.
    """
    last = text[text.rstrip("\n").rfind("\n") + 1 :]
    complete = (
        text.startswith("tree\n")
        and "\nend of trees\n" in text
        and "\nend of parameters\n" in text
        and text.endswith("\n")
        and last.startswith(_CATEGORICAL)
        and _is_json(last[len(_CATEGORICAL) :])
    )
    if not complete:
        msg = (
            f"{what}: {MODEL_FILE} is not a complete LightGBM model file ({len(text)} chars; "
            "truncated, or not a model)"
        )
        raise ModelIntegrityError(msg)


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def parse_model(data: bytes, what: str) -> lgb.Booster:
    """A booster from the bytes of a LightGBM text model file (nothing in it is executed)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        msg = f"{what}: {MODEL_FILE} is not UTF-8 text ({clip_text(exc)})"
        raise ModelIntegrityError(msg) from exc
    check_model_text(text, what)
    return lgb.Booster(model_str=text)


def load_registered_booster(store: MlflowStore, name: str, version: int) -> LoadedArtifact:
    """Load version `version` of registered model `name` from its `model.lgb`, digest checked.

    A version registered outside the platform may have no recorded digest: it is still loaded
    only from its text file (never through `MLmodel`), with a warning.
    """
    store.activate()
    what = f"model {name!r} version {version}"
    recorded = store.client().get_model_version(name, str(version)).tags.get(TAG_MODEL_SHA256)
    data = _download(f"models:/{name}/{version}/{MODEL_FILE}", what)
    actual = digest(data)
    if recorded is None:
        log.warning("%s has no recorded %s; loaded without a digest check", what, TAG_MODEL_SHA256)
    elif actual != recorded:
        msg = (
            f"{what}: {MODEL_FILE} has sha256 {actual}, but {recorded} was recorded at "
            "registration; the artifact changed since, refusing to load it"
        )
        raise ModelIntegrityError(msg)
    return LoadedArtifact(name, int(version), parse_model(data, what), actual, len(data))


def parse_version_uri(model_uri: str) -> tuple[str, int]:
    """(name, version) of `models:/<name>/<version>`; other URIs are refused."""
    match = _VERSION_URI.match(model_uri)
    if match is None:
        msg = (
            f"{clip_text(model_uri)!r} is not models:/<name>/<version>: the platform loads "
            "registered versions only (their digest is recorded at registration)"
        )
        raise ValueError(msg)
    return match["name"], int(match["version"])
