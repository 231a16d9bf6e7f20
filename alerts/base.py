"""The alert channel contract: what is delivered, to whom, and what came of it."""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

SecretReader = Callable[[str], str]
"""Reads a credential by name (the core passes systemd credentials or the environment)."""

CredentialName = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,128}$")]
"""The name of a credential; its value is never written in the config file."""


class ChannelSettings(BaseModel):
    """Base of each channel's settings: unknown keys are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True)
class AlertItem:
    """The post an alert is about, as shown to staff (text is untrusted)."""

    text: str
    url: str | None = None
    author: str | None = None
    platform: str = ""
    source_name: str = ""
    kind: str = ""
    created_at: str | None = None
    labels: tuple[str, ...] = ()
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True)
class Attachment:
    """A file sent with an email: inline (an image the HTML shows by `content_id`) or attached."""

    filename: str
    content_type: str
    data: bytes
    content_id: str | None = None

    @property
    def inline(self) -> bool:
        """Shown inside the HTML rather than listed as an attachment."""
        return self.content_id is not None


@dataclass(frozen=True)
class Report:
    """A document built before sending (the weekly digest): sent as it is, not from a template."""

    subject: str
    html: str
    text: str
    attachments: tuple[Attachment, ...] = ()


@dataclass(frozen=True)
class Alert:
    """One message owed to one recipient; stored in the outbox as JSON, rendered at send time.

    A digest's outbox row stores only `digest_id`; the dispatcher loads the built document into
    `report` before handing the alert to a channel, so the PDF is stored once, not per recipient.
    """

    kind: str
    school_name: str
    severity: str
    headline: str
    items: tuple[AlertItem, ...] = ()
    summary: str = ""
    reply_status: str = ""
    """When a reply is owed and how long is left, or who already answered (empty: no reply)."""
    action: str = ""
    links: tuple[tuple[str, str], ...] = ()
    extra_count: int = 0
    digest_id: int | None = None
    report: Report | None = field(default=None, compare=False, repr=False)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict that `from_json` reads back (the report stays in its own table)."""
        data = asdict(replace(self, report=None))
        del data["report"]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Alert:
        """Rebuild an alert stored by `to_json`."""
        items = tuple(
            AlertItem(
                **{
                    **item,
                    "labels": tuple(item.get("labels", ())),
                    "reasons": tuple(item.get("reasons", ())),
                }
            )
            for item in data.get("items", ())
        )
        links = tuple((str(label), str(url)) for label, url in data.get("links", ()))
        return cls(**{**data, "items": items, "links": links})


@dataclass(frozen=True)
class Recipient:
    """Where an alert goes: a person's address, or a Teams channel's name."""

    address: str
    name: str = ""


class DeliveryStatus(StrEnum):
    """Outcome of one delivery attempt to one recipient."""

    DELIVERED = "delivered"
    RETRY = "retry"
    FAILED = "failed"


@dataclass(frozen=True)
class DeliveryResult:
    """What a channel reports for one recipient: never a bare bool."""

    status: DeliveryStatus
    provider_message_id: str | None = None
    error: str | None = None
    retry_after: datetime | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def delivered(cls, provider_message_id: str | None = None) -> DeliveryResult:
        """The provider accepted the message."""
        return cls(DeliveryStatus.DELIVERED, provider_message_id=provider_message_id)

    @classmethod
    def retry(cls, error: str, retry_after: datetime | None = None) -> DeliveryResult:
        """A passing failure: try again later (at `retry_after` if the provider said)."""
        return cls(DeliveryStatus.RETRY, error=error, retry_after=retry_after)

    @classmethod
    def failed(cls, error: str) -> DeliveryResult:
        """A failure that retrying will not fix (bad address, rejected payload)."""
        return cls(DeliveryStatus.FAILED, error=error)


def message_id_for(idempotency_key: str, domain: str) -> str:
    """An RFC 5322 Message-ID derived from the outbox key, the same on every attempt."""
    digest = hashlib.sha256(idempotency_key.encode("utf-8")).hexdigest()[:32]
    return f"<orm-{digest}@{domain}>"


class Channel(ABC):
    """One way of delivering alerts (SMTP, Graph mail, Teams, mail directory)."""

    type: ClassVar[str]
    delivers_to_people: ClassVar[bool] = True

    def __init__(self, name: str) -> None:
        self.name = name

    @abstractmethod
    def send(self, alert: Alert, recipient: Recipient, idempotency_key: str) -> DeliveryResult:
        """Deliver `alert` to `recipient` once; transient failures come back as RETRY."""

    def confirm(self, idempotency_key: str) -> bool | None:
        """After a crash mid-send: True if the message was delivered, None if we cannot tell."""
        return None

    def describe(self) -> str:
        """A log-safe description (no password, no webhook URL)."""
        return f"{self.type} channel {self.name!r}"

    def close(self) -> None:  # noqa: B027 - optional hook, a no-op by default
        """Release connections; called when the service stops."""
