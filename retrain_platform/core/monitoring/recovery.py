"""How long a model took to recover after a drift onset: one rule for the backtest and the demo.

Recovery is the number of partitions from the onset until the live metric is back within
`RECOVERY_TOLERANCE` of its mean over the `RECOVERY_BASELINE` partitions before the onset and
stays there for two partitions running (one good partition among bad ones is noise, not a
recovery). Partitions without a value (no labels yet, a refused file) break a run.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

RECOVERY_TOLERANCE = 0.03
RECOVERY_BASELINE = 7
RECOVERY_RUN = 2


def recovery_partitions(values: Sequence[float | None], onset: int) -> int | None:
    """Partitions from index `onset` of `values` (one metric per partition, in time order, None
    or NaN when unknown) until the metric has recovered; None when it never does or there is no
    baseline before the onset."""
    metric = np.array([np.nan if v is None else float(v) for v in values], dtype=np.float64)
    before = metric[max(0, onset - RECOVERY_BASELINE) : onset]
    before = before[np.isfinite(before)]
    if before.size == 0 or not 0 <= onset < metric.size:
        return None
    target = before.mean() - RECOVERY_TOLERANCE
    for index in range(onset, metric.size - RECOVERY_RUN + 1):
        window = metric[index : index + RECOVERY_RUN]
        if np.all(np.isfinite(window)) and np.all(window >= target):
            return index - onset
    return None
