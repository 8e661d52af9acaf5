"""Whether a drift report covers the model: every model feature scored or listed as left out."""

from __future__ import annotations

from collections.abc import Iterable

from retrain_platform.core.validate.table_checks import CheckOutcome

EVERY_FEATURE_COVERED = "every_feature_covered"


def check_coverage(
    model_features: Iterable[str], reported: Iterable[str], left_out: Iterable[str]
) -> CheckOutcome:
    """Each model feature is in the report's per-column table or in its left-out list."""
    features = list(model_features)
    covered = set(reported) | set(left_out)
    missing = [name for name in features if name not in covered]
    return CheckOutcome(
        EVERY_FEATURE_COVERED,
        not missing,
        {
            "model_features": len(features),
            "reported": len(set(reported) & set(features)),
            "left_out": len(set(left_out) & set(features)),
            "missing": missing,
        },
    )
