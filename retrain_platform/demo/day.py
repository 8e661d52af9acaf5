"""One simulated day of the closed loop: its file lands, the platform runs and decides.

1. the day's file is moved into the landing zone;
2. the landing sensor ticks with its kept cursor and its run requests are executed;
3. the automation conditions are evaluated at the simulated time and what they request runs,
   until nothing more is requested;
4. the retrain sensor ticks and the retrain it requests, if any, runs.

The facts of the day (what landed, failed checks, drift, the decision and the retrain's outcome)
are recorded for the timeline; nothing here decides anything itself.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from retrain_platform.core.deployment.decisions import REASON_TAG, TRIGGER_TAG
from retrain_platform.core.synthetic import GeneratedFile
from retrain_platform.defs.models import run_retrain_cycle
from retrain_platform.demo import timeline as lt
from retrain_platform.demo.driver import LoopDriver, arrival, collect_facts, request_tags


def land(files: Sequence[GeneratedFile], landing: Path) -> None:
    """Move generated files into the landing zone, as their arrival."""
    landing.mkdir(parents=True, exist_ok=True)
    for file in files:
        shutil.move(file.path, landing / file.path.name)


def run_day(
    driver: LoopDriver, file: GeneratedFile, landing: Path, run_config: Mapping[str, Any]
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Land `file` at its arrival time and run the day; its facts and new live scores.

    `run_config` is that of a retrain run, should the retrain sensor request one.
    """
    day_started = time.perf_counter()
    contract = driver.contract
    day = file.day.isoformat()
    driver.clock.set(arrival(contract, day))
    land([file], landing)
    results = [driver.run_landing(r) for r in driver.landing_requests()]
    results += driver.settle()
    facts: dict[str, Any] = {lt.DAY: day, "checks_failed": [], "blocked": False}
    new_scores = collect_facts(contract, day, results, facts)
    tick = driver.retrain_tick()
    _decide(driver, tick, facts, run_config)
    facts["seconds"] = time.perf_counter() - day_started
    return facts, new_scores


def _decide(
    driver: LoopDriver, tick: Any, facts: dict[str, Any], run_config: Mapping[str, Any]
) -> None:
    """Record the retrain sensor's decision and run the retrain it requests, if any."""
    contract = driver.contract
    requests = list(tick.run_requests or [])
    if not requests:
        facts["decision"] = lt.NO_RETRAIN
        facts["reason"] = tick.skip_message
        facts["champion"] = driver.champion()
        return
    (request,) = requests
    facts["decision"] = lt.RETRAIN
    facts["trigger"] = request.tags.get(TRIGGER_TAG)
    facts["reason"] = request.tags.get(REASON_TAG)
    outcome = run_retrain_cycle(
        driver.defs,
        contract,
        driver.instance,
        tags=request_tags(request),
        run_config=run_config,
        clock_at=driver.clock.now,
    )
    facts["retrain_run_id"] = outcome.run_id
    facts["challenger"] = outcome.model_version
    if outcome.gate_passed is not None:
        facts["gate"] = lt.PASSED if outcome.gate_passed else lt.REJECTED
    facts["gate_failures"] = outcome.failures
    facts["champion"] = outcome.champion_version or driver.champion()
