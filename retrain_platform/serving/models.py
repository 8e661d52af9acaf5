"""Loaded models and their hot reload.

Each registry alias the service follows (`champion`, and optionally `canary` and `challenger`
for the shadow) has a slot holding one immutable `LoadedModel`. A background thread polls the
aliases; when one moves, the new version is loaded (the native LightGBM booster, loaded by
version number so an alias moving again mid-load cannot mix versions) and the slot's reference
is swapped. A request reads the reference once and scores with that model, so a reload never
fails or drops a request and never mixes two versions within one request.

With a `verifier` (the service passes `verify.verify_version`), a version is checked in a child
process before it is loaded here: one that fails (or crashes the child) is not swapped in, the
slot keeps its model and records the rejection (version, reason, when), and the version is
checked again only after `retry_seconds` or when the alias moves elsewhere.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import numpy as np

from retrain_platform.core.deployment.registry import alias_version
from retrain_platform.core.models.mlflow_store import MlflowStore

log = logging.getLogger(__name__)
CANARY = "canary"


@dataclass(frozen=True)
class LoadedModel:
    """One registered version, loaded: its booster and input feature names in order."""

    name: str
    version: int
    booster: Any
    features: tuple[str, ...]

    def predict(self, matrix: np.ndarray) -> np.ndarray:
        """Positive-class probabilities of a float64 matrix in `features` order (one thread:
        for a handful of rows OpenMP's start-up costs more than it saves)."""
        return self.booster.predict(matrix, num_threads=1)


def load_version(store: MlflowStore, name: str, version: int) -> LoadedModel:
    """Load `models:/<name>/<version>` from its LightGBM text file, its recorded sha256 checked
    (`core.models.loading`; never through the flavor's loader, which can unpickle code)."""
    from retrain_platform.core.models.loading import load_registered_booster

    booster = load_registered_booster(store, name, version).booster
    return LoadedModel(name, version, booster, tuple(booster.feature_name()))


@dataclass(frozen=True)
class Rejection:
    """A version the alias moved to that failed its check: the slot kept its model."""

    version: int
    reason: str
    at: datetime
    checked: float  # time.monotonic() of the check, for the retry

    def as_dict(self) -> dict[str, Any]:
        return {"version": self.version, "reason": self.reason, "at": self.at.isoformat()}


class ModelSlot:
    """The current model of one alias; `current` is swapped as a whole, never mutated."""

    def __init__(self, alias: str) -> None:
        self.alias = alias
        self.current: LoadedModel | None = None
        self.last_error: str | None = None
        self.rejected: Rejection | None = None

    @property
    def version(self) -> int | None:
        model = self.current
        return None if model is None else model.version


class ModelRegistryWatcher:
    """Keeps one slot per alias in step with the registry, polling every `interval` seconds."""

    def __init__(
        self,
        store: MlflowStore,
        name: str,
        aliases: Sequence[str],
        *,
        interval: float = 5.0,
        loader: Callable[[MlflowStore, str, int], LoadedModel] = load_version,
        on_change: Callable[[str, LoadedModel | None], None] | None = None,
        verifier: Callable[[int], str | None] | None = None,
        on_reject: Callable[[str, Rejection], None] | None = None,
        retry_seconds: float = 300.0,
    ) -> None:
        self.store = store
        self.name = name
        self.slots = {alias: ModelSlot(alias) for alias in aliases}
        self.interval = interval
        self.loader = loader
        self.on_change = on_change
        self.verifier = verifier  # version -> None when it passes, else the reason
        self.on_reject = on_reject
        self.retry_seconds = retry_seconds
        self._verified: set[int] = set()
        self._client = store.client()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.polls = 0

    def slot(self, alias: str) -> ModelSlot:
        return self.slots[alias]

    def refresh(self) -> dict[str, int | None]:
        """Check every alias once and load what moved; returns the alias versions seen."""
        seen: dict[str, int | None] = {}
        loaded: dict[int, LoadedModel] = {
            s.current.version: s.current for s in self.slots.values() if s.current is not None
        }
        for alias, slot in self.slots.items():
            try:
                version = alias_version(self._client, self.name, alias)
                seen[alias] = version
                if version == slot.version:
                    continue
                model = None
                if version is not None:
                    model = loaded.get(version)
                    if model is None:
                        if self._held_back(slot, version):
                            continue
                        model = self.loader(self.store, self.name, version)
                    loaded[version] = model
                slot.current = model  # the atomic swap: one reference assignment
                slot.last_error = None
                slot.rejected = None
                log.info("%s@%s now version %s", self.name, alias, version)
                if self.on_change is not None:
                    self.on_change(alias, model)
            except Exception as exc:  # noqa: BLE001 - keep serving the loaded model
                slot.last_error = f"{type(exc).__name__}: {exc}"
                log.warning("reloading %s@%s failed: %s", self.name, alias, slot.last_error)
        self.polls += 1
        return seen

    def _held_back(self, slot: ModelSlot, version: int) -> bool:
        """True when `version` must not be loaded: it failed its check now or recently."""
        if self.verifier is None or version in self._verified:
            return False
        last = slot.rejected
        if last is not None and last.version == version:
            if time.monotonic() - last.checked < self.retry_seconds:
                return True
        reason = self.verifier(version)
        if reason is None:
            self._verified.add(version)  # one child per version, even if loading here fails
            return False
        rejection = Rejection(version, reason, datetime.now(timezone.utc), time.monotonic())
        slot.rejected = rejection
        slot.last_error = f"version {version} rejected: {reason}"
        log.error(
            "%s@%s: version %s rejected, kept %s: %s",
            self.name,
            slot.alias,
            version,
            slot.version,
            reason,
        )
        if self.on_reject is not None:
            self.on_reject(slot.alias, rejection)
        return True

    def start(self) -> None:
        """Start the polling thread (daemon; `stop` ends it)."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="model-reload", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.refresh()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
