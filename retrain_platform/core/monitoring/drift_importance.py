"""Drift that matters to this model: the drift trigger reads the champion's important features.

A feature the model hardly uses can drift every partition without changing a prediction (on the
weather data visibility and wind, which take few distinct values, drift on most months). With
the policy's `drift_importance_share` set, the trigger's drift statistic is the largest PSI among
the fewest features that carry that share of the champion's total gain importance, most
important first; every feature is still reported and shown. Unset, it is the max PSI over all
scored features, as before.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from retrain_platform.core.monitoring.drift import DriftSummary


def important_features(
    names: Sequence[str], gains: Sequence[float], share: float | None
) -> tuple[str, ...] | None:
    """The fewest features whose gain importance reaches `share` of the total (all of them
    when the model has no gain at all); None when `share` is None (no restriction)."""
    if share is None:
        return None
    values = np.asarray(gains, dtype=np.float64)
    total = float(values.sum())
    if total <= 0:
        return tuple(names)
    order = np.argsort(-values, kind="stable")
    cumulative = np.cumsum(values[order]) / total
    count = int(np.searchsorted(cumulative, min(share, 1.0) - 1e-12) + 1)
    return tuple(names[i] for i in order[:count])


def trigger_psi(summary: DriftSummary, features: Sequence[str] | None) -> tuple[float, str | None]:
    """The trigger's drift statistic: the largest PSI among `features` that were scored (all
    scored features when None), with the feature it belongs to."""
    wanted = None if features is None else set(features)
    scored = [f for f in summary.features if f.scored and (wanted is None or f.name in wanted)]
    if not scored:
        return 0.0, None
    top = max(scored, key=lambda f: f.psi)
    return top.psi, top.name
