"""A loopback SMTP sink that takes a fixed time per message, like a busy relay."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

from aiosmtpd.smtp import SMTP, Envelope, Session

from tests.support.smtp import SmtpServer, _LoopbackController


class SlowSmtpServer(SmtpServer):
    """Keeps every message like `SmtpServer`, after `seconds_per_message` of work on each."""

    def __init__(self, seconds_per_message: float) -> None:
        super().__init__()
        self.seconds_per_message = seconds_per_message

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        """Accept the message once the delay has passed."""
        await asyncio.sleep(self.seconds_per_message)
        return await super().handle_DATA(server, session, envelope)

    def message_ids(self) -> Counter[str]:
        """How many times each Message-ID arrived (more than once: a duplicate alert)."""
        return Counter(str(message["Message-ID"]) for _, message in self.messages)


@contextmanager
def slow_smtp_server(seconds_per_message: float = 0.5) -> Iterator[SlowSmtpServer]:
    """A started slow SMTP sink on 127.0.0.1."""
    state = SlowSmtpServer(seconds_per_message)
    controller = _LoopbackController(
        state, hostname=state.host, port=0, server_hostname="smtp.test"
    )
    controller.start()
    state.port = controller.port
    try:
        yield state
    finally:
        controller.stop()
