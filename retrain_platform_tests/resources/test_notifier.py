"""Alerts reach a real local webhook and SMTP server; nothing is sent when unconfigured."""

from __future__ import annotations

import email
import queue
import socket
from collections.abc import Callable

import pytest

from retrain_platform.resources import notifier as alerts
from retrain_platform.resources.notifier import Delivery, NotifierResource, notifier_from_env
from retrain_platform_tests.fixtures.receivers import smtp_receiver, webhook_receiver

EVENTS: dict[str, Callable[[NotifierResource], Delivery]] = {
    alerts.RETRAIN_TRIGGERED: lambda n: n.retrain_triggered("weather", "drift on feat_4"),
    alerts.GATE_REJECTED: lambda n: n.gate_rejected(
        "weather", 7, ["roc_auc 0.61 below policy minimum 0.70", "slice region=north regressed"]
    ),
    alerts.BLOCKING_CHECK_FAILED: lambda n: n.blocking_check_failed(
        "weather", "1999-11-01", "matches_schema", "feat_3: 3 values out of range"
    ),
    alerts.ROLLBACK: lambda n: n.rollback("weather", 7, 6),
    alerts.RUN_FAILED: lambda n: n.run_failed("abc-123", "weather_retrain_job", "boom"),
    alerts.GATE_REJECTION_RATE: lambda n: n.gate_rejection_rate_high("weather", 0.4, 10, 0.2),
}
EXPECTED_TEXT = {
    alerts.RETRAIN_TRIGGERED: "drift on feat_4",
    alerts.GATE_REJECTED: "slice region=north regressed",
    alerts.BLOCKING_CHECK_FAILED: "matches_schema",
    alerts.ROLLBACK: "from v7 to v6",
    alerts.RUN_FAILED: "abc-123",
    alerts.GATE_REJECTION_RATE: "40%",
}


@pytest.mark.parametrize("event", list(EVENTS))
def test_each_event_posts_slack_json(event: str) -> None:
    with webhook_receiver() as received:
        delivery = EVENTS[event](NotifierResource(webhook_url=received.url))
        got = received.next()
    assert delivery.webhook is True and delivery.email is None and delivery.sent
    assert got["path"] == "/hooks/alerts"
    assert got["content_type"] == "application/json"
    payload = got["json"]
    assert EXPECTED_TEXT[event] in payload["text"]
    assert payload["blocks"][0]["type"] == "header"
    assert payload["blocks"][-1]["elements"][0]["text"] == f"event `{event}`"
    assert "weather" in payload["text"] or event == alerts.RUN_FAILED


def test_webhook_is_retried_once_after_a_server_error() -> None:
    with webhook_receiver(statuses=[503]) as received:
        delivery = NotifierResource(webhook_url=received.url).rollback("weather", 3, 2)
        first, second = received.next(), received.next()
    assert (first["status"], second["status"]) == (503, 200)
    assert first["json"] == second["json"]
    assert delivery.webhook is True


def test_a_refused_payload_is_reported_not_raised_and_not_retried() -> None:
    with webhook_receiver(statuses=[400, 400]) as received:
        delivery = NotifierResource(webhook_url=received.url).rollback("weather", 3, 2)
        assert received.next()["status"] == 400
        with pytest.raises(queue.Empty):
            received.items.get_nowait()
    assert delivery.webhook is False and not delivery.sent
    assert delivery.errors == ("webhook: HTTP 400",)


def test_an_unreachable_webhook_fails_quietly_after_the_retry() -> None:
    with socket.socket() as sock:  # a port nobody listens on once closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    notifier = NotifierResource(webhook_url=f"http://127.0.0.1:{port}/x", timeout_seconds=2)
    delivery = notifier.run_failed("r1", "job", "error")
    assert delivery.webhook is False
    assert "refused" in delivery.errors[0].lower()


def test_off_by_default_sends_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(alerts.WEBHOOK_ENV_VAR, raising=False)
    with webhook_receiver() as received:
        notifier = notifier_from_env()
        deliveries = [send(notifier) for send in EVENTS.values()]
        with pytest.raises(queue.Empty):
            received.items.get_nowait()
    assert not notifier.webhook_enabled and not notifier.email_enabled
    assert all(d.webhook is None and d.email is None and not d.sent for d in deliveries)


def test_webhook_url_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    with webhook_receiver() as received:
        monkeypatch.setenv(alerts.WEBHOOK_ENV_VAR, received.url)
        notifier = notifier_from_env()
        # The URL is an EnvVar, not the secret itself, in the resource's config.
        assert notifier.webhook_url == alerts.WEBHOOK_ENV_VAR
        assert notifier.retrain_triggered("weather", "schedule").webhook is True
        assert "schedule" in received.next()["json"]["text"]


def test_email_is_sent_over_smtp() -> None:
    with smtp_receiver() as (received, port):
        notifier = NotifierResource(
            smtp_host="127.0.0.1",
            smtp_port=port,
            email_from="platform@example.org",
            email_to=["oncall@example.org", "ml@example.org"],
        )
        delivery = notifier.gate_rejected("weather", 12, ["roc_auc below minimum"])
        got = received.next()
    assert delivery.email is True and delivery.webhook is None
    assert got["from"] == "<platform@example.org>"
    assert got["to"] == ["<oncall@example.org>", "<ml@example.org>"]
    message = email.message_from_string(got["data"])
    assert message["Subject"] == "[retrain-platform] weather: challenger v12 rejected by the gate"
    assert "roc_auc below minimum" in message.get_payload()


def test_both_channels_at_once() -> None:
    with webhook_receiver() as hook, smtp_receiver() as (mail, port):
        notifier = NotifierResource(
            webhook_url=hook.url, smtp_host="127.0.0.1", smtp_port=port, email_to=["a@b.c"]
        )
        delivery = notifier.blocking_check_failed("weather", "1950-02-01", "has_min_rows", "3")
        assert "has_min_rows" in hook.next()["json"]["text"]
        assert "has_min_rows" in mail.next()["data"]
    assert (delivery.webhook, delivery.email) == (True, True)
