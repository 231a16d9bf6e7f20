"""Alert emails through an SMTP server (Microsoft 365, a Google Workspace relay, the LA's relay)."""

from __future__ import annotations

import logging
import smtplib
import ssl
from email.message import EmailMessage
from typing import Literal

from pydantic import Field, model_validator

from alerts.base import (
    Alert,
    Channel,
    ChannelSettings,
    CredentialName,
    DeliveryResult,
    Recipient,
    SecretReader,
)
from alerts.email_message import build_email, format_from
from alerts.render import shorten, strip_controls

log = logging.getLogger(__name__)

AUTH_FIX = (
    "check the SMTP username and the password credential; Exchange Online disables SMTP AUTH "
    "by default from the end of 2026 — use the graph_mail channel"
)


class SmtpSettings(ChannelSettings):
    """Email through an SMTP server (Microsoft 365, Google Workspace relay, the LA's relay)."""

    type: Literal["smtp"]
    host: str
    port: int = Field(587, ge=1, le=65535)
    security: Literal["starttls", "tls", "none"] = "starttls"
    username: str | None = None
    password_credential: CredentialName | None = None
    from_address: str
    from_name: str = "orm-monitor"
    timeout_seconds: float = Field(30, gt=0)

    @model_validator(mode="after")
    def _no_clear_text_password(self) -> SmtpSettings:
        loopback = self.host in {"localhost", "127.0.0.1", "::1"}
        if self.security == "none" and self.password_credential and not loopback:
            raise ValueError(
                'security = "none" would send the SMTP password in clear text; '
                "use starttls or tls, or an IP-authorised relay without a password"
            )
        return self


def _reply(code: int, text: bytes | str) -> str:
    """An SMTP reply as one log-safe line."""
    raw = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    return f"{code} {shorten(strip_controls(raw), 300)}"


def _by_code(code: int, what: str) -> DeliveryResult:
    """4xx is a passing refusal (RETRY), 5xx a permanent one (FAILED)."""
    if 400 <= code < 500:
        return DeliveryResult.retry(what)
    return DeliveryResult.failed(what)


def _refused(error: smtplib.SMTPRecipientsRefused) -> DeliveryResult:
    code, text = next(iter(error.recipients.values()), (550, b"refused"))
    return _by_code(code, f"recipient refused: {_reply(code, text)}")


def _not_supported(error: smtplib.SMTPNotSupportedError, security: str) -> DeliveryResult:
    if "STARTTLS" in str(error):
        return DeliveryResult.failed(
            "the server does not offer STARTTLS: check host and port (465 needs security = "
            '"tls"), or set security = "none" only for a relay on the local network'
        )
    return DeliveryResult.failed(f"the server does not support what we need ({security}): {error}")


def classify_error(error: Exception, security: str = "starttls") -> DeliveryResult:
    """What an exception from smtplib means for the outbox: RETRY or FAILED, with the fix."""
    if isinstance(error, smtplib.SMTPAuthenticationError):
        reply = _reply(error.smtp_code, error.smtp_error)
        return DeliveryResult.failed(f"login refused ({reply}): {AUTH_FIX}")
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return _refused(error)
    if isinstance(error, smtplib.SMTPNotSupportedError):
        return _not_supported(error, security)
    if isinstance(error, smtplib.SMTPResponseException):
        return _by_code(error.smtp_code, f"server said {_reply(error.smtp_code, error.smtp_error)}")
    if isinstance(error, ssl.SSLCertVerificationError):
        return DeliveryResult.failed(f"the server's TLS certificate is not trusted: {error.reason}")
    if isinstance(error, TimeoutError) or "timed out" in str(error):
        return DeliveryResult.retry("no answer from the SMTP server in time")
    if isinstance(error, smtplib.SMTPException):
        return DeliveryResult.retry(f"SMTP conversation broke off: {error}")
    return DeliveryResult.retry(f"cannot reach the SMTP server: {type(error).__name__}: {error}")


class SmtpChannel(Channel):
    """Sends each alert as one multipart email over SMTP (STARTTLS, implicit TLS or plain)."""

    type = "smtp"

    def __init__(
        self,
        name: str,
        config: SmtpSettings,
        secrets: SecretReader,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        super().__init__(name)
        self._config = config
        credential = config.password_credential
        self._password = secrets(credential) if credential else None
        self._ssl_context = ssl_context

    def send(self, alert: Alert, recipient: Recipient, idempotency_key: str) -> DeliveryResult:
        """One SMTP session per message; the Message-ID is derived from the idempotency key."""
        sender = format_from(self._config.from_address, self._config.from_name)
        message = build_email(alert, recipient, idempotency_key, sender)
        try:
            self._deliver(message, recipient.address)
        except (smtplib.SMTPException, OSError) as error:
            result = classify_error(error, self._config.security)
            log.debug(
                "%s: %s to %s: %s", self.describe(), result.status, recipient.address, result.error
            )
            return result
        return DeliveryResult.delivered(provider_message_id=str(message["Message-ID"]))

    def _deliver(self, message: EmailMessage, address: str) -> None:
        with self._connect() as smtp:
            if self._config.security == "starttls":
                smtp.starttls(context=self._context())
            if self._config.username and self._password:
                smtp.login(self._config.username, self._password)
            smtp.send_message(message, from_addr=self._config.from_address, to_addrs=[address])

    def _connect(self) -> smtplib.SMTP:
        host, port, timeout = self._config.host, self._config.port, self._config.timeout_seconds
        if self._config.security == "tls":
            return smtplib.SMTP_SSL(host, port, timeout=timeout, context=self._context())
        return smtplib.SMTP(host, port, timeout=timeout)

    def _context(self) -> ssl.SSLContext:
        return self._ssl_context or ssl.create_default_context()

    def describe(self) -> str:
        """Host, port and security; never the password."""
        user = f" as {self._config.username}" if self._config.username else ""
        return (
            f"smtp channel {self.name!r} ({self._config.host}:{self._config.port}, "
            f"{self._config.security}{user})"
        )
