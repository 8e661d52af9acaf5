"""A feature view's version: eight hex digits naming what the view computes, from what.

It changes whenever a model trained on the view could be fed something else under the same
name: the contract's columns (a column added, removed or retyped, even one the view does not
serve yet), the view's table (every output column and its dtype, in order, so any new, removed
or renamed feature), the window closure, the lookback, and the label's delay and positive class
(the label features' meaning). How long an online value stays valid (the ttl) is not part of it.
The Feast feature service of the view is named `<table>_v<version>`.
"""

from __future__ import annotations

import hashlib
import json

from retrain_platform.contracts import DatasetContract
from retrain_platform.contracts.model import FeatureView
from retrain_platform.core.features.transforms import feature_columns


def view_definition(contract: DatasetContract, view: FeatureView) -> dict[str, object]:
    """Everything the view's version depends on, as plain values."""
    return {
        "contract_columns": [f"{c.name}:{c.dtype}" for c in contract.columns],
        "table": [f"{name}:{dtype}" for name, dtype in feature_columns(contract, view).items()],
        "served": view.feature_names(contract.label_name),
        "closure": view.closure,
        "lookback_seconds": view.lookback.total_seconds(),
        "label_delay_seconds": contract.label.delay.total_seconds(),
        "label_positive": repr(contract.label.positive),
    }


def view_version(contract: DatasetContract, view: FeatureView) -> str:
    """Eight hex digits identifying `view_definition(contract, view)`."""
    blob = json.dumps(view_definition(contract, view), sort_keys=True).encode()
    return hashlib.sha1(blob).hexdigest()[:8]
