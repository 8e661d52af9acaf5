"""The safe model loader: a registered version from its text model file, its sha256 checked.

Covers `core.models.loading` against a real local MLflow registry (sqlite + files): a good load,
a changed file refused naming both digests, truncated or non-text files refused before LightGBM
parses them, and the registry-URI-only rule. The pickle attack is in
`reliability/test_model_faults.py`.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from retrain_platform.core.models import candidate_runs as runs
from retrain_platform.core.models.loading import (
    MODEL_FILE,
    TAG_MODEL_SHA256,
    ModelIntegrityError,
    check_model_text,
    load_registered_booster,
)
from retrain_platform_tests.fixtures.registry import (
    model_dir,
    register,
    rows,
    small_booster,
    tmp_store,
)

NAME = "loading"


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    store = tmp_store(tmp_path_factory.mktemp("loading"))
    booster = small_booster(seed=3)
    for _ in range(4):
        register(store, NAME, booster)
    return store, booster


def test_a_registered_version_loads_from_its_text_file(registry):
    store, booster = registry
    loaded = load_registered_booster(store, NAME, 1)
    path = model_dir(store, NAME, 1) / MODEL_FILE
    assert loaded.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert loaded.size_bytes == path.stat().st_size and loaded.size_mb > 0
    tags = store.client().get_model_version(NAME, "1").tags
    assert tags[TAG_MODEL_SHA256] == loaded.sha256
    np.testing.assert_array_equal(loaded.booster.predict(rows()), booster.predict(rows()))
    same = runs.load_booster(store, runs.version_uri(NAME, 1))
    np.testing.assert_array_equal(same.predict(rows()), booster.predict(rows()))


def test_a_model_file_changed_after_registration_is_refused_naming_both_digests(registry):
    store, _ = registry
    path = model_dir(store, NAME, 2) / MODEL_FILE
    recorded = store.client().get_model_version(NAME, "2").tags[TAG_MODEL_SHA256]
    text = path.read_text()
    path.write_text(text.replace("leaf_value=", "leaf_value=9", 1))  # still a loadable model
    actual = hashlib.sha256(path.read_bytes()).hexdigest()
    with pytest.raises(ModelIntegrityError) as error:
        load_registered_booster(store, NAME, 2)
    message = str(error.value)
    assert f"model {NAME!r} version 2" in message
    assert recorded in message and actual in message


def test_a_truncated_file_without_a_digest_is_refused_before_lightgbm_parses_it(registry):
    store, _ = registry
    client = store.client()
    client.delete_model_version_tag(NAME, "3", TAG_MODEL_SHA256)
    path = model_dir(store, NAME, 3) / MODEL_FILE
    path.write_bytes(path.read_bytes()[: int(path.stat().st_size * 0.7)])
    with pytest.raises(ModelIntegrityError, match="not a complete LightGBM model file"):
        load_registered_booster(store, NAME, 3)


def test_a_file_that_is_not_text_is_refused(registry):
    store, _ = registry
    store.client().delete_model_version_tag(NAME, "4", TAG_MODEL_SHA256)
    (model_dir(store, NAME, 4) / MODEL_FILE).write_bytes(b"tree\n\xff\xfe\x00binary")
    with pytest.raises(ModelIntegrityError, match="not UTF-8 text"):
        load_registered_booster(store, NAME, 4)


@pytest.mark.parametrize("fraction", [0.0, 0.05, 0.3, 0.5, 0.7, 0.9, 0.95, 0.99, 0.999])
def test_every_truncation_fails_the_shape_check(fraction):
    text = small_booster().model_to_string()
    check_model_text(text, "whole")
    with pytest.raises(ModelIntegrityError, match=r"whole: model\.lgb is not a complete"):
        check_model_text(text[: int(len(text) * fraction)], "whole")


def test_only_registered_version_uris_are_loaded(registry):
    store, _ = registry
    for uri in ("runs:/abc/model", f"models:/{NAME}@champion", "file:///tmp/model"):
        with pytest.raises(ValueError, match=r"models:/<name>/<version>"):
            runs.load_booster(store, uri)
