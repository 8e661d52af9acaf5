"""What the handlers share, built once by the lifespan: the model slots and their watcher, the
online lookup, the prediction log and the metrics.

The watcher checks each new version in a child process before it is loaded here
(`verify.verify_version`, unless `settings.verify_reloads` is off); a rejection is counted in
`retrain_serving_model_reloads_rejected_total{alias}` and shown on `/health`.
"""

from __future__ import annotations

from retrain_platform.core.deployment.registry import CHALLENGER, CHAMPION
from retrain_platform.serving import prediction_log as plog
from retrain_platform.serving.features import OnlineLookup, build_lookup, feature_max_age
from retrain_platform.serving.metrics import ServingMetrics
from retrain_platform.serving.models import CANARY, LoadedModel, ModelRegistryWatcher, Rejection
from retrain_platform.serving.schemas import RequestSchemas
from retrain_platform.serving.settings import ServingSettings
from retrain_platform.serving.verify import verify_version


class ServingState:
    """Everything the handlers use, built by the lifespan."""

    def __init__(
        self, settings: ServingSettings, schemas: RequestSchemas, metrics: ServingMetrics
    ) -> None:
        self.settings = settings
        self.contract = settings.contract
        self.view = settings.view
        self.schemas = schemas
        self.metrics = metrics
        self.keys = list(self.view.entity_keys)
        self.max_age = settings.max_feature_age or feature_max_age(self.contract, self.view)
        self.threshold = self.contract.policy.decision_threshold
        aliases = [CHAMPION, CANARY] + ([CHALLENGER] if settings.shadow else [])
        self.watcher = ModelRegistryWatcher(
            settings.store,
            settings.model_name,
            aliases,
            interval=settings.poll_seconds,
            on_change=self._changed,
            verifier=self._verify if settings.verify_reloads else None,
            on_reject=self._rejected,
            retry_seconds=settings.reject_retry_seconds,
        )
        self.lookup: OnlineLookup = build_lookup(
            settings.lookup,
            settings.feast,
            self.contract,
            self.view,
            timeout=settings.store_timeout,
        )
        self.log = plog.PredictionLog(
            plog.predictions_uri(settings.lake_uri, self.contract),
            plog.log_schema(self.contract, self.view),
            max_rows=settings.log_max_rows,
            max_seconds=settings.log_max_seconds,
            storage_options=settings.storage_options,
        )
        metrics.canary_share.set(settings.canary_share)
        metrics.log_pending.set_function(lambda: self.log.pending)

    def _changed(self, alias: str, model: LoadedModel | None) -> None:
        self.metrics.model_version.labels(alias).set(-1 if model is None else model.version)
        self.metrics.reloads.labels(alias).inc()

    def _verify(self, version: int) -> str | None:
        """The child check of a version before it is loaded here: None, or why it failed."""
        settings = self.settings
        verdict = verify_version(
            settings.store,
            settings.model_name,
            version,
            inputs=frozenset(self.schemas.row_features),
            timeout=settings.verify_timeout,
        )
        return None if verdict.passed else verdict.reason

    def _rejected(self, alias: str, rejection: Rejection) -> None:
        self.metrics.rejected_reloads.labels(alias).inc()

    def model(self, alias: str) -> LoadedModel | None:
        slot = self.watcher.slots.get(alias)
        return None if slot is None else slot.current
