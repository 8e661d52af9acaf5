"""The closed loop's timeline functions on tiny hand-made facts (no Dagster, no I/O)."""

import math
from datetime import UTC, datetime, timedelta

import polars as pl

from retrain_platform.core.deployment import decisions
from retrain_platform.demo import timeline as lt

DAYS = [
    {"day": "2026-01-03", "landed": 100, "decision": "no retrain", "reason": "healthy",
     "champion": 1},
    {"day": "2026-01-04", "landed": 100, "checks_failed": ["matches_schema"], "blocked": True,
     "decision": "no retrain", "reason": "healthy", "champion": 1},
    {"day": "2026-01-05", "landed": 100, "max_psi": 0.9, "decision": "retrain", "trigger": "drift",
     "reason": "drift on 2026-01-05", "retrain_run_id": "run-b", "challenger": 2, "gate": "passed",
     "champion": 2},
]  # fmt: skip
SCORES = [
    {"day": "2026-01-05", "partition": "2026-01-03", "roc_auc": 0.91, "rows": 100, "scored_by": 1},
    {"day": "2026-01-06", "partition": "2026-01-03", "roc_auc": 0.88, "rows": 100, "scored_by": 2},
]


def _history() -> pl.DataFrame:
    """The decision history of the backfill's first training (run-a) and one loop retrain."""
    first = datetime(2026, 1, 2, tzinfo=UTC)
    return decisions.to_frame(
        [
            decisions.Decision(
                decided_at=first, event=decisions.RETRAIN, dataset="d", trigger="main_job",
                reason="first", promoted=True, champion_before=None, champion_after=1,
                dagster_run_id="run-a", gate_passed=True, candidate_roc_auc=0.9,
            ),
            decisions.Decision(
                decided_at=first + timedelta(days=3), event=decisions.RETRAIN, dataset="d",
                trigger="drift", reason="drift", promoted=True, champion_before=1,
                champion_after=2, dagster_run_id="run-b", gate_passed=True,
                candidate_roc_auc=0.92, champion_roc_auc=0.85,
            ),
        ]
    )  # fmt: skip


def test_timeline_has_one_row_per_day_and_the_newest_score_of_its_partition():
    timeline = lt.build_timeline(lt.days_frame(DAYS), lt.performance_frame(SCORES))
    assert timeline.get_column("day").to_list() == [d["day"] for d in DAYS]
    first = timeline.row(0, named=True)
    assert first["live_roc_auc"] == 0.88 and first["live_scored_by"] == 2
    assert timeline.get_column("live_roc_auc").null_count() == 2


def test_retrain_cycles_join_the_gate_metrics_of_their_own_runs():
    timeline = lt.build_timeline(lt.days_frame(DAYS), lt.performance_frame(SCORES))
    cycles = lt.retrain_cycles(timeline, _history())
    assert cycles.height == 1  # the backfill's run-a is not a day of the loop
    cycle = cycles.row(0, named=True)
    assert (cycle["trigger"], cycle["gate"], cycle["challenger"]) == ("drift", "passed", 2)
    assert (cycle["candidate_roc_auc"], cycle["champion_roc_auc"]) == (0.92, 0.85)


def test_rejection_rate_counts_failed_gates_of_the_last_cycles():
    history = _history()
    assert lt.rejection_rate(history, 10) == 0.0
    assert math.isnan(lt.rejection_rate(history.clear(), 10))


def test_lines_and_table_show_blocked_checks_and_decisions():
    timeline = lt.build_timeline(lt.days_frame(DAYS), lt.performance_frame(SCORES))
    line = lt.progress_line(DAYS[1], None)
    assert "BLOCKED: matches_schema" in line and "no retrain" in line
    table = lt.format_timeline(timeline)
    assert "BLOCKED schema" in table and "retrain (drift)" in table
    assert len([row for row in table.splitlines() if "2026-01-0" in row]) == len(DAYS)
