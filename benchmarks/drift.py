"""Drift scoring time: Evidently's PSI preset beside the platform's numpy fast path.

Retraining triggers read drift numbers on every partition, so they come from the fast path in
`retrain_platform.core.monitoring.drift` (the same PSI and KS definitions as Evidently) while
the Evidently
report is produced off the critical path. This script measures both on:

- wide: 100k x 20 float columns (3 shifted, 1 rescaled), reference and current 100k rows each;
- contract: the default contract's drift features on 100k synthetic rows per side, the current
  side with covariate drift.

Cases: `evidently` runs the PSI preset and saves the HTML report (`evidently_report`);
`fast_cached` is `drift_summary` against an already built profile (the per-champion cache hit);
`fast_with_build` also builds the profile (cache miss). Row caps are set above the frame sizes
so all paths see the same rows; `fast_capped` uses the policy's cap (sampling both sides). The
median of repeated runs is printed with the ratio to Evidently and the largest PSI difference.

Run: `python -m benchmarks.drift`
"""

from __future__ import annotations

import statistics
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import numpy as np
import polars as pl

from retrain_platform.contracts import DEFAULT_CONTRACT_PATH, load_contract
from retrain_platform.core.monitoring import drift
from retrain_platform.core.synthetic import DriftSpec, generate_day

ROWS = 100_000
WIDE_COLUMNS = 20
SEED = 1
EVIDENTLY_REPEATS = 2
FAST_REPEATS = 5


@dataclass(frozen=True)
class Data:
    name: str
    reference: pl.DataFrame
    current: pl.DataFrame
    numeric: list[str]
    categorical: list[str]


def wide_data() -> Data:
    rng = np.random.default_rng(SEED)
    names = [f"f{i}" for i in range(WIDE_COLUMNS)]
    reference = pl.DataFrame({n: rng.normal(size=ROWS) for n in names})
    current = {n: rng.normal(size=ROWS) for n in names}
    for n in names[:3]:
        current[n] = current[n] + 0.5
    current[names[3]] = current[names[3]] * 2.0
    return Data("wide 100k x 20", reference, pl.DataFrame(current), names, [])


def contract_data() -> Data:
    contract = load_contract(DEFAULT_CONTRACT_PATH)
    numeric, categorical = drift.drift_features(contract)
    start = contract.partitioning.start
    spec = DriftSpec(start + timedelta(days=1), kind="covariate")
    reference = generate_day(contract, start, rows=ROWS, seed=SEED)
    current = generate_day(contract, start + timedelta(days=2), rows=ROWS, seed=SEED, drift=spec)
    name = f"contract 100k x {len(numeric) + len(categorical)}"
    return Data(name, reference, current, numeric, categorical)


def median_seconds(run: Callable[[], object], repeats: int) -> float:
    run()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def summarise(data: Data, profile: drift.ReferenceProfile, row_cap: int) -> drift.DriftSummary:
    return drift.drift_summary(
        data.current, profile, row_cap=row_cap, seed=SEED, psi_threshold=0.25, ks_threshold=0.2
    )


def build(data: Data, row_cap: int) -> drift.ReferenceProfile:
    return drift.build_reference_profile(
        data.reference, data.numeric, data.categorical, row_cap=row_cap, seed=SEED
    )


def evidently(data: Data, html: Path) -> dict:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return drift.evidently_report(
            data.current, data.reference, data.numeric, data.categorical, html
        )


def bench(data: Data, scratch: Path, policy_cap: int) -> list[tuple[str, float]]:
    uncapped = max(data.reference.height, data.current.height)
    profile = build(data, uncapped)
    capped_profile = build(data, policy_cap)
    report = evidently(data, scratch / "drift.html")
    summary = summarise(data, profile, uncapped)
    gap = max(abs(f.psi - report["columns"][f.name]["score"]) for f in summary.features)
    print(f"{data.name}: max |PSI fast - PSI Evidently| = {gap:.2e}", flush=True)
    return [
        (
            "evidently",
            median_seconds(lambda: evidently(data, scratch / "drift.html"), EVIDENTLY_REPEATS),
        ),
        ("fast_cached", median_seconds(lambda: summarise(data, profile, uncapped), FAST_REPEATS)),
        (
            "fast_with_build",
            median_seconds(lambda: summarise(data, build(data, uncapped), uncapped), FAST_REPEATS),
        ),
        (
            f"fast_capped_{policy_cap // 1000}k",
            median_seconds(lambda: summarise(data, capped_profile, policy_cap), FAST_REPEATS),
        ),
    ]


def print_table(rows: list[tuple[str, str, float, float]]) -> None:
    header = f"{'data':<22} {'case':<18} {'median s':>9} {'x faster than evidently':>24}"
    print(header)
    print("-" * len(header))
    for data, case, seconds, baseline in rows:
        print(f"{data:<22} {case:<18} {seconds:>9.3f} {baseline / seconds:>24.1f}")


def main() -> int:
    policy_cap = load_contract(DEFAULT_CONTRACT_PATH).policy.drift_row_cap
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        for data in (wide_data(), contract_data()):
            results = bench(data, Path(scratch), policy_cap)
            baseline = results[0][1]
            rows += [(data.name, case, seconds, baseline) for case, seconds in results]
    print()
    print_table(rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
