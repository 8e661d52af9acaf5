"""The store probe behind `/health`, and the limits the settings read from the environment."""

from __future__ import annotations

import asyncio
import threading

import pytest

from retrain_platform.serving.health import StoreProbe
from retrain_platform.serving.settings import (
    DEFAULT_MAX_BODY_BYTES,
    MAX_BODY_ENV_VAR,
    STORE_TIMEOUT_ENV_VAR,
    max_body_from_env,
    store_timeout_from_env,
)


class _Store:
    """A lookup whose ping blocks until released (a store that hangs), counting pings."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.pings = 0

    def lookup(self, entities):  # noqa: ANN001, ANN201
        raise NotImplementedError

    def ping(self) -> bool:
        self.pings += 1
        self.release.wait(30)
        return True


def test_a_hanging_store_is_reported_down_within_the_timeout_with_one_ping_in_flight():
    store = _Store()
    probe = StoreProbe(store, timeout=0.05)

    async def three_checks() -> list[bool]:
        return [await probe.ping() for _ in range(3)]

    try:
        assert asyncio.run(three_checks()) == [False, False, False]
        assert store.pings == 1  # the stuck ping is shared, not queued behind
        store.release.set()
        assert asyncio.run(probe.ping()) is True
    finally:
        store.release.set()
        probe.close()


def test_limits_come_from_the_environment_and_bad_values_name_the_variable(monkeypatch):
    monkeypatch.delenv(MAX_BODY_ENV_VAR, raising=False)
    assert max_body_from_env() == DEFAULT_MAX_BODY_BYTES
    monkeypatch.setenv(MAX_BODY_ENV_VAR, "2048")
    monkeypatch.setenv(STORE_TIMEOUT_ENV_VAR, "0.25")
    assert max_body_from_env() == 2048 and store_timeout_from_env() == 0.25
    for bad in ("lots", "-1", "0"):
        monkeypatch.setenv(MAX_BODY_ENV_VAR, bad)
        with pytest.raises(ValueError, match=MAX_BODY_ENV_VAR):
            max_body_from_env()
