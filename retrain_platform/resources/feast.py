"""The Feast resource: the platform's feature repository, its registry and its online store.

The repository (`feature_store/`) is the same in every profile; its configuration is not: the
embedded default reads `feature_store/feature_store.yaml` (sqlite online store under the platform
home), the production profile `deploy/production/feature_store.yaml` (Redis, connection string
and project name from the environment). Online writes go to the writer of the configured store.

`import feast` takes seconds, and the code location only needs it when a feature-store asset
runs, so Feast (and the modules that import it) are imported inside the methods.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import dagster as dg
import polars as pl
import yaml

from retrain_platform.contracts import DatasetContract
from retrain_platform.contracts.model import FeatureView as ContractView
from retrain_platform.home import HOME_ENV_VAR, PRODUCTION_PROFILE, layout, platform_home, profile

if TYPE_CHECKING:
    import pandas as pd
    from feast import FeatureStore
    from feast.repo_config import RepoConfig

    from retrain_platform.core.feature_store.online_redis import RedisOnlineTable
    from retrain_platform.core.feature_store.online_sqlite import OnlineTable

_CHECKOUT = Path(__file__).resolve().parents[2]
DEFAULT_REPO_PATH = _CHECKOUT / "feature_store"
PRODUCTION_CONFIG = _CHECKOUT / "deploy" / "production" / "feature_store.yaml"
# The Redis connection string (Feast's `host:port[,db=N][,password=...]` format): may hold a
# password, so it is read from the environment when a step runs and never stored in config.
REDIS_ENV_VAR = "RETRAIN_FEAST_REDIS"
# The Feast project: names the registry's objects and ends every Redis key, so deployments or
# tests sharing one Redis server never see each other's rows.
PROJECT_ENV_VAR = "RETRAIN_FEAST_PROJECT"
DEFAULT_PROJECT = "retrain_platform"
SQLITE, REDIS = "sqlite", "redis"
_VARIABLE = re.compile(r"\$\{(\w+)\}|\$(\w+)")


class FeastResource(dg.ConfigurableResource):
    """The Feast repository (`feature_store/`) with its state under the platform home."""

    repo_path: str = str(DEFAULT_REPO_PATH)
    home: str = ""  # substituted for ${RETRAIN_HOME} in feature_store.yaml; "" = the platform home
    # "" = the active profile's: `<repo_path>/feature_store.yaml`, or in the production profile
    # `deploy/production/feature_store.yaml`.
    config_path: str = ""

    def config_file(self) -> Path:
        """The `feature_store.yaml` this resource reads (see `config_path`)."""
        if self.config_path:
            return Path(self.config_path)
        if profile() == PRODUCTION_PROFILE:
            return PRODUCTION_CONFIG
        return Path(self.repo_path) / "feature_store.yaml"

    def config(self) -> RepoConfig:
        """`feature_store.yaml`, read as Feast reads it (environment variables expanded) but with
        the platform home filled in and `RETRAIN_FEAST_PROJECT` defaulting to `retrain_platform`.

        A variable the file uses that is not set is an error naming it, rather than a literal
        `${...}` that Feast would pass to Redis or reject as a project name.
        """
        from feast.repo_config import RepoConfig

        home = self.home or str(platform_home())
        path = self.config_file()
        text = path.read_text()
        defaults = {
            HOME_ENV_VAR: home,
            PROJECT_ENV_VAR: os.environ.get(PROJECT_ENV_VAR, "").strip() or DEFAULT_PROJECT,
        }
        for name, value in defaults.items():
            for variable in ("${" + name + "}", "$" + name):
                text = text.replace(variable, value)
        missing = sorted({a or b for a, b in _VARIABLE.findall(text)} - set(os.environ))
        if missing:
            msg = f"{path} needs {', '.join(missing)}, which is not set (see docs/production.md)"
            raise ValueError(msg)
        config = RepoConfig(**yaml.safe_load(os.path.expandvars(text)))
        config.repo_path = Path(self.repo_path)
        registry = Path(config.registry.path)
        if "://" not in config.registry.path and registry.is_absolute():
            registry.parent.mkdir(parents=True, exist_ok=True)  # Feast creates one level only
        return config

    def store(self) -> FeatureStore:
        from feast import FeatureStore

        return FeatureStore(repo_path=self.repo_path, config=self.config())

    def apply(self, contract: DatasetContract, lake_uri: str | None = None) -> list[str]:
        """Apply the Feast objects of every feature view of `contract`; returns their names."""
        from retrain_platform.core.feature_store.feast_objects import contract_feast_objects

        objects: dict[str, Any] = {}
        for generated in contract_feast_objects(contract, lake_uri or layout().lake_uri):
            objects.update((obj.name, obj) for obj in generated.objects)
        self.store().apply(list(objects.values()))
        return list(objects)

    def online_table(
        self, contract: DatasetContract, view: ContractView, config: RepoConfig | None = None
    ) -> OnlineTable:
        """Where Feast's sqlite online store keeps `view`, and the value types it holds."""
        from feast.infra.online_stores.helpers import compute_table_id

        from retrain_platform.core.feature_store.feast_objects import (
            entity_value_types,
            feature_types,
            feature_view_name,
        )
        from retrain_platform.core.feature_store.online_sqlite import OnlineTable

        config = config or self.config()
        store = config.online_store
        unsupported = {
            "online store type is not sqlite": store.type != SQLITE,
            "vector_enabled": bool(getattr(store, "vector_enabled", False)),
            "enable_openai_compatible_store": bool(
                getattr(store, "enable_openai_compatible_store", False)
            ),
            "enable_online_feature_view_versioning": bool(
                config.registry.enable_online_feature_view_versioning
            ),
        }
        reasons = [reason for reason, present in unsupported.items() if present]
        if reasons:
            msg = f"the fast online writer supports Feast's plain sqlite layout only: {reasons}"
            raise ValueError(msg)
        path = Path(store.path)
        db_path = path if path.is_absolute() else Path(self.repo_path) / path
        fv_name = feature_view_name(contract, view)
        return OnlineTable(
            db_path=str(db_path),
            name=compute_table_id(config.project, SimpleNamespace(name=fv_name)),
            entity_types=entity_value_types(contract, view),
            feature_types={n: t.to_value_type() for n, t in feature_types(contract, view).items()},
            timestamp=contract.timestamp_name,
            entity_key_serialization_version=config.entity_key_serialization_version,
        )

    def online_store_type(self, config: RepoConfig | None = None) -> str:
        """The configured online store: `sqlite`, `redis` (or another store's type name)."""
        return str((config or self.config()).online_store.type)

    def redis_table(
        self, contract: DatasetContract, view: ContractView, config: RepoConfig | None = None
    ) -> RedisOnlineTable:
        """Where Feast's Redis online store keeps `view` (project, view name, value types)."""
        from retrain_platform.core.feature_store.feast_objects import (
            entity_value_types,
            feature_types,
            feature_view_name,
        )
        from retrain_platform.core.feature_store.online_redis import RedisOnlineTable

        config = config or self.config()
        if config.online_store.type != REDIS:
            msg = f"the online store is {config.online_store.type!r}, not redis"
            raise ValueError(msg)
        if config.registry.enable_online_feature_view_versioning:
            msg = "the Redis online writer does not support enable_online_feature_view_versioning"
            raise ValueError(msg)
        return RedisOnlineTable(
            project=config.project,
            view=feature_view_name(contract, view),
            entity_types=entity_value_types(contract, view),
            feature_types={n: t.to_value_type() for n, t in feature_types(contract, view).items()},
            timestamp=contract.timestamp_name,
            entity_key_serialization_version=config.entity_key_serialization_version,
            key_ttl_seconds=config.online_store.key_ttl_seconds,
        )

    def redis_client(self, config: RepoConfig | None = None) -> Any:
        """A client of the configured Redis online store, connected as Feast connects (plain,
        cluster or sentinel, from the connection string)."""
        from feast.infra.online_stores.redis import RedisOnlineStore

        config = config or self.config()
        return RedisOnlineStore()._get_client(config.online_store)

    def write_online(
        self, contract: DatasetContract, view: ContractView, frame: pl.DataFrame
    ) -> dict[str, object]:
        """Write each entity's newest row of `frame` to the online store (sqlite or Redis);
        a stored row with a newer event time is kept. Returns stats."""
        config = self.config()
        if config.online_store.type == REDIS:
            from redis.exceptions import ConnectionError as RedisConnectionError

            from retrain_platform.core.feature_store.online_redis import write_online_redis

            client = self.redis_client(config)
            try:
                stats = write_online_redis(frame, self.redis_table(contract, view, config), client)
            except RedisConnectionError as error:
                msg = (
                    f"Feast's Redis online store is not reachable ({error}); check "
                    f"{REDIS_ENV_VAR} (see docs/production.md)"
                )
                raise ConnectionError(msg) from error
            finally:
                client.close()
            return stats.as_dict()
        from retrain_platform.core.feature_store.online_sqlite import write_online

        return write_online(frame, self.online_table(contract, view, config)).as_dict()

    def online_features(
        self, contract: DatasetContract, view: ContractView, entity_rows: list[dict[str, Any]]
    ) -> dict[str, list[Any]]:
        """The view's feature service for `entity_rows`, as Feast serves it online."""
        from retrain_platform.core.feature_store.feast_objects import feature_service_name

        store = self.store()
        service = store.get_feature_service(feature_service_name(contract, view))
        return store.get_online_features(features=service, entity_rows=entity_rows).to_dict()

    def historical_features(
        self, contract: DatasetContract, view: ContractView, entity_df: pd.DataFrame
    ) -> pd.DataFrame:
        """Feast's point-in-time retrieval of the view's feature service for `entity_df`
        (entity keys and `event_timestamp`, plus any columns to carry through)."""
        from retrain_platform.core.feature_store.feast_objects import feature_service_name

        store = self.store()
        service = store.get_feature_service(feature_service_name(contract, view))
        return store.get_historical_features(entity_df=entity_df, features=service).to_df()
