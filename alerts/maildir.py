"""Alert emails written to a local Maildir: the demo, air-gapped trials, and a safe default."""

from __future__ import annotations

import hashlib
import logging
import mailbox
import os
from pathlib import Path
from typing import Literal

from alerts.base import Alert, Channel, ChannelSettings, DeliveryResult, Recipient
from alerts.email_message import build_email, format_from

log = logging.getLogger(__name__)


class MaildirSettings(ChannelSettings):
    """Messages written to a local Maildir, for the demo and for air-gapped trials."""

    type: Literal["maildir"]
    path: str = "var/mail"
    from_address: str = "orm-monitor@localhost"


def file_name_for(idempotency_key: str) -> str:
    """The Maildir file name for an outbox key: the same key always names the same file."""
    return "orm-" + hashlib.sha256(idempotency_key.encode("utf-8")).hexdigest()[:32]


class MaildirChannel(Channel):
    """Writes each alert as one file in `path/new/`, named after its idempotency key."""

    type = "maildir"

    def __init__(self, name: str, config: MaildirSettings) -> None:
        super().__init__(name)
        self._path = Path(config.path)
        self._from = format_from(config.from_address)

    def send(self, alert: Alert, recipient: Recipient, idempotency_key: str) -> DeliveryResult:
        """Write the message once; a second send of the same key finds it and writes nothing."""
        message = build_email(alert, recipient, idempotency_key, self._from)
        message_id = str(message["Message-ID"])
        name = file_name_for(idempotency_key)
        existing = self._written(name)
        if existing is not None:
            log.debug("%s: %s already written as %s", self.describe(), idempotency_key, existing)
            return DeliveryResult.delivered(provider_message_id=message_id)
        try:
            path = self._write(name, message.as_bytes())
        except (PermissionError, FileExistsError, NotADirectoryError) as error:
            return DeliveryResult.failed(
                f"cannot write to {self._path}: {error.strerror}; make the path a directory "
                "the service user has write access to, or change it"
            )
        except OSError as error:
            return DeliveryResult.retry(f"cannot write to {self._path}: {error.strerror}")
        log.info(
            "%s: wrote %r for %s to %s",
            self.describe(),
            str(message["Subject"]),
            recipient.address,
            path,
        )
        return DeliveryResult.delivered(provider_message_id=message_id)

    def confirm(self, idempotency_key: str) -> bool | None:
        """True when the key's file is in new/ or (once a mail client has read it) cur/."""
        return self._written(file_name_for(idempotency_key)) is not None

    def _write(self, name: str, data: bytes) -> Path:
        # Maildir delivery: write under tmp/, then rename into new/ so readers never see half.
        mailbox.Maildir(self._path, create=True)
        temporary = self._path / "tmp" / name
        final = self._path / "new" / name
        temporary.write_bytes(data)
        os.replace(temporary, final)
        return final

    def _written(self, name: str) -> Path | None:
        new = self._path / "new" / name
        if new.exists():
            return new
        cur = self._path / "cur"
        # A mail client renames new/NAME to cur/NAME:2,FLAGS once it has seen the message.
        return next((p for p in cur.glob(f"{name}*") if p.name.split(":")[0] == name), None)

    def describe(self) -> str:
        """The directory the messages go to."""
        return f"maildir channel {self.name!r} ({self._path})"
