"""Feast's online store on Redis (production profile): the platform's writer against a real
Redis server, read back through Feast's own `get_online_features`.

Covers the configuration switch, that the writer's hashes are exactly Feast's, the newest-wins
rule (late partitions never overwrite newer values; a correction at the same event time does
replace them, which Feast's own writer silently ignores), concurrent writers, the serving
lookup, and the errors of an unreachable server. Each test has a Feast project of its own whose
Redis keys are deleted afterwards; no PostgreSQL is involved.
"""

from __future__ import annotations

import socket
import threading
from dataclasses import replace

import polars as pl
import pytest
import yaml
from polars.testing import assert_frame_equal

from retrain_platform.core import platform_columns as pc
from retrain_platform.core.feature_store.feast_objects import feature_view_name
from retrain_platform.core.feature_store.online_redis import delete_project_keys, write_online_redis
from retrain_platform.core.feature_store.online_sqlite import newest_rows
from retrain_platform.home import PRODUCTION_PROFILE
from retrain_platform.resources.feast import (
    DEFAULT_PROJECT,
    PRODUCTION_CONFIG,
    PROJECT_ENV_VAR,
    REDIS_ENV_VAR,
    FeastResource,
)
from retrain_platform.serving.features import DIRECT, FEAST, RedisDirectLookup, build_lookup
from retrain_platform_tests.fixtures.online_store import (
    feature_rows,
    features_only,
    partition_keys,
    served,
    write_features,
)
from retrain_platform_tests.fixtures.production import REDIS_START_HINT, RedisServer


@pytest.fixture(scope="module")
def view(contract):
    return contract.feature_views[0]


@pytest.fixture
def redis_env(home, redis_server, feast_project, monkeypatch):
    """The production profile's Feast settings: this test's project on the test Redis server."""
    monkeypatch.setenv("RETRAIN_PROFILE", PRODUCTION_PROFILE)
    monkeypatch.setenv(REDIS_ENV_VAR, redis_server.connection_string)
    monkeypatch.setenv(PROJECT_ENV_VAR, feast_project)
    return home


@pytest.fixture
def features(redis_env, contract, view) -> pl.DataFrame:
    """Three synthetic days of features in the lake, the Feast objects applied."""
    frame = feature_rows(contract, view)
    write_features(redis_env.lake_uri, contract, view, frame)
    FeastResource().apply(contract)
    return frame


def newest(frame: pl.DataFrame, contract, view) -> pl.DataFrame:
    return newest_rows(frame, list(view.entity_keys), contract.timestamp_name).sort(
        list(view.entity_keys)
    )


def day(frame: pl.DataFrame, index: int) -> pl.DataFrame:
    return frame.filter(pl.col(pc.PARTITION) == partition_keys(frame)[index])


def project_keys(redis_server: RedisServer, project: str) -> list[bytes]:
    client = redis_server.client()
    try:
        return sorted(client.scan_iter(match=b"*" + project.encode()))
    finally:
        client.close()


def test_the_production_profile_reads_redis_and_project_from_the_environment(home, monkeypatch):
    raw = yaml.safe_load(PRODUCTION_CONFIG.read_text())
    assert raw["online_store"]["connection_string"] == "${" + REDIS_ENV_VAR + "}"
    assert raw["project"] == "${" + PROJECT_ENV_VAR + "}"
    feast = FeastResource()
    assert feast.config_file().name == "feature_store.yaml"
    assert feast.online_store_type() == "sqlite"  # the embedded default is unchanged

    monkeypatch.setenv("RETRAIN_PROFILE", PRODUCTION_PROFILE)
    monkeypatch.delenv(REDIS_ENV_VAR, raising=False)
    monkeypatch.delenv(PROJECT_ENV_VAR, raising=False)
    assert feast.config_file() == PRODUCTION_CONFIG
    with pytest.raises(ValueError, match=f"needs {REDIS_ENV_VAR}, which is not set"):
        feast.config()
    monkeypatch.setenv(REDIS_ENV_VAR, "redis.internal:6380,db=3,password=not-a-secret")
    config = feast.config()
    assert (config.online_store.type, config.project) == ("redis", DEFAULT_PROJECT)
    assert config.online_store.connection_string == "redis.internal:6380,db=3,password=not-a-secret"
    assert config.registry.path == str(home.home / "feast" / "registry.db")
    assert "not-a-secret" not in feast.model_dump_json()  # the resource config holds no secret
    monkeypatch.setenv(PROJECT_ENV_VAR, "team_a")
    assert feast.config().project == "team_a"


def test_hashes_are_identical_to_feasts_own_writer(features, contract, view, redis_server):
    ours = FeastResource()
    stats = ours.write_online(contract, view, features)
    expected = newest(features, contract, view)
    assert stats["entities"] == expected.height == 200
    assert stats["entities_skipped_as_older"] == 0
    n_features = len(view.feature_names(contract.label_name))
    assert stats["cells_written"] == expected.height * n_features

    project = ours.config().project
    theirs_project = f"{project}_feast"
    try:
        # Feast's own writer, into a sibling project on the same server
        with pytest.MonkeyPatch.context() as env:
            env.setenv(PROJECT_ENV_VAR, theirs_project)
            theirs = FeastResource()
            theirs.apply(contract)
            theirs.store().write_to_online_store(
                feature_view_name(contract, view), expected.to_pandas()
            )
        ours_keys = project_keys(redis_server, project)
        theirs_keys = project_keys(redis_server, theirs_project)
        assert len(ours_keys) == len(theirs_keys) == expected.height
        assert {k[: -len(project)] for k in ours_keys} == {
            k[: -len(theirs_project)] for k in theirs_keys
        }
        client = redis_server.client()
        for key in ours_keys:
            twin = key[: -len(project)] + theirs_project.encode()
            assert client.hgetall(key) == client.hgetall(twin)
        client.close()
    finally:
        client = redis_server.client()
        delete_project_keys(client, theirs_project)
        client.close()

    got = served(ours, contract, view, expected)
    assert_frame_equal(got, features_only(expected, contract, view), check_exact=True)


def test_a_late_partition_never_overwrites_newer_values(features, contract, view):
    feast = FeastResource()
    first, last = day(features, 0), day(features, -1)
    feast.write_online(contract, view, last)
    stats = feast.write_online(contract, view, first)

    keys = list(view.entity_keys)
    in_both = first.select(keys).unique().join(last.select(keys).unique(), on=keys, how="semi")
    assert stats["entities_skipped_as_older"] == in_both.height > 0
    assert stats["entities"] - stats["entities_skipped_as_older"] == (
        first.select(keys).n_unique() - in_both.height
    )
    newest_last = newest(last, contract, view)
    assert_frame_equal(
        served(feast, contract, view, newest_last),
        features_only(newest_last, contract, view),
        check_exact=True,
    )
    only_first = newest(first.join(last, on=keys, how="anti"), contract, view)
    assert only_first.height > 0
    assert_frame_equal(
        served(feast, contract, view, only_first),
        features_only(only_first, contract, view),
        check_exact=True,
    )


def test_a_correction_at_the_same_timestamp_replaces_values(features, contract, view):
    feast = FeastResource()
    last = day(features, -1)
    feature = view.passthrough[0]
    corrected = last.with_columns(pl.col(feature) * 2 + 1)
    before = newest(last, contract, view)
    after = newest(corrected, contract, view)

    # Feast's own writer keeps the first value when the event time is the same
    store = feast.store()
    store.write_to_online_store(feature_view_name(contract, view), before.to_pandas())
    store.write_to_online_store(feature_view_name(contract, view), after.to_pandas())
    ignored = served(feast, contract, view, after)
    assert_frame_equal(ignored, features_only(before, contract, view), check_exact=True)

    # the platform's writer applies the correction
    stats = feast.write_online(contract, view, corrected)
    assert stats["entities_skipped_as_older"] == 0
    got = served(feast, contract, view, after)
    assert_frame_equal(got, features_only(after, contract, view), check_exact=True)
    assert not got[feature].equals(ignored[feature])


def test_concurrent_writers_of_old_and_new_partitions_leave_the_newest(
    features, contract, view, redis_server
):
    feast = FeastResource()
    table = feast.redis_table(contract, view)
    first, last = day(features, 0), day(features, -1)
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def write(frame: pl.DataFrame) -> None:
        client = redis_server.client()
        try:
            barrier.wait(30)
            for _ in range(5):
                write_online_redis(frame, table, client)
        except BaseException as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)
        finally:
            client.close()

    threads = [threading.Thread(target=write, args=(f,)) for f in (first, last)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors and not any(t.is_alive() for t in threads)
    expected = newest(pl.concat([first, last]), contract, view)
    assert_frame_equal(
        served(feast, contract, view, expected),
        features_only(expected, contract, view),
        check_exact=True,
    )


def test_serving_reads_redis_directly_as_feast_does(features, contract, view):
    feast = FeastResource()
    feast.write_online(contract, view, features)
    direct = build_lookup(DIRECT, feast, contract, view)
    assert isinstance(direct, RedisDirectLookup) and direct.ping()
    via_feast = build_lookup(FEAST, feast, contract, view)
    expected = newest(features, contract, view)
    entities = [*expected.select(view.entity_keys).to_dicts()[:50], {view.entity_keys[0]: -1}]
    got, reference = direct.lookup(entities), via_feast.lookup(entities)
    assert got[-1] is None and reference[-1] is None  # an unknown entity
    assert [r.values for r in got[:-1]] == [r.values for r in reference[:-1]]
    timestamps = expected.get_column(contract.timestamp_name).to_list()[:50]
    assert [r.event_time for r in got[:-1]] == timestamps


def test_an_unreachable_redis_fails_naming_it(features, contract, view, monkeypatch):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = replace(RedisServer.from_env(), host="127.0.0.1", port=port)
    client = server.client()
    with pytest.raises(Exception) as error:  # noqa: PT011 - redis' ConnectionError
        client.ping()
    message = server.unreachable_message(error.value)
    assert message.startswith(f"Redis is not reachable at 127.0.0.1:{port}")
    assert REDIS_START_HINT in message and "never skip" in message

    monkeypatch.setenv(REDIS_ENV_VAR, server.connection_string)
    # Feast's client retries a refused connection with backoff (about 8 s); the test's fails at once
    monkeypatch.setattr(FeastResource, "redis_client", lambda self, config=None: server.client())
    with pytest.raises(ConnectionError, match=f"not reachable.*check {REDIS_ENV_VAR}"):
        FeastResource().write_online(contract, view, features)
