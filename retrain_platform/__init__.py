"""retrain-platform: a continuous-training platform on Dagster (see README.md)."""

import os
import warnings

# Loading a pickled model runs code from the artifact. The platform's models are LightGBM text
# files it parses itself (`core.models.loading`), so it never needs MLflow to unpickle anything,
# and it forces MLflow's switch off in every process that imports the package (children inherit
# it) rather than `setdefault`: a `true` left in a shell profile or an image would quietly turn
# every MLflow pyfunc/sklearn-style load back into code execution.
os.environ["MLFLOW_ALLOW_PICKLE_DESERIALIZATION"] = "false"

# MLflow 3.17's tracking store configures SQLAlchemy mappers that use the `noload` strategy,
# which SQLAlchemy 2.1 deprecates; the warning is MLflow's to fix and says nothing to a user.
warnings.filterwarnings(
    "ignore", message=r"The ``noload`` loader strategy is deprecated", module=r"mlflow\..*"
)
