"""The Feast resource: the platform's feature repository, its registry and its online store.

`import feast` takes seconds, and the code location only needs it when a feature-store asset
runs, so Feast (and the modules that import it) are imported inside the methods.
"""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import dagster as dg
import polars as pl
import yaml

from retrain_platform.contracts import DatasetContract
from retrain_platform.contracts.model import FeatureView as ContractView
from retrain_platform.home import HOME_ENV_VAR, layout, platform_home

if TYPE_CHECKING:
    import pandas as pd
    from feast import FeatureStore
    from feast.repo_config import RepoConfig

    from retrain_platform.core.online_store import OnlineTable

DEFAULT_REPO_PATH = Path(__file__).resolve().parents[1] / "feature_store"


class FeastResource(dg.ConfigurableResource):
    """The Feast repository (`feature_store/`) with its state under the platform home."""

    repo_path: str = str(DEFAULT_REPO_PATH)
    home: str = ""  # substituted for ${RETRAIN_HOME} in feature_store.yaml; "" = the platform home

    def config(self) -> RepoConfig:
        """`feature_store.yaml`, read as Feast reads it but with the platform home filled in."""
        from feast.repo_config import RepoConfig

        home = self.home or str(platform_home())
        text = (Path(self.repo_path) / "feature_store.yaml").read_text()
        for variable in ("${" + HOME_ENV_VAR + "}", "$" + HOME_ENV_VAR):
            text = text.replace(variable, home)
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
        from retrain_platform.contracts.feast_objects import contract_feast_objects

        objects: dict[str, Any] = {}
        for generated in contract_feast_objects(contract, lake_uri or layout().lake_uri):
            objects.update((obj.name, obj) for obj in generated.objects)
        self.store().apply(list(objects.values()))
        return list(objects)

    def online_table(self, contract: DatasetContract, view: ContractView,
                     config: RepoConfig | None = None) -> OnlineTable:
        """Where Feast's sqlite online store keeps `view`, and the value types it holds."""
        from feast.infra.online_stores.helpers import compute_table_id

        from retrain_platform.contracts.feast_objects import (
            entity_value_types,
            feature_types,
            feature_view_name,
        )
        from retrain_platform.core.online_store import OnlineTable

        config = config or self.config()
        store = config.online_store
        unsupported = {
            "online store type is not sqlite": store.type != "sqlite",
            "vector_enabled": bool(getattr(store, "vector_enabled", False)),
            "enable_openai_compatible_store": bool(
                getattr(store, "enable_openai_compatible_store", False)),
            "enable_online_feature_view_versioning": bool(
                config.registry.enable_online_feature_view_versioning),
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

    def write_online(self, contract: DatasetContract, view: ContractView,
                     frame: pl.DataFrame) -> dict[str, object]:
        """Upsert each entity's newest row of `frame` into the online store; returns stats."""
        from retrain_platform.core.online_store import write_online

        return write_online(frame, self.online_table(contract, view)).as_dict()

    def online_features(self, contract: DatasetContract, view: ContractView,
                        entity_rows: list[dict[str, Any]]) -> dict[str, list[Any]]:
        """The view's feature service for `entity_rows`, as Feast serves it online."""
        from retrain_platform.contracts.feast_objects import feature_service_name

        store = self.store()
        service = store.get_feature_service(feature_service_name(contract, view))
        return store.get_online_features(features=service, entity_rows=entity_rows).to_dict()

    def historical_features(self, contract: DatasetContract, view: ContractView,
                            entity_df: pd.DataFrame) -> pd.DataFrame:
        """Feast's point-in-time retrieval of the view's feature service for `entity_df`
        (entity keys and `event_timestamp`, plus any columns to carry through)."""
        from retrain_platform.contracts.feast_objects import feature_service_name

        store = self.store()
        service = store.get_feature_service(feature_service_name(contract, view))
        return store.get_historical_features(entity_df=entity_df, features=service).to_df()
