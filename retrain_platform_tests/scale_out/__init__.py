"""Scale-out tests: real RabbitMQ and PostgreSQL; helpers say how to start them when missing."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg2
import pytest
from kombu import Connection

from retrain_platform.defs.executors import BROKER_ENV_VAR, DEFAULT_BROKER

PG = {  # the test cluster (trust auth); per-test databases are created in it
    "host": os.environ.get("RETRAIN_TEST_PG_HOST", "127.0.0.1"),
    "port": int(os.environ.get("RETRAIN_TEST_PG_PORT", "5432")),
    "user": os.environ.get("RETRAIN_TEST_PG_USER", "postgres"),
    "dbname": os.environ.get("RETRAIN_TEST_PG_DB", "test"),
}
BROKER = os.environ.get(BROKER_ENV_VAR, "").strip() or DEFAULT_BROKER


def require_rabbitmq() -> None:
    """Fail (never skip) when the broker cannot be reached, saying how to start it."""
    try:
        with Connection(BROKER, connect_timeout=3) as conn:
            conn.ensure_connection(max_retries=1)
    except Exception as error:  # noqa: BLE001 - any failure means the broker is unusable
        pytest.fail(
            f"RabbitMQ is not reachable at {Connection(BROKER).as_uri()} ({error!r}). The "
            "scale-out tests need a real broker: start it with `rabbitmq-server -detached` "
            f"(or set {BROKER_ENV_VAR} to a reachable broker).",
            pytrace=False,
        )


def pg_connect():
    """A connection to the test cluster; fails (never skips) saying how to start PostgreSQL."""
    try:
        return psycopg2.connect(connect_timeout=3, **PG)
    except psycopg2.OperationalError as error:
        pytest.fail(
            f"PostgreSQL is not reachable at {PG['host']}:{PG['port']} as user {PG['user']} "
            f"(db {PG['dbname']}): {str(error).strip()}. Start it with "
            "`pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`.",
            pytrace=False,
        )


@contextmanager
def fresh_pg_database(prefix: str = "retrain_test") -> Iterator[str]:
    """Create a database for one test in the test cluster; drop it (WITH (FORCE)) afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = pg_connect()
    admin.autocommit = True
    try:
        with admin.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{name}"')
        yield name
    finally:
        with admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@contextmanager
def fresh_celery_queue() -> Iterator[str]:
    """A queue name of one test (no stray tasks of other runs); the queue is deleted afterwards."""
    require_rabbitmq()
    queue = f"retrain-test-{uuid.uuid4().hex[:10]}"
    try:
        yield queue
    finally:
        with Connection(BROKER, connect_timeout=3) as conn:
            channel = conn.default_channel
            channel.queue_delete(queue)
            channel.exchange_delete(queue)
