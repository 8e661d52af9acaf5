"""The MLflow resource: tracking server, artifact store and model registry of the platform.

A typed `ConfigurableResource` over MLflow's own client rather than dagster-mlflow: that package
is a legacy `@resource` (untyped `context.resources.mlflow`), emits beta and deprecation warnings
with Dagster 1.13, keeps a process-wide active run that needs a hook to end, and does nothing for
the registry. Runs here are opened and closed inside one step, and every other call goes through
an `MlflowClient` bound to explicit URIs.

Where MLflow keeps its state depends on the profile (`RETRAIN_PROFILE`):
- embedded default: sqlite and local artifacts under the platform home;
- production: MLflow's tables in their own PostgreSQL database, named by the
  `RETRAIN_MLFLOW_PG_*` variables (never Dagster's database: both keep an alembic `runs` and
  `alembic_version` table), artifacts under `RETRAIN_MLFLOW_ARTIFACTS`;
- either profile: `MLFLOW_TRACKING_URI` (e.g. an `mlflow server`) wins when set.

Dagster links runs and model versions to the MLflow UI (`MetadataValue.url`) when the UI's
address is known: `ui_url`, else `RETRAIN_MLFLOW_UI_URL`, else an http(s) tracking URI.
"""

import os
from collections.abc import Mapping
from functools import cache
from urllib.parse import quote

import dagster as dg
from mlflow import MlflowClient
from pydantic import Field

from retrain_platform.contracts import DatasetContract
from retrain_platform.core.models.mlflow_store import MlflowStore, ui_base_url
from retrain_platform.home import PRODUCTION_PROFILE, HomeLayout, profile

TRACKING_URI_ENV_VAR = "MLFLOW_TRACKING_URI"
UI_URL_ENV_VAR = "RETRAIN_MLFLOW_UI_URL"  # where people open the MLflow UI (links from Dagster)
ARTIFACT_ROOT_ENV_VAR = "RETRAIN_MLFLOW_ARTIFACTS"
# The production backend store: a PostgreSQL database of MLflow's own.
PG_ENV_VARS = {
    "host": "RETRAIN_MLFLOW_PG_HOST",
    "port": "RETRAIN_MLFLOW_PG_PORT",
    "db": "RETRAIN_MLFLOW_PG_DB",
    "username": "RETRAIN_MLFLOW_PG_USERNAME",
}
# Must be set, may be empty (trust/peer authentication, or libpq's ~/.pgpass). Read from the
# environment where the store is built, so it never lands in run config, the UI or logs.
PG_PASSWORD_ENV_VAR = "RETRAIN_MLFLOW_PG_PASSWORD"
# SQLAlchemy 2.1 maps a bare `postgresql://` to psycopg 3, which is not installed.
PG_SCHEME = "postgresql+psycopg2"
# Key of the PostgreSQL advisory lock held while MLflow's schema is created.
_SCHEMA_LOCK = 0x6D6C666C6F77


class MlflowResource(dg.ConfigurableResource):
    """MLflow tracking and registry: one experiment and one registered model per dataset."""

    tracking_uri: str = Field(
        description="sqlite:///... (embedded), postgresql+psycopg2://user@host:port/db "
        "(production, without the password) or http(s)://server"
    )
    artifact_root: str = Field(description="Folder or object-store URI for new experiments.")
    registry_uri: str | None = Field(None, description="Default: the tracking URI.")
    model_name_prefix: str = Field("", description="Prefix of registered model names.")
    tracking_password: str = Field(
        "",
        description=f"Password of a postgresql tracking URI, spliced in when the store is "
        f"built; normally EnvVar('{PG_PASSWORD_ENV_VAR}').",
    )
    ui_url: str = Field(
        "",
        description=f"Address of the MLflow UI that Dagster metadata links to; default "
        f"${UI_URL_ENV_VAR}, else the tracking URI when it is http(s); none: no links.",
    )

    def store(self) -> MlflowStore:
        uri = with_password(self.tracking_uri, self.tracking_password)
        if is_postgres(uri):
            ensure_schema(uri, self.artifact_root)
        return MlflowStore(uri, self.artifact_root, self.registry_uri)

    def client(self) -> MlflowClient:
        return self.store().client()

    def ui_base_url(self) -> str | None:
        """The MLflow UI's address for links, None when there is no UI to link to."""
        return ui_base_url(self.ui_url or os.environ.get(UI_URL_ENV_VAR), self.tracking_uri)

    def experiment_name(self, contract: DatasetContract) -> str:
        return contract.dataset

    def registry_model_name(self, contract: DatasetContract) -> str:
        return registered_model_name(contract, self.model_name_prefix)


def registered_model_name(contract: DatasetContract, prefix: str = "") -> str:
    """The registered model of a dataset: its name, optionally prefixed."""
    return f"{prefix}{contract.dataset}"


def is_postgres(uri: str) -> bool:
    return uri.startswith(("postgresql:", "postgresql+", "postgres:"))


def postgres_tracking_uri(env: Mapping[str, str] | None = None) -> str:
    """`postgresql+psycopg2://user@host:port/db` from the `RETRAIN_MLFLOW_PG_*` variables,
    without the password (see `with_password`).

    Every variable is required (the password may be empty); the error lists all missing ones.
    MLflow's database must not be Dagster's (`DAGSTER_PG_*`): MLflow's initial tables
    (`runs`, ...) and alembic's `alembic_version` would collide with Dagster's.
    """
    env = os.environ if env is None else env
    missing = [name for name in PG_ENV_VARS.values() if not env.get(name, "").strip()]
    missing += [PG_PASSWORD_ENV_VAR] if PG_PASSWORD_ENV_VAR not in env else []
    if missing:
        msg = (
            f"the production profile keeps MLflow in PostgreSQL: set {', '.join(missing)} "
            f"(or {TRACKING_URI_ENV_VAR} for a tracking server); see docs/production.md"
        )
        raise ValueError(msg)
    value = {field: env[name].strip() for field, name in PG_ENV_VARS.items()}
    dagster = [env.get(f"DAGSTER_PG_{k}", "").strip() for k in ("HOST", "PORT", "DB")]
    if dagster == [value["host"], value["port"], value["db"]]:
        msg = (
            f"{PG_ENV_VARS['db']} names Dagster's database ({value['db']!r}, DAGSTER_PG_DB); "
            "MLflow needs a database of its own: its tables and alembic_version collide with "
            "Dagster's"
        )
        raise ValueError(msg)
    user = quote(value["username"], safe="")
    return f"{PG_SCHEME}://{user}@{value['host']}:{value['port']}/{quote(value['db'], safe='')}"


def with_password(uri: str, password: str) -> str:
    """`uri` with `password` spliced in after the user name (unchanged when it is empty)."""
    if not password or "@" not in uri or "://" not in uri:
        return uri
    scheme, rest = uri.split("://", 1)
    user, host = rest.split("@", 1)
    return f"{scheme}://{user.split(':', 1)[0]}:{quote(password, safe='')}@{host}"


@cache
def ensure_schema(uri: str, artifact_root: str) -> None:
    """Create MLflow's tables in the PostgreSQL database at `uri` if they are missing, holding a
    PostgreSQL advisory lock meanwhile; once per process and URI.

    MLflow creates its schema (alembic migrations) the first time a store opens an empty
    database, with no lock: two processes doing so at once fail with errors such as
    `type "alembic_version" already exists`. Every path of the platform to a PostgreSQL store
    comes here first, so concurrent steps serialize on the lock and only the first migrates.
    Processes that open the database with MLflow directly (an `mlflow server`, a notebook)
    bypass the lock: run `initialize_tracking_store()` once before starting them.
    """
    import sqlalchemy
    from mlflow.store.model_registry.sqlalchemy_store import SqlAlchemyStore as RegistryStore
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    engine = sqlalchemy.create_engine(uri, poolclass=sqlalchemy.pool.NullPool)
    try:
        with engine.connect() as conn:
            conn.execute(sqlalchemy.text("SELECT pg_advisory_lock(:key)"), {"key": _SCHEMA_LOCK})
            try:
                SqlAlchemyStore(uri, artifact_root)  # creates the tables when missing
                RegistryStore(uri)  # checks the registry's tables
            finally:
                conn.execute(
                    sqlalchemy.text("SELECT pg_advisory_unlock(:key)"), {"key": _SCHEMA_LOCK}
                )
    finally:
        engine.dispose()


def initialize_tracking_store(home: HomeLayout) -> MlflowStore:
    """Create MLflow's schema in the production PostgreSQL database (no-op when it exists) and
    return the store. Run once per deployment, before concurrent use (see docs/production.md):
    `python -c "from retrain_platform.home import layout;
    from retrain_platform.resources.tracking import initialize_tracking_store;
    initialize_tracking_store(layout())"`."""
    store = profile_mlflow_store(home)
    if is_postgres(store.tracking_uri):
        ensure_schema(store.tracking_uri, store.artifact_root)
    return store


def _artifact_root(home: HomeLayout) -> str:
    return os.environ.get(ARTIFACT_ROOT_ENV_VAR) or str(home.home / "mlflow" / "artifacts")


def profile_mlflow_store(home: HomeLayout) -> MlflowStore:
    """The MLflow store of `home` in the active profile, password included (in process only).

    Embedded default: `$RETRAIN_HOME/mlflow/mlflow.db` and `$RETRAIN_HOME/mlflow/artifacts`;
    production: the `RETRAIN_MLFLOW_PG_*` database (schema created if missing). Either way
    `MLFLOW_TRACKING_URI` / `RETRAIN_MLFLOW_ARTIFACTS` win when set.
    """
    artifact_root = _artifact_root(home)
    if os.environ.get(TRACKING_URI_ENV_VAR):
        return MlflowStore(os.environ[TRACKING_URI_ENV_VAR], artifact_root)
    if profile() == PRODUCTION_PROFILE:
        uri = with_password(postgres_tracking_uri(), os.environ[PG_PASSWORD_ENV_VAR])
        ensure_schema(uri, artifact_root)
        return MlflowStore(uri, artifact_root)
    return MlflowStore(f"sqlite:///{home.home / 'mlflow' / 'mlflow.db'}", artifact_root)


def default_mlflow_resource(home: HomeLayout) -> MlflowResource:
    """The resource of the active profile. `MLFLOW_TRACKING_URI` and the PostgreSQL password
    are read at run time through `dg.EnvVar`, so neither lands in the run config or the UI."""
    artifact_root = _artifact_root(home)
    if os.environ.get(TRACKING_URI_ENV_VAR):
        return MlflowResource(
            tracking_uri=dg.EnvVar(TRACKING_URI_ENV_VAR), artifact_root=artifact_root
        )
    if profile() == PRODUCTION_PROFILE:
        password = dg.EnvVar(PG_PASSWORD_ENV_VAR) if os.environ.get(PG_PASSWORD_ENV_VAR) else ""
        return MlflowResource(
            tracking_uri=postgres_tracking_uri(),
            tracking_password=password,
            artifact_root=artifact_root,
        )
    return MlflowResource(
        tracking_uri=f"sqlite:///{home.home / 'mlflow' / 'mlflow.db'}", artifact_root=artifact_root
    )
