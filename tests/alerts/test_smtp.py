"""The SMTP channel against a real aiosmtpd server on loopback."""

from __future__ import annotations

import smtplib
import socket
from collections.abc import Iterator
from dataclasses import replace
from email.message import EmailMessage

import pytest

from alerts.base import DeliveryStatus, Recipient, message_id_for
from alerts.smtp import SmtpChannel, SmtpSettings, classify_error
from tests.support.sample_alerts import (
    ACCOUNT_MANAGER,
    HOSTILE_TEXT,
    hostile_alert,
    plain_alert,
)
from tests.support.secrets import secrets_from
from tests.support.smtp import SmtpServer, smtp_server

KEY = "outbox:42:am"


@pytest.fixture
def server() -> Iterator[SmtpServer]:
    with smtp_server() as running:
        yield running


def settings(server: SmtpServer, **overrides: object) -> SmtpSettings:
    values: dict[str, object] = {
        "type": "smtp",
        "host": server.host,
        "port": server.port,
        "security": "none",
        "from_address": "alerts@stmarys.example.org",
        "from_name": "St Mary's alerts",
        "timeout_seconds": 5,
    }
    return SmtpSettings.model_validate({**values, **overrides})


def channel(server: SmtpServer, password: str | None = None, **overrides: object) -> SmtpChannel:
    if password is not None:
        overrides = {"password_credential": "SMTP_PASSWORD", **overrides}
    reader = secrets_from(SMTP_PASSWORD=password) if password is not None else secrets_from()
    return SmtpChannel("school-mail", settings(server, **overrides), reader)


def only_message(server: SmtpServer) -> EmailMessage:
    assert len(server.messages) == 1
    return server.messages[0][1]


def body_of(message: EmailMessage, subtype: str) -> str:
    part = message.get_body((subtype,))
    assert part is not None
    content: str = part.get_content()
    return content


def test_delivers_one_message_to_the_recipient(server: SmtpServer) -> None:
    result = channel(server).send(plain_alert(), ACCOUNT_MANAGER, KEY)

    assert result.status is DeliveryStatus.DELIVERED
    envelope, message = server.messages[0]
    assert envelope.mail_from == "alerts@stmarys.example.org"
    assert envelope.rcpt_tos == ("am@stmarys.example.org",)
    assert message["To"] == "Ann Manager <am@stmarys.example.org>"
    assert message["From"] == "St Mary's alerts <alerts@stmarys.example.org>"
    assert message["Subject"] == "[LOW] St Mary's: query on Facebook page"
    assert message["Date"] is not None


def test_message_id_comes_from_the_key_and_is_the_provider_id(server: SmtpServer) -> None:
    smtp = channel(server)
    first = smtp.send(plain_alert(), ACCOUNT_MANAGER, KEY)
    second = smtp.send(plain_alert(), ACCOUNT_MANAGER, KEY)
    other = smtp.send(plain_alert(), ACCOUNT_MANAGER, "outbox:43:am")

    expected = message_id_for(KEY, "stmarys.example.org")
    assert [m["Message-ID"] for _, m in server.messages[:2]] == [expected, expected]
    assert first.provider_message_id == second.provider_message_id == expected
    assert other.provider_message_id != expected


def test_marks_the_message_as_automatic_and_keyed(server: SmtpServer) -> None:
    channel(server).send(plain_alert(), ACCOUNT_MANAGER, KEY)
    message = only_message(server)
    assert message["X-ORM-Monitor-Key"] == KEY
    assert message["Auto-Submitted"] == "auto-generated"


def test_sends_text_and_html_alternatives(server: SmtpServer) -> None:
    channel(server).send(plain_alert(), ACCOUNT_MANAGER, KEY)
    message = only_message(server)
    assert message.get_content_type() == "multipart/alternative"
    parts = [part.get_content_type() for part in message.iter_parts()]
    assert parts == ["text/plain", "text/html"]


def test_hostile_post_is_escaped_in_html_and_cannot_add_headers(server: SmtpServer) -> None:
    result = channel(server).send(hostile_alert(), ACCOUNT_MANAGER, KEY)

    assert result.status is DeliveryStatus.DELIVERED
    envelope, message = server.messages[0]
    assert envelope.rcpt_tos == ("am@stmarys.example.org",)
    assert message["Bcc"] is None
    assert message["Subject"].endswith("hi Bcc: evil@example.com")
    html = body_of(message, "html")
    text = body_of(message, "plain")
    assert "<script>" not in html and "<img" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert HOSTILE_TEXT.splitlines()[0] in text
    assert "{{DATE(2026-01-01)}} **bold**" in text


def test_non_ascii_subject_and_body_survive(server: SmtpServer) -> None:
    alert = replace(plain_alert("Très bien — 👍 merci"), headline="praise — Ysgol Gymraeg Bro Dâr")
    channel(server).send(alert, Recipient("dsl@stmarys.example.org"), KEY)
    message = only_message(server)
    assert message["Subject"] == "[LOW] St Mary's: praise — Ysgol Gymraeg Bro Dâr"
    assert message["To"] == "dsl@stmarys.example.org"
    assert "Très bien — 👍 merci" in body_of(message, "plain")


def test_logs_in_when_a_username_and_password_are_set() -> None:
    with smtp_server(logins={"alerts": "correct horse"}) as server:
        smtp = channel(server, "correct horse", username="alerts")
        result = smtp.send(plain_alert(), ACCOUNT_MANAGER, KEY)
        assert result.status is DeliveryStatus.DELIVERED
        assert server.auth_attempts == ["alerts"]
        assert len(server.messages) == 1


def test_wrong_password_fails_with_the_fix_and_never_shows_the_password() -> None:
    with smtp_server(logins={"alerts": "correct horse"}) as server:
        smtp = channel(server, "battery staple", username="alerts")
        result = smtp.send(plain_alert(), ACCOUNT_MANAGER, KEY)
    assert result.status is DeliveryStatus.FAILED
    assert result.error is not None
    assert "535" in result.error
    assert "graph_mail" in result.error and "password credential" in result.error
    assert "battery staple" not in result.error
    assert "battery staple" not in smtp.describe()


def test_temporary_refusal_of_data_is_retried(server: SmtpServer) -> None:
    server.fail_with = "451 4.3.0 try later"
    result = channel(server).send(plain_alert(), ACCOUNT_MANAGER, KEY)
    assert result.status is DeliveryStatus.RETRY
    assert result.error is not None and "451" in result.error and "try later" in result.error
    assert server.messages == []


def test_permanent_refusal_of_data_fails(server: SmtpServer) -> None:
    server.fail_with = "554 5.7.1 message rejected as spam"
    result = channel(server).send(plain_alert(), ACCOUNT_MANAGER, KEY)
    assert result.status is DeliveryStatus.FAILED
    assert result.error is not None and "554" in result.error


def test_unknown_recipient_fails(server: SmtpServer) -> None:
    server.refuse_recipients_with = "550 5.1.1 no such user"
    result = channel(server).send(plain_alert(), ACCOUNT_MANAGER, KEY)
    assert result.status is DeliveryStatus.FAILED
    assert result.error is not None and "550" in result.error and "no such user" in result.error


def test_greylisted_recipient_is_retried(server: SmtpServer) -> None:
    server.refuse_recipients_with = "450 4.2.0 greylisted"
    result = channel(server).send(plain_alert(), ACCOUNT_MANAGER, KEY)
    assert result.status is DeliveryStatus.RETRY
    assert result.error is not None and "450" in result.error


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def test_connection_refused_is_retried() -> None:
    config = SmtpSettings(
        type="smtp",
        host="127.0.0.1",
        port=free_port(),
        security="none",
        from_address="alerts@stmarys.example.org",
        timeout_seconds=5,
    )
    result = SmtpChannel("school-mail", config, secrets_from()).send(
        plain_alert(), ACCOUNT_MANAGER, KEY
    )
    assert result.status is DeliveryStatus.RETRY
    assert result.error is not None and "ConnectionRefusedError" in result.error


def test_server_that_never_answers_is_retried_after_the_timeout() -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        port = silent.getsockname()[1]
        config = SmtpSettings(
            type="smtp",
            host="127.0.0.1",
            port=port,
            security="none",
            from_address="alerts@stmarys.example.org",
            timeout_seconds=0.3,
        )
        result = SmtpChannel("school-mail", config, secrets_from()).send(
            plain_alert(), ACCOUNT_MANAGER, KEY
        )
    assert result.status is DeliveryStatus.RETRY
    assert result.error == "no answer from the SMTP server in time"


def test_starttls_against_a_server_without_it_fails_with_a_clear_error(
    server: SmtpServer,
) -> None:
    result = channel(server, security="starttls").send(plain_alert(), ACCOUNT_MANAGER, KEY)
    assert result.status is DeliveryStatus.FAILED
    assert result.error is not None and "does not offer STARTTLS" in result.error
    assert server.messages == []


def test_a_dropped_connection_is_retried() -> None:
    result = classify_error(smtplib.SMTPServerDisconnected("Connection unexpectedly closed"))
    assert result.status is DeliveryStatus.RETRY


def test_describe_names_host_port_and_security(server: SmtpServer) -> None:
    described = channel(server, "pw", username="alerts").describe()
    assert described == (f"smtp channel 'school-mail' (127.0.0.1:{server.port}, none as alerts)")
