"""Ingest and validation throughput beside a hand-written polars pass over the same data.

The validated layer keeps Pandera as the schema and the source of failure cases, and the target is
validation within 3x of the practical limit: one hand-written polars pass computing the same
checks in the same process. This script measures, for partitions of 100k and 1M rows, clean and
with ~1% bad rows plus ~1% duplicated primary keys:

- hand_written: one polars pass over the typed frame (contract rules and primary-key uniqueness),
  the baseline; hand_written_rules_only drops the uniqueness count, a stricter reference;
- platform_validate: `validate_rows` (fused rules, Pandera on the failing rows, de-duplication);
- pandera_full: plain Pandera over the whole frame, the naive approach;
- ingest_conform: `conform_file` typing a frame as read from Parquet (and from CSV as text, 100k);
- end_to_end: `run_raw_step` + `run_validated_step` into a temporary Delta lake.

Each case is warmed up once, then the median of k timed repeats is reported, with rows per second
and the ratio to hand_written on the same data. Results also go to bench_results/ as JSON.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import date
from itertools import count
from pathlib import Path

import deltalake
import numpy as np
import pandera
import pandera.errors
import polars as pl

from retrain_platform.contracts import DEFAULT_CONTRACT_PATH, DatasetContract, load_contract
from retrain_platform.contracts.pandera_schema import to_pandera_schema
from retrain_platform.core import platform_columns as pc
from retrain_platform.core.ingest.landing import LandingFile
from retrain_platform.core.ingest.raw_layer import run_raw_step
from retrain_platform.core.ingest.rows import conform_file
from retrain_platform.core.synthetic import generate_day
from retrain_platform.core.validate.layer import run_validated_step
from retrain_platform.core.validate.rows import validate_rows

DAY = date(2026, 3, 1)
PARTITION_KEY = "2026-03-01"
SEED = 1
SIZES = (100_000, 1_000_000)
REPEATS = {100_000: 7, 1_000_000: 5}
END_TO_END_REPEATS = 3
CSV_SIZES = (100_000,)
BAD_SHARE = 0.01
RANGE_COLUMN = "amount"
CATEGORY_COLUMN = "channel"
OUTSIDE_CATEGORY = "carrier-pigeon"
RESULTS_PATH = Path("bench_results") / "ingest_validate.json"
BASELINE = "hand_written"

Run = Callable[[], object]


@dataclass(frozen=True)
class Variant:
    """One data set a case runs on: the landed frame and its typed (raw-layer) form."""

    name: str
    rows: int
    landed: pl.DataFrame
    typed: pl.DataFrame
    parquet: LandingFile
    bad_pct: float
    dup_pct: float


@dataclass(frozen=True)
class Result:
    case: str
    data: str
    rows: int
    bad_rows_pct: float
    duplicate_rows_pct: float
    repeats: int
    median_ms: float
    rows_per_s: float
    ratio_vs_hand_written: float
    times_ms: list[float]


# --- data ----------------------------------------------------------------------------------------


def with_bad_rows(frame: pl.DataFrame, contract: DatasetContract, seed: int) -> pl.DataFrame:
    """~1% of rows breaking a rule (half a range, half a category) and ~1% duplicated keys."""
    n = frame.height
    per_rule = max(1, int(n * BAD_SHARE / 2))
    n_dup = max(1, int(n * BAD_SHARE))
    picked = np.random.default_rng(seed).permutation(n)
    below, outside = picked[:per_rule], picked[per_rule : 2 * per_rule]
    dup_rows = picked[2 * per_rule : 2 * per_rule + n_dup]
    dup_sources = picked[2 * per_rule + n_dup : 2 * per_rule + 2 * n_dup]
    low = contract.column(RANGE_COLUMN).min
    if low is None:
        msg = f"{RANGE_COLUMN!r} has no minimum in {contract.source_path}"
        raise ValueError(msg)
    key = contract.primary_key[0]
    return frame.with_columns(
        frame.get_column(RANGE_COLUMN).scatter(below, low - 1),
        frame.get_column(CATEGORY_COLUMN).scatter(outside, OUTSIDE_CATEGORY),
        frame.get_column(key).scatter(dup_rows, frame.get_column(key).gather(dup_sources)),
    )


def landing_file(path: Path) -> LandingFile:
    stat = path.stat()
    return LandingFile(path.name, path, stat.st_size, stat.st_mtime_ns)


def typed_rows(landed: pl.DataFrame, file: LandingFile, contract: DatasetContract) -> pl.DataFrame:
    """The raw-layer rows of one file, ordered as `ingest_partitions` orders them."""
    rows = conform_file(landed, file, contract).rows
    return rows.sort([pc.PARTITION, pc.INGESTED_AT, pc.SOURCE_FILE, pc.SOURCE_ROW])


def make_variant(
    name: str, frame: pl.DataFrame, contract: DatasetContract, landing_dir: Path
) -> Variant:
    landing_dir.mkdir(parents=True, exist_ok=True)
    path = landing_dir / f"{contract.dataset}-{PARTITION_KEY}.parquet"
    frame.write_parquet(path)
    file = landing_file(path)
    landed = pl.read_parquet(path)
    typed = typed_rows(landed, file, contract)
    invalid, duplicates = hand_written_counts(typed, contract)
    return Variant(
        name,
        frame.height,
        landed,
        typed,
        file,
        bad_pct=100 * invalid / typed.height,
        dup_pct=100 * duplicates / typed.height,
    )


# --- the cases -----------------------------------------------------------------------------------


def hand_written_rules(contract: DatasetContract) -> pl.Expr:
    """True where a row passes every column rule of the contract, written out by hand."""
    checks: list[pl.Expr] = []
    for col in contract.columns:
        value = pl.col(col.name)
        if not col.nullable:
            checks.append(value.is_not_null())
        if col.min is not None:
            checks.append((value >= col.min).fill_null(True))
        if col.max is not None:
            checks.append((value <= col.max).fill_null(True))
        if col.categories is not None:
            checks.append(value.is_in(list(col.categories)).fill_null(True))
        if col.dtype.startswith("float"):
            checks.append(~value.is_nan().fill_null(False))
    return pl.all_horizontal(checks)


def hand_written(frame: pl.DataFrame, contract: DatasetContract) -> pl.DataFrame:
    """Baseline: one polars select, the row mask of the contract rules and the duplicate-key count.

    Uniqueness is counted with `n_unique`, the cheapest exact test polars offers for it; the
    count is broadcast beside the mask so both are computed in the same pass.
    """
    key = list(contract.primary_key)
    distinct = (pl.col(key[0]) if len(key) == 1 else pl.struct(key)).n_unique()
    return frame.select(
        hand_written_rules(contract).alias("ok"), (pl.len() - distinct).alias("duplicates")
    )


def hand_written_counts(frame: pl.DataFrame, contract: DatasetContract) -> tuple[int, int]:
    """(rows breaking a rule, rows beyond the first for each primary key)."""
    checked = hand_written(frame, contract)
    return frame.height - checked.get_column("ok").sum(), checked.item(0, "duplicates")


def pandera_full(frame: pl.DataFrame, contract: DatasetContract) -> int:
    """Plain Pandera over the whole frame; returns the number of failure cases."""
    try:
        to_pandera_schema(contract).validate(frame, lazy=True)
    except pandera.errors.SchemaErrors as exc:
        return exc.failure_cases.height
    return 0


def end_to_end(contract: DatasetContract, landing_dir: Path, root: Path) -> None:
    """The raw step then the validated step for one partition, into a fresh lake under `root`."""
    lake = root / "lake"
    raw_uri = str(lake / "raw" / contract.dataset)
    quarantine_uri = str(lake / "quarantine" / contract.dataset)
    run_raw_step(
        contract,
        [PARTITION_KEY],
        landing_dir=landing_dir,
        rejected_dir=root / "rejected",
        index_dir=root / "index",
        raw_uri=raw_uri,
        quarantine_uri=quarantine_uri,
    )
    run_validated_step(
        contract,
        PARTITION_KEY,
        raw_uri=raw_uri,
        validated_uri=str(lake / "validated" / contract.dataset),
        quarantine_uri=quarantine_uri,
    )


# --- timing --------------------------------------------------------------------------------------


def timings_ms(prepare: Callable[[], Run], repeats: int) -> list[float]:
    """Warm up once, then time `repeats` runs; `prepare` (untimed) returns the run to time."""
    prepare()()
    times = []
    for _ in range(repeats):
        run = prepare()
        start = time.perf_counter()
        run()
        times.append((time.perf_counter() - start) * 1000)
    return times


def constant(run: Run) -> Callable[[], Run]:
    return lambda: run


def check_agreement(variant: Variant, contract: DatasetContract) -> None:
    """The platform must set aside exactly the rows the hand-written pass flags."""
    expected = hand_written_counts(variant.typed, contract)
    result = validate_rows(variant.typed, contract)
    found = (result.quarantine.height, result.duplicates.height)
    if found != expected:
        msg = (
            f"{variant.name}/{variant.rows}: validate_rows set aside {found} rows "
            f"(failing, duplicate), the hand-written pass flags {expected}"
        )
        raise RuntimeError(msg)


def cases(
    variant: Variant, contract: DatasetContract, scratch: Path
) -> list[tuple[str, Callable[[], Run], int]]:
    """(case, prepare, repeats) for one data variant."""
    typed, repeats = variant.typed, REPEATS[variant.rows]
    out: list[tuple[str, Callable[[], Run], int]] = [
        (BASELINE, constant(lambda: hand_written_counts(typed, contract)), repeats),
        (
            "hand_written_rules_only",
            constant(lambda: typed.select(hand_written_rules(contract))),
            repeats,
        ),
        ("platform_validate", constant(lambda: validate_rows(typed, contract)), repeats),
        ("pandera_full", constant(lambda: pandera_full(typed, contract)), repeats),
        (
            "ingest_conform_parquet",
            constant(lambda: conform_file(variant.landed, variant.parquet, contract)),
            repeats,
        ),
    ]
    if variant.rows in CSV_SIZES:
        csv_path = scratch / f"{contract.dataset}-{PARTITION_KEY}.csv"
        variant.landed.write_csv(csv_path)
        csv_file = landing_file(csv_path)
        text = pl.read_csv(csv_path, infer_schema=False)
        out.append(
            (
                "ingest_conform_csv_text",
                constant(lambda: conform_file(text, csv_file, contract)),
                repeats,
            )
        )
    runs = count()

    def fresh_lake() -> Run:
        root = scratch / f"e2e-{next(runs)}"
        return lambda: end_to_end(contract, variant.parquet.path.parent, root)

    out.append(("end_to_end", fresh_lake, END_TO_END_REPEATS))
    return out


def bench_variant(variant: Variant, contract: DatasetContract, scratch: Path) -> list[Result]:
    check_agreement(variant, contract)
    results: list[Result] = []
    baseline_ms = 0.0
    for case, prepare, repeats in cases(variant, contract, scratch):
        times = timings_ms(prepare, repeats)
        median = statistics.median(times)
        baseline_ms = median if case == BASELINE else baseline_ms
        results.append(
            Result(
                case,
                variant.name,
                variant.rows,
                round(variant.bad_pct, 3),
                round(variant.dup_pct, 3),
                repeats,
                round(median, 3),
                round(variant.rows / (median / 1000)),
                round(median / baseline_ms, 2),
                [round(t, 3) for t in times],
            )
        )
        print(f"  {variant.name:>7} {variant.rows:>9,} {case:<24} {median:10.1f} ms", flush=True)
    return results


# --- report --------------------------------------------------------------------------------------


def machine() -> dict[str, object]:
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "polars_threads": pl.thread_pool_size(),
        "polars": pl.__version__,
        "pandera": pandera.__version__,
        "deltalake": deltalake.__version__,
    }


def print_table(results: list[Result]) -> None:
    header = (
        f"{'case':<24} {'data':>7} {'rows':>10} {'bad rows (%)':>18} {'median ms':>10} "
        f"{'rows/s (M)':>10} {'vs hand':>8}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        bad = f"{r.bad_rows_pct:.2f} +{r.duplicate_rows_pct:.2f} dup"
        print(
            f"{r.case:<24} {r.data:>7} {r.rows:>10,} {bad:>18} {r.median_ms:>10.1f} "
            f"{r.rows_per_s / 1e6:>10.2f} {r.ratio_vs_hand_written:>7.2f}x"
        )


def main() -> int:
    contract = load_contract(DEFAULT_CONTRACT_PATH)
    info = machine()
    print("ingest + validate throughput  " + "  ".join(f"{k}={v}" for k, v in info.items()))
    print("bad rows (%): rows breaking a contract rule + extra rows of a duplicated primary key")
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="bench-ingest-validate-") as tmp:
        for rows in SIZES:
            clean = generate_day(contract, DAY, rows=rows, seed=SEED)
            for name, frame in (("clean", clean), ("1% bad", with_bad_rows(clean, contract, SEED))):
                scratch = Path(tmp) / f"{rows}-{name.replace('% ', '-')}"
                variant = make_variant(name, frame, contract, scratch / "landing")
                results += bench_variant(variant, contract, scratch)
    print()
    print_table(results)
    RESULTS_PATH.parent.mkdir(parents=True, exist_ok=True)
    RESULTS_PATH.write_text(
        json.dumps({"machine": info, "results": [asdict(r) for r in results]}, indent=2)
    )
    print(f"\nwrote {RESULTS_PATH}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
