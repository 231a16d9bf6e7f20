"""A real SMTP server (aiosmtpd) on loopback that keeps every message it accepts."""

from __future__ import annotations

import asyncio
import email
import email.policy
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session


@dataclass(frozen=True)
class Received:
    """What the server was told: the SMTP envelope, apart from the message itself."""

    mail_from: str
    rcpt_tos: tuple[str, ...]


class SmtpServer:
    """Handler state: received messages, and switches that make the server refuse or fail."""

    def __init__(self, logins: dict[str, str] | None = None) -> None:
        self.host = "127.0.0.1"
        self.port = 0
        self.messages: list[tuple[Received, EmailMessage]] = []
        self.fail_with: str | None = None
        """An SMTP reply such as "451 4.3.0 try later" given instead of accepting DATA."""
        self.refuse_recipients_with: str | None = None
        """An SMTP reply such as "550 5.1.1 no such user" given to every RCPT TO."""
        self.logins = logins
        self.auth_attempts: list[str] = []

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        """Accept the recipient unless `refuse_recipients_with` is set."""
        if self.refuse_recipients_with:
            return self.refuse_recipients_with
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        """Keep the message (parsed) unless `fail_with` is set."""
        if self.fail_with:
            return self.fail_with
        raw = envelope.original_content or b""
        message = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        received = Received(str(envelope.mail_from), tuple(envelope.rcpt_tos))
        self.messages.append((received, message))
        return "250 2.0.0 OK: queued"

    def authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        """Accept only the username/password pairs in `logins`."""
        if not isinstance(data, LoginPassword) or self.logins is None:
            return AuthResult(success=False, handled=False)
        user, password = data.login.decode(), data.password.decode()
        self.auth_attempts.append(user)
        return AuthResult(success=self.logins.get(user) == password, handled=False)


class _LoopbackController(Controller):
    """Binds an ephemeral port (port 0) and learns which one before the first connection."""

    def _trigger_server(self) -> None:
        assert isinstance(self.server, asyncio.Server)
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()  # type: ignore[no-untyped-call]


@contextmanager
def smtp_server(logins: dict[str, str] | None = None) -> Iterator[SmtpServer]:
    """A started SMTP server on 127.0.0.1; with `logins`, it offers AUTH (without TLS)."""
    state = SmtpServer(logins)
    auth: dict[str, Any] = {}
    if logins is not None:
        auth = {"authenticator": state.authenticate, "auth_require_tls": False}
    controller = _LoopbackController(
        state, hostname=state.host, port=0, server_hostname="smtp.test", **auth
    )
    controller.start()
    state.port = controller.port
    try:
        yield state
    finally:
        controller.stop()
