"""A drift report covers the model when each feature is in its table or listed as left out."""

from retrain_platform.core.monitoring.drift_coverage import check_coverage


def test_a_feature_neither_reported_nor_left_out_fails_coverage():
    covered = check_coverage(["a", "b", "c"], reported=["a", "score"], left_out=["b", "c"])
    assert covered.passed and covered.metadata["missing"] == []
    skipped = check_coverage(["a", "b", "c"], reported=["a"], left_out=["b"])
    assert not skipped.passed and skipped.metadata["missing"] == ["c"]
