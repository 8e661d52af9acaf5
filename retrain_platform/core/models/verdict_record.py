"""The evaluation gate's verdict as plain JSON: the `gate/verdict.json` artifact of a candidate run.

The decision history's rows and the deployment step read this record back (`from_gate_record`),
so it holds everything a cycle's row needs: verdict, failures, both models' metrics, interval.
"""

from __future__ import annotations

import math
from typing import Any

from retrain_platform.core.models.gate import GateVerdict


def _plain(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def verdict_record(verdict: GateVerdict, champion_version: int | None) -> dict[str, Any]:
    """The verdict as plain JSON (NaN becomes null)."""
    interval = verdict.interval
    return {
        "passed": verdict.passed,
        "method": verdict.method,
        "failures": verdict.messages,
        "failure_kinds": [f.kind for f in verdict.failures],
        "challenger": {k: _plain(v) for k, v in verdict.challenger.items()},
        "champion": (
            {k: _plain(v) for k, v in verdict.champion.items()} if verdict.champion else None
        ),
        "champion_version": champion_version,
        "tolerance": _plain(verdict.tolerance),
        "interval": (
            {
                "point": _plain(interval.point),
                "low": _plain(interval.low),
                "high": _plain(interval.high),
                "confidence": interval.confidence,
                "resamples": interval.resamples,
            }
            if interval
            else None
        ),
        "slices": [
            {
                "slice": s.subject,
                "rows": s.rows,
                "positives": s.positives,
                "challenger_roc_auc": _plain(s.challenger_roc_auc),
                "champion_roc_auc": _plain(s.champion_roc_auc),
                "status": s.status,
            }
            for s in verdict.slices
        ],
    }
