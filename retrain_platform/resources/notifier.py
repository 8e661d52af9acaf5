"""Alerts: tell people when the platform retrains, refuses a model, rolls back or fails.

`NotifierResource` sends each event to a Slack-compatible incoming webhook (JSON with `text`
and `blocks`, which Slack, Mattermost and most chat tools accept) and/or by email over SMTP.
Both channels are off unless configured: the embedded default sends nothing. Secrets (the webhook
URL, which embeds a token, and the SMTP password) come from the environment through `EnvVar`,
so they never appear in run config, the instance or the UI.

Delivery never raises: an alert that cannot be sent is logged and reported in the returned
`Delivery`, because a chat outage must not fail the retraining run that wanted to report on it.
A webhook post has a timeout and is retried once (on a network error or a 5xx answer).

An alert carries values from data and errors (check details, failure messages) of any size:
`send` bounds it first (`bounded_alert`: every line and fact clipped, at most `MAX_BODY_LINES`
lines), so a megabyte value never reaches a chat message, an email or the log.
"""

from __future__ import annotations

import json
import logging
import os
import smtplib
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from email.message import EmailMessage

import dagster as dg
from pydantic import Field

from retrain_platform.core.bounded import clip_text

log = logging.getLogger(__name__)

WEBHOOK_ENV_VAR = "RETRAIN_ALERT_WEBHOOK"
SMTP_PASSWORD_ENV_VAR = "RETRAIN_ALERT_SMTP_PASSWORD"
USER_AGENT = "retrain-platform-alerts"
WEBHOOK_ATTEMPTS = 2  # the first post and one retry

RETRAIN_TRIGGERED = "retrain_triggered"
GATE_REJECTED = "gate_rejected"
BLOCKING_CHECK_FAILED = "blocking_check_failed"
ROLLBACK = "rollback"
RUN_FAILED = "run_failed"
GATE_REJECTION_RATE = "gate_rejection_rate_high"
MAX_BODY_LINES = 40  # lines of an alert body kept (each clipped); the rest are counted


@dataclass(frozen=True)
class Alert:
    """One event to report: a kind, a one-line title, a body and labelled facts."""

    event: str
    title: str
    body: str
    facts: Mapping[str, str] = field(default_factory=dict)

    @property
    def text(self) -> str:
        """Plain-text rendering: the notification preview and the email body."""
        lines = [self.title, "", self.body] if self.body else [self.title]
        lines += [f"{name}: {value}" for name, value in self.facts.items()]
        return "\n".join(lines)

    def slack_payload(self) -> dict[str, object]:
        """Slack incoming-webhook JSON: `text` (fallback) plus header, body and facts blocks."""
        blocks: list[dict[str, object]] = [
            {"type": "header", "text": {"type": "plain_text", "text": self.title[:150]}}
        ]
        if self.body:
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": self.body}})
        if self.facts:
            blocks.append(
                {
                    "type": "section",
                    "fields": [
                        {"type": "mrkdwn", "text": f"*{name}*\n{value}"}
                        for name, value in list(self.facts.items())[:10]
                    ],
                }
            )
        blocks.append(
            {"type": "context", "elements": [{"type": "mrkdwn", "text": f"event `{self.event}`"}]}
        )
        return {"text": self.text, "blocks": blocks}


def bounded_alert(alert: Alert) -> Alert:
    """`alert` with its title, each body line and each fact clipped, and the body's lines capped."""
    lines = alert.body.splitlines() if alert.body else []
    kept = [clip_text(line) for line in lines[:MAX_BODY_LINES]]
    if len(lines) > MAX_BODY_LINES:
        kept.append(f"…[{len(lines) - MAX_BODY_LINES} more lines]")
    return replace(
        alert,
        title=clip_text(alert.title),
        body="\n".join(kept),
        facts={clip_text(k): clip_text(v) for k, v in alert.facts.items()},
    )


def _code_block(text: str) -> str:
    """`text` as a Markdown code block that survives `bounded_alert` (fences kept)."""
    lines = text.splitlines()
    kept = lines[: MAX_BODY_LINES - 3]
    more = [f"…[{len(lines) - len(kept)} more lines]"] if len(lines) > len(kept) else []
    return "\n".join(["```", *kept, *more, "```"])


@dataclass(frozen=True)
class Delivery:
    """What happened to one alert per channel: True sent, False failed, None not configured."""

    alert: Alert
    webhook: bool | None = None
    email: bool | None = None
    errors: tuple[str, ...] = ()

    @property
    def sent(self) -> bool:
        return bool(self.webhook) or bool(self.email)


def _resolved(value: str) -> str:
    """An `EnvVar` field used outside a Dagster run is still the variable's name: read it."""
    return value.get_value() or "" if isinstance(value, dg.EnvVar) else value


class NotifierResource(dg.ConfigurableResource):
    """Sends platform events to a Slack-compatible webhook and/or by email; off when empty."""

    webhook_url: str = Field(
        default="", description=f"Incoming-webhook URL, normally EnvVar('{WEBHOOK_ENV_VAR}')."
    )
    timeout_seconds: float = Field(default=5.0, description="Per-attempt network timeout.")
    smtp_host: str = Field(default="", description="SMTP server; empty turns email off.")
    smtp_port: int = 25
    smtp_starttls: bool = False
    smtp_user: str = ""
    smtp_password: str = Field(
        default="", description=f"SMTP password, normally EnvVar('{SMTP_PASSWORD_ENV_VAR}')."
    )
    email_from: str = "retrain-platform@localhost"
    email_to: list[str] = Field(default=[], description="Recipients; empty turns email off.")

    # --- channels -----------------------------------------------------------------------------

    @property
    def webhook_enabled(self) -> bool:
        return bool(_resolved(self.webhook_url).strip())

    @property
    def email_enabled(self) -> bool:
        return bool(self.smtp_host.strip() and self.email_to)

    def send(self, alert: Alert) -> Delivery:
        """Deliver `alert`, bounded, on every configured channel; failures logged, never raised."""
        alert = bounded_alert(alert)
        webhook = email = None
        errors: list[str] = []
        if self.webhook_enabled:
            error = self._post(alert)
            webhook = error is None
            errors += [f"webhook: {error}"] if error else []
        if self.email_enabled:
            error = self._email(alert)
            email = error is None
            errors += [f"email: {error}"] if error else []
        for error in errors:
            log.warning("alert %s not delivered: %s", alert.event, clip_text(error))
        return Delivery(alert, webhook, email, tuple(errors))

    def _post(self, alert: Alert) -> str | None:
        data = json.dumps(alert.slack_payload()).encode()
        error = None
        for _attempt in range(WEBHOOK_ATTEMPTS):
            request = urllib.request.Request(
                _resolved(self.webhook_url),
                data=data,
                headers={"Content-Type": "application/json", "User-Agent": USER_AGENT},
                method="POST",
            )
            try:
                with urllib.request.urlopen(request, timeout=self.timeout_seconds) as response:
                    response.read()
                return None
            except urllib.error.HTTPError as exc:
                error = f"HTTP {exc.code}"
                if exc.code < 500:
                    return error  # the receiver refused this payload: a retry would too
            except (urllib.error.URLError, OSError) as exc:
                error = str(getattr(exc, "reason", exc))
        return error

    def _email(self, alert: Alert) -> str | None:
        message = EmailMessage()
        message["Subject"] = f"[retrain-platform] {alert.title}"
        message["From"] = self.email_from
        message["To"] = ", ".join(self.email_to)
        message.set_content(alert.text)
        try:
            with smtplib.SMTP(self.smtp_host, self.smtp_port, timeout=self.timeout_seconds) as smtp:
                if self.smtp_starttls:
                    smtp.starttls()
                password = _resolved(self.smtp_password)
                if self.smtp_user and password:
                    smtp.login(self.smtp_user, password)
                smtp.send_message(message)
        except (smtplib.SMTPException, OSError) as exc:
            return f"{type(exc).__name__}: {exc}"
        return None

    # --- events -------------------------------------------------------------------------------

    def retrain_triggered(self, dataset: str, reason: str) -> Delivery:
        """A retraining cycle started (drift, schedule, model age, manual...)."""
        return self.send(
            Alert(
                RETRAIN_TRIGGERED,
                f"{dataset}: retraining triggered",
                reason,
                {"dataset": dataset, "reason": reason},
            )
        )

    def gate_rejected(self, dataset: str, version: int | str, failures: Sequence[str]) -> Delivery:
        """A challenger failed the evaluation gate: the champion keeps serving."""
        body = "\n".join(f"• {failure}" for failure in failures) or "no failure recorded"
        return self.send(
            Alert(
                GATE_REJECTED,
                f"{dataset}: challenger v{version} rejected by the gate",
                body,
                {"dataset": dataset, "version": str(version), "failures": str(len(failures))},
            )
        )

    def blocking_check_failed(
        self, dataset: str, partition: str, check: str, details: str
    ) -> Delivery:
        """A blocking data check failed: downstream assets of the partition are held back."""
        return self.send(
            Alert(
                BLOCKING_CHECK_FAILED,
                f"{dataset}: blocking check {check} failed on {partition}",
                details,
                {"dataset": dataset, "partition": partition, "check": check},
            )
        )

    def rollback(
        self, dataset: str, from_version: int | str | None, to_version: int | str | None
    ) -> Delivery:
        """The champion was moved back to an earlier version."""
        return self.send(
            Alert(
                ROLLBACK,
                f"{dataset}: champion rolled back from v{from_version} to v{to_version}",
                "",
                {"dataset": dataset, "from": str(from_version), "to": str(to_version)},
            )
        )

    def run_failed(self, run_id: str, job: str, error: str) -> Delivery:
        """A Dagster run failed."""
        return self.send(
            Alert(
                RUN_FAILED,
                f"run of {job} failed",
                _code_block(error) if error else "",
                {"job": job, "run_id": run_id},
            )
        )

    def gate_rejection_rate_high(
        self, dataset: str, rate: float, last_n: int, threshold: float
    ) -> Delivery:
        """The gate rejected too many recent challengers: training or data may be broken."""
        return self.send(
            Alert(
                GATE_REJECTION_RATE,
                f"{dataset}: gate rejected {rate:.0%} of the last {last_n} challengers",
                f"above the alert threshold of {threshold:.0%}",
                {"dataset": dataset, "rate": f"{rate:.1%}", "last_n": str(last_n)},
            )
        )


def notifier_from_env(environ: Mapping[str, str] | None = None) -> NotifierResource:
    """The default notifier: the webhook from `$RETRAIN_ALERT_WEBHOOK` when set, else off.

    The URL stays an `EnvVar` (read where a step or sensor runs), so it is never stored in
    run config. Email is configured explicitly (host, recipients) on the resource.
    """
    environ = os.environ if environ is None else environ
    if environ.get(WEBHOOK_ENV_VAR, "").strip():
        return NotifierResource(webhook_url=dg.EnvVar(WEBHOOK_ENV_VAR))
    return NotifierResource()
