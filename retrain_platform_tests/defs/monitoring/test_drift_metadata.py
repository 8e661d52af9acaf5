"""The drift report's metadata: Evidently's verdicts are the metadata's, a few plotted numbers,
one table, a link.

The agreement test runs the functions the drift asset runs (`drift_entries` for the metadata,
`evidently_report` with the asset's arguments, `evidently_entries`) on generated partitions that
do and do not drift, and compares Evidently's snapshot verdicts with the metadata: the drifted
columns, the dataset verdict, and the sentence the HTML shows.
"""

from __future__ import annotations

import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import numpy as np
import pytest

from retrain_platform.core.monitoring import drift
from retrain_platform.core.monitoring.drift_prediction import PREDICTION_COLUMN
from retrain_platform.core.monitoring.reference import profile_frame
from retrain_platform.core.synthetic import DriftSpec, generate_day
from retrain_platform.defs.monitoring import metadata as mon
from retrain_platform.defs.monitoring.drift_metadata import (
    REPORTS_URL_ENV_VAR,
    drift_entries,
    drift_report_path,
    evidently_entries,
    report_link,
)

ROWS = 12_000
ROW_CAP = 8_000  # below the partition's rows: both sides sampled, as on a large partition
SEED = 0


def _partition(contract, features_drift: bool, scores_drift: bool):
    """(summary, prediction, Evidently's inputs) for one generated partition."""
    start = contract.partitioning.start
    numeric, categorical = drift.drift_features(contract)
    spec = DriftSpec(start + timedelta(days=1), kind="covariate") if features_drift else None
    reference = generate_day(contract, start, rows=ROWS, seed=7)
    current = generate_day(contract, start + timedelta(days=3), rows=ROWS, seed=7, drift=spec)
    profile = drift.build_reference_profile(
        reference, numeric, categorical, row_cap=ROW_CAP, seed=SEED
    )
    policy = contract.policy
    summary = drift.drift_summary(
        current, profile, row_cap=ROW_CAP, seed=SEED,
        psi_threshold=policy.drift_psi_threshold, ks_threshold=policy.drift_ks_threshold,
    )  # fmt: skip
    sample = drift.sample_rows(current, ROW_CAP, SEED)
    rng = np.random.default_rng(9)
    reference_scores = rng.beta(2, 8, profile.sample_rows)
    current_scores = (
        rng.beta(3, 6, sample.height) if scores_drift else rng.beta(2, 8, sample.height)
    )
    prediction = drift.prediction_drift(
        current_scores, reference_scores, ks_threshold=policy.drift_ks_threshold
    )
    scores = drift.ScoreDrift(current_scores, reference_scores, policy.drift_ks_threshold)
    return summary, prediction, (sample, profile, scores)


def _rows(entries) -> list[dict]:
    return [record.data for record in entries[mon.DRIFT_TABLE].records]


@pytest.mark.parametrize(
    ("features_drift", "scores_drift"),
    [(False, False), (True, True), (False, True)],
    ids=["calm", "covariate-drift", "prediction-drift-only"],
)
def test_evidently_verdicts_are_the_metadata_verdicts(
    contract, features_drift: bool, scores_drift: bool, tmp_path: Path
) -> None:
    summary, prediction, (sample, profile, scores) = _partition(
        contract, features_drift, scores_drift
    )
    entries, drifted_columns = drift_entries(summary, prediction)
    assert entries[mon.DRIFTED] is (features_drift or scores_drift)
    html = tmp_path / "report.html"
    scored = set(summary.scored_features)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = drift.evidently_report(  # as the drift asset calls it
            sample,
            profile_frame(profile),
            [name for name in profile.numeric if name in scored],
            [name for name in profile.categorical if name in scored],
            html,
            method="psi",
            threshold=contract.policy.drift_psi_threshold,
            scores=scores,
        )
    rows = _rows(entries)
    table_drifted = sorted(r["column"] for r in rows if r["drifted"])
    assert table_drifted == drifted_columns
    assert sorted(entries[mon.DRIFTED_FEATURES].value) == [
        c for c in table_drifted if c != PREDICTION_COLUMN
    ]
    # Evidently's own verdicts, read from its snapshot (its tests' statuses)
    assert result["drifted_columns"] == table_drifted
    assert result["dataset_drift"] is entries[mon.DRIFTED]
    assert set(result["columns"]) == {r["column"] for r in rows if r["status"] in ("ok", "drifted")}
    for row in rows:
        column = result["columns"][row["column"]]
        assert column["threshold"] == row["threshold"]
        score = row["ks_stat"] if row["column"] == PREDICTION_COLUMN else row["psi"]
        assert column["score"] == pytest.approx(score, rel=1e-12, abs=1e-12)
    # ... and the sentence its HTML shows
    verdict = "detected" if entries[mon.DRIFTED] else "NOT detected"
    assert f"Dataset Drift is {verdict}. Dataset drift detection threshold is" in html.read_text(
        errors="replace"
    )
    recorded = evidently_entries(
        result, drifted=entries[mon.DRIFTED], drifted_columns=drifted_columns, seconds=1.0,
        rows=sample.height,
    )  # fmt: skip
    assert recorded[mon.EVIDENTLY_AGREES] is True
    assert recorded[mon.EVIDENTLY].value["drifted_columns"] == table_drifted


def test_evidently_disagreement_is_flagged(contract, tmp_path: Path) -> None:
    summary, prediction, _ = _partition(contract, True, True)
    entries, drifted_columns = drift_entries(summary, prediction)
    evidently = {
        "dataset_drift": False, "drifted_columns": [], "drifted_count": 0, "column_count": 9,
        "drift_share": 0.0, "drift_share_threshold": 0.5, "html_path": str(tmp_path / "r.html"),
    }  # fmt: skip
    recorded = evidently_entries(
        evidently, drifted=entries[mon.DRIFTED], drifted_columns=drifted_columns, seconds=0.1,
        rows=1,
    )  # fmt: skip
    assert recorded[mon.EVIDENTLY_AGREES] is False


def test_entries_are_a_few_numbers_and_one_table(contract) -> None:
    summary, prediction, _ = _partition(contract, True, False)
    entries, _ = drift_entries(summary, prediction)
    numbers = [
        k for k, v in entries.items() if isinstance(v, int | float) and not isinstance(v, bool)
    ]
    assert numbers == [
        mon.MAX_PSI, mon.PSI_THRESHOLD, mon.DRIFT_SHARE, mon.N_DRIFTED, mon.PREDICTION_KS,
        mon.PREDICTION_KS_THRESHOLD,
    ]  # fmt: skip
    assert entries[mon.PSI_THRESHOLD] == contract.policy.drift_psi_threshold
    assert entries[mon.PREDICTION_KS_THRESHOLD] == contract.policy.drift_ks_threshold
    rows = _rows(entries)
    assert len(rows) == len(summary.features) + 1 and rows[-1]["column"] == PREDICTION_COLUMN
    drifted = [r for r in rows if r["drifted"]]
    assert drifted == rows[: len(drifted)]  # drifted columns first, highest PSI first
    assert [r["psi"] for r in drifted] == sorted((r["psi"] for r in drifted), reverse=True)
    assert drifted[0]["column"] == entries[mon.MAX_PSI_FEATURE]
    details = entries[mon.DETAILS].value
    assert details["features"] == len(summary.features)
    assert "prediction_ks_pvalue" in details and mon.MAX_PSI not in details


def test_report_is_a_link_when_the_reports_are_served(
    contract, home, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = drift_report_path(contract, "2026-03-01")
    assert path.is_relative_to(home.home / "reports")
    monkeypatch.delenv(REPORTS_URL_ENV_VAR, raising=False)
    assert report_link(path) == dg.MetadataValue.path(str(path))
    monkeypatch.setenv(REPORTS_URL_ENV_VAR, "http://localhost:8800/")
    assert report_link(path) == dg.MetadataValue.url(
        f"http://localhost:8800/drift/{contract.dataset}/2026-03-01.html"
    )


def test_warming_up_features_are_rows_and_silence_the_score(contract) -> None:
    start = contract.partitioning.start
    numeric, categorical = drift.drift_features(contract)
    frame = generate_day(contract, start, rows=2_000, seed=3)
    profile = drift.build_reference_profile(frame, numeric, categorical, row_cap=2_000, seed=0)
    warm = {numeric[0]: datetime(start.year, start.month, start.day, tzinfo=UTC) + timedelta(30)}
    summary = drift.drift_summary(
        frame, profile, row_cap=2_000, seed=0, psi_threshold=0.25, ks_threshold=0.2,
        warming_up=warm,
    )  # fmt: skip
    shifted = drift.prediction_drift(
        np.linspace(0.5, 1.0, 500), np.linspace(0.0, 0.5, 500), ks_threshold=0.2
    )
    entries, drifted_columns = drift_entries(summary, shifted)
    rows = {r["column"]: r for r in _rows(entries)}
    assert rows[numeric[0]]["status"].startswith("warming up") and rows[numeric[0]]["psi"] is None
    assert rows[PREDICTION_COLUMN]["status"] == "warming up"
    assert shifted.drifted and PREDICTION_COLUMN not in drifted_columns
    assert entries[mon.DRIFTED] is False and drifted_columns == []
