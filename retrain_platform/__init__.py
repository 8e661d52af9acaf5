"""retrain-platform: a continuous-training platform on Dagster (see README.md)."""

import warnings

# MLflow 3.17's tracking store configures SQLAlchemy mappers that use the `noload` strategy,
# which SQLAlchemy 2.1 deprecates; the warning is MLflow's to fix and says nothing to a user.
warnings.filterwarnings(
    "ignore", message=r"The ``noload`` loader strategy is deprecated", module=r"mlflow\..*"
)
