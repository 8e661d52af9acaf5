"""The drift fast path: PSI and KS equal to Evidently's, drift flagged, sampling, profile files."""

from __future__ import annotations

import math
import warnings
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from scipy import stats

from retrain_platform.contracts import DEFAULT_CONTRACT_PATH, load_contract
from retrain_platform.core.monitoring import drift
from retrain_platform.core.monitoring.drift_table import drift_table
from retrain_platform.core.synthetic import DriftSpec, generate_day

CONTRACT = load_contract(DEFAULT_CONTRACT_PATH)
POLICY = CONTRACT.policy
NUMERIC, CATEGORICAL = drift.drift_features(CONTRACT)
START = CONTRACT.partitioning.start
SEED = 7
CONTRACT_ROWS = 12_000
# PSI sums the same terms as Evidently; categorical bins may be summed in another order.
PSI_TOLERANCE = 1e-12
KS_TOLERANCE = 1e-12
CATEGORIES = ("a", "b", "c", "d", "e")


def _generic_frames(rows: int, seed: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Reference and current frames covering every binning path, stationary and shifted."""
    rng = np.random.default_rng(seed)

    def frame(shifted: bool) -> pl.DataFrame:
        k = 1.0 if shifted else 0.0
        gappy = rng.normal(size=rows)
        gappy[rng.random(rows) < 0.1 + 0.2 * k] = np.nan
        gappy[:3] = [np.inf, -np.inf, np.nan]
        cat_p = [0.4, 0.3, 0.2, 0.1, 0.0] if not shifted else [0.2, 0.2, 0.2, 0.0, 0.4]
        columns: dict[str, Any] = {
            "num_stable": rng.normal(size=rows),
            "num_shifted": rng.normal(0.4 * k, 1.0, rows),
            "num_rescaled": rng.normal(0.0, 1.0 + k, rows),
            "num_lognormal": rng.lognormal(0.0, 1.0 + 0.3 * k, rows),
            "num_discrete": rng.integers(0, 8 + 4 * int(k), rows),
            "num_gappy": gappy,
            "cat_stable": rng.choice(CATEGORIES[:3], rows),
            "cat_shifted": rng.choice(CATEGORIES, rows, p=cat_p),
        }
        frame = pl.DataFrame(columns)
        with_nulls = pl.when(pl.Series(rng.random(rows) < 0.05)).then(None)
        return frame.with_columns(
            with_nulls.otherwise(pl.col("num_discrete")).alias("num_discrete"),
            with_nulls.otherwise(pl.col("cat_stable")).alias("cat_stable"),
        )

    return frame(False), frame(True)


GENERIC_NUMERIC = [f"num_{s}" for s in ("stable", "shifted", "rescaled", "lognormal", "discrete")]
GENERIC_NUMERIC.append("num_gappy")
GENERIC_CATEGORICAL = ["cat_stable", "cat_shifted"]


def _contract_frames(drifted: bool) -> tuple[pl.DataFrame, pl.DataFrame]:
    spec = DriftSpec(START + timedelta(days=1), kind="covariate") if drifted else None
    reference = generate_day(CONTRACT, START, rows=CONTRACT_ROWS, seed=SEED)
    current = generate_day(
        CONTRACT, START + timedelta(days=3), rows=CONTRACT_ROWS, seed=SEED, drift=spec
    )
    return reference, current


def _summary(
    reference: pl.DataFrame,
    current: pl.DataFrame,
    numeric: list[str],
    categorical: list[str],
    *,
    row_cap: int = POLICY.drift_row_cap,
    seed: int = 0,
) -> drift.DriftSummary:
    profile = drift.build_reference_profile(
        reference, numeric, categorical, row_cap=row_cap, seed=seed
    )
    return _summary_of(current, profile, row_cap=row_cap, seed=seed)


def _summary_of(
    current: pl.DataFrame, profile: drift.ReferenceProfile, *, row_cap: int, seed: int
) -> drift.DriftSummary:
    return drift.drift_summary(
        current,
        profile,
        row_cap=row_cap,
        seed=seed,
        psi_threshold=POLICY.drift_psi_threshold,
        ks_threshold=POLICY.drift_ks_threshold,
    )


def _evidently(
    reference: pl.DataFrame,
    current: pl.DataFrame,
    numeric: list[str],
    categorical: list[str],
    html: Path,
    method: str,
) -> dict[str, Any]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return drift.evidently_report(current, reference, numeric, categorical, html, method=method)


CASES = {
    "generic-5k": lambda: (*_generic_frames(5_000, 1), GENERIC_NUMERIC, GENERIC_CATEGORICAL),
    "generic-15k": lambda: (*_generic_frames(15_000, 2), GENERIC_NUMERIC, GENERIC_CATEGORICAL),
    "contract-stationary": lambda: (*_contract_frames(False), NUMERIC, CATEGORICAL),
    "contract-covariate": lambda: (*_contract_frames(True), NUMERIC, CATEGORICAL),
}


@pytest.fixture(scope="module", params=list(CASES))
def psi_case(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    reference, current, numeric, categorical = CASES[request.param]()
    html = tmp_path_factory.mktemp("drift") / f"{request.param}.html"
    report = _evidently(reference, current, numeric, categorical, html, "psi")
    return _summary(reference, current, numeric, categorical), report, html


def test_fast_psi_equals_evidently(psi_case) -> None:
    summary, report, _ = psi_case
    assert {f.name for f in summary.features} == set(report["columns"])
    for feature in summary.features:
        expected = report["columns"][feature.name]
        assert expected["method"] == "psi"
        assert feature.psi == pytest.approx(expected["score"], rel=PSI_TOLERANCE, abs=PSI_TOLERANCE)


def test_evidently_html_report_is_written(psi_case) -> None:
    _, report, html = psi_case
    assert report["html_path"] == str(html)
    assert html.stat().st_size > 0
    assert html.read_text(errors="replace").lstrip().lower().startswith("<!doctype html")


@pytest.mark.parametrize("case", ["generic-5k", "contract-covariate"])
def test_fast_ks_equals_scipy_and_evidently(case: str, tmp_path: Path) -> None:
    reference, current, numeric, categorical = CASES[case]()
    summary = _summary(reference, current, numeric, categorical)
    report = _evidently(reference, current, numeric, [], tmp_path / "ks.html", "ks")
    for feature in (f for f in summary.features if f.kind == "numeric"):
        ref, cur = (_finite(frame[feature.name]) for frame in (reference, current))
        expected = stats.ks_2samp(ref, cur)
        assert feature.ks_statistic == pytest.approx(expected.statistic, rel=KS_TOLERANCE)
        assert feature.ks_pvalue == pytest.approx(expected.pvalue, rel=KS_TOLERANCE, abs=1e-300)
        evidently_pvalue = report["columns"][feature.name]["score"]
        assert feature.ks_pvalue == pytest.approx(evidently_pvalue, rel=KS_TOLERANCE, abs=1e-300)


def _finite(series: pl.Series) -> np.ndarray:
    values = series.cast(pl.Float64).to_numpy()
    return values[np.isfinite(values)]


def test_covariate_drift_is_flagged_and_stationary_days_are_not() -> None:
    stationary = _summary(*_contract_frames(False), NUMERIC, CATEGORICAL)
    drifted = _summary(*_contract_frames(True), NUMERIC, CATEGORICAL)
    assert stationary.max_psi < POLICY.drift_psi_threshold
    assert not stationary.drifted and stationary.drift_share == 0.0
    assert drifted.max_psi > POLICY.drift_psi_threshold
    assert drifted.drifted and 0.0 < drifted.drift_share < 1.0
    assert drifted.max_psi_feature in drifted.drifted_features


def test_sampling_above_the_cap_is_deterministic_and_recorded() -> None:
    reference, current = _contract_frames(True)
    cap = CONTRACT_ROWS // 4
    first = _summary(reference, current, NUMERIC, CATEGORICAL, row_cap=cap, seed=11)
    again = _summary(reference, current, NUMERIC, CATEGORICAL, row_cap=cap, seed=11)
    other = _summary(reference, current, NUMERIC, CATEGORICAL, row_cap=cap, seed=12)
    assert first == again
    assert first.as_metadata() == again.as_metadata()
    assert first.reference_rows == first.current_rows == cap
    assert first.as_metadata()["reference_sample_rows"] == cap
    assert first.as_metadata()["current_sample_rows"] == cap
    assert first.as_metadata() != other.as_metadata()
    assert first.reference_fingerprint != other.reference_fingerprint


def test_profile_round_trip_gives_identical_summaries(tmp_path: Path) -> None:
    reference, current = _contract_frames(True)
    cap = CONTRACT_ROWS // 2
    profile = drift.build_reference_profile(reference, NUMERIC, CATEGORICAL, row_cap=cap, seed=3)
    path = tmp_path / "cache" / f"{profile.fingerprint}.npz"
    drift.save_profile(profile, path)
    loaded = drift.load_profile(path)
    assert loaded.fingerprint == profile.fingerprint
    assert loaded.fingerprint == drift.reference_fingerprint(
        reference, NUMERIC, CATEGORICAL, row_cap=cap, seed=3
    )
    assert (loaded.rows, loaded.sample_rows) == (CONTRACT_ROWS, cap)
    assert _summary_of(current, loaded, row_cap=cap, seed=3) == _summary_of(
        current, profile, row_cap=cap, seed=3
    )


def test_nulls_are_dropped_and_their_share_recorded() -> None:
    reference, current = _generic_frames(5_000, 4)
    emptied = current.with_columns(pl.lit(None, dtype=pl.Float64).alias("num_stable"))
    summary = _summary(reference, emptied, GENERIC_NUMERIC, GENERIC_CATEGORICAL)
    features = {f.name: f for f in summary.features}
    assert math.isnan(features["num_stable"].psi) and not features["num_stable"].drifted
    assert features["num_stable"].null_share_change == 1.0
    assert features["num_gappy"].current_null_share > features["num_gappy"].reference_null_share
    metadata = summary.as_metadata()
    assert metadata["unscored_features"] == 1 and metadata["scored_features"] == 7
    assert metadata["drift_share"] == metadata["n_drifted"] / 7
    assert not any(key.startswith("psi.") for key in metadata)
    (row,) = (r for r in drift_table(summary) if r["column"] == "num_stable")
    assert row["status"] == "unscored" and row["psi"] is None and row["null_share_change"] == 1.0
    assert all(isinstance(v, int | float) and math.isfinite(v) for v in metadata.values())


def test_prediction_drift() -> None:
    rng = np.random.default_rng(5)
    reference = rng.beta(2, 8, 40_000)
    same = rng.beta(2, 8, 30_000)
    shifted = rng.beta(3, 6, 30_000)
    stable = drift.prediction_drift(same, reference, ks_threshold=POLICY.drift_ks_threshold)
    moved = drift.prediction_drift(shifted, reference, ks_threshold=POLICY.drift_ks_threshold)
    assert not stable.drifted and moved.drifted
    expected = stats.ks_2samp(reference, shifted)
    assert moved.ks_statistic == pytest.approx(expected.statistic, rel=KS_TOLERANCE)
    assert moved.ks_pvalue == pytest.approx(expected.pvalue, rel=KS_TOLERANCE, abs=1e-300)
    assert moved.psi > stable.psi
    capped = drift.prediction_drift(shifted, reference, ks_threshold=0.2, row_cap=10_000, seed=1)
    assert (capped.reference_rows, capped.current_rows) == (10_000, 10_000)
    assert capped == drift.prediction_drift(
        shifted, reference, ks_threshold=0.2, row_cap=10_000, seed=1
    )


@pytest.mark.parametrize(
    "sizes", [(12_000, 30_000), (30_000, 12_000), (800, 3_000), (2_000, 48), (48, 7)]
)
def test_ks_test_matches_scipy_with_ties_and_unequal_sizes(sizes: tuple[int, int]) -> None:
    rng = np.random.default_rng(sum(sizes))
    reference = np.sort(rng.integers(0, 40, sizes[0]).astype(np.float64))
    current = np.sort(np.round(rng.normal(20.5, 11.0, sizes[1])))
    expected = stats.ks_2samp(reference, current)
    statistic, pvalue = drift.ks_test(reference, current)
    assert statistic == expected.statistic
    assert pvalue == pytest.approx(expected.pvalue, rel=KS_TOLERANCE, abs=1e-300)
    assert drift.ks_test(reference, current, pvalue=False) == (expected.statistic, None)


def test_a_feature_with_too_few_present_values_is_not_scored():
    """A sparse feature's PSI over a dozen values swings past any threshold on calm data."""
    rng = np.random.default_rng(SEED)

    def frame(rows: int, present: int) -> pl.DataFrame:
        sparse = np.full(rows, np.nan)
        sparse[:present] = rng.lognormal(3.0, 1.5, present)
        return pl.DataFrame({"dense": rng.normal(size=rows), "sparse": sparse})

    reference, current = frame(5_000, 60), frame(1_500, 12)
    profile = drift.build_reference_profile(
        reference, ["dense", "sparse"], [], row_cap=50_000, seed=1
    )
    rules = {"row_cap": 50_000, "seed": 1, "psi_threshold": 0.25, "ks_threshold": 0.2}
    noisy = drift.drift_summary(current, profile, **rules)
    assert "sparse" in noisy.scored_features  # without a minimum the handful is scored
    guarded = drift.drift_summary(current, profile, **rules, min_values=POLICY.drift_min_values)
    assert guarded.scored_features == ["dense"]
    assert not guarded.drifted and guarded.as_metadata()["unscored_features"] == 1
    rows = {row["column"]: row for row in drift_table(guarded)}
    assert rows["sparse"]["status"] == "unscored"
