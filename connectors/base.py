"""The connector contract: what a source returns, how it fails, and how connectors are found."""

from __future__ import annotations

import hashlib
import json
import logging
import socket
import ssl
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from functools import wraps
from importlib import import_module
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from connectors.transport import Limits

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "orm_monitor.connectors"

Clock = Callable[[], datetime]
SettingsT = TypeVar("SettingsT", bound=BaseModel)


def utcnow() -> datetime:
    """The current time, aware, in UTC (a connector's default clock)."""
    return datetime.now(UTC)


def settings_of(config_class: type[SettingsT], config: BaseModel) -> SettingsT:
    """A source's settings as its connector's own Config (the pipeline passes that already)."""
    if isinstance(config, config_class):
        return config
    return config_class.model_validate(config.model_dump())


JSONValue = Any
"""A value that `json.dumps` accepts: raw payloads and cursors are kept in this form."""


class ItemKind(StrEnum):
    """What an item is on its platform."""

    MENTION = "mention"
    COMMENT = "comment"
    REPLY = "reply"
    REVIEW = "review"
    POST = "post"
    ARTICLE = "article"
    EDIT = "edit"
    REPOST = "repost"
    """A repost (X) or boost (Mastodon) of someone's post: its text is the original's."""


@dataclass(frozen=True)
class Author:
    """Who wrote an item, as the platform identifies them."""

    id: str | None = None
    handle: str | None = None
    display_name: str | None = None


@dataclass(frozen=True)
class Item:
    """One mention, comment, review or article, normalised from a platform payload."""

    external_id: str
    kind: ItemKind
    text: str
    created_at: datetime | None
    url: str | None = None
    author: Author = field(default_factory=Author)
    by_school: bool = False
    title: str | None = None
    account: str | None = None
    parent_id: str | None = None
    thread_id: str | None = None
    rating: float | None = None
    deleted: bool = False
    raw: JSONValue = None

    def __post_init__(self) -> None:
        if self.created_at is not None and self.created_at.tzinfo is None:
            raise ValueError(f"item {self.external_id!r}: created_at must be timezone-aware (UTC)")


def network_reason(error: BaseException) -> str:
    """Why a request never got an answer, in a few words, from the innermost network error.

    HTTP clients wrap the socket error several layers deep (requests in urllib3, httpx in
    httpcore); their own messages repeat the whole URL, query string and token included.
    """
    seen: list[BaseException] = []
    pending: list[BaseException] = [error]
    while pending and len(seen) < 20:
        current = pending.pop()
        if any(current is old for old in seen):
            continue
        seen.append(current)
        linked = [current.__cause__, current.__context__, getattr(current, "reason", None)]
        linked += [arg for arg in current.args if isinstance(arg, BaseException)]
        pending += [e for e in linked if isinstance(e, BaseException)]
    names = {type(e).__name__ for e in seen}
    if any(isinstance(e, socket.gaierror) for e in seen) or "NameResolutionError" in names:
        return "the host name does not resolve (DNS, or no route to the internet)"
    if any(isinstance(e, ConnectionRefusedError) for e in seen):
        return "connection refused"
    if any(isinstance(e, TimeoutError) for e in seen) or any("Timeout" in n for n in names):
        return "timed out"
    tls = next((e for e in seen if isinstance(e, ssl.SSLError)), None)
    if tls is not None:
        return f"TLS failed ({getattr(tls, 'reason', None) or type(tls).__name__})"
    os_error = next((e for e in reversed(seen) if isinstance(e, OSError) and e.strerror), None)
    if os_error is not None:
        return str(os_error.strerror).lower()
    return type(seen[-1]).__name__


def parse_utc_time(value: object) -> datetime | None:
    """An ISO 8601 / RFC 3339 timestamp as an aware UTC datetime; a zone-less one is read as
    UTC; None when missing or unreadable. Every platform's created-at fields go through this."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def canonical_json(value: JSONValue) -> str:
    """Serialise a payload the same way every time (sorted keys, no spaces, UTF-8 kept)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def payload_sha256(value: JSONValue) -> str:
    """SHA-256 of a payload's canonical JSON: evidence that a stored copy is unaltered."""
    return hashlib.sha256(canonical_json(value).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class SourceWarning:
    """Something the IT lead must hear about once (a token near expiry, a budget 80 % spent).

    `key` makes it once: the same key is never sent twice for a source. `blind` marks a poll
    that could see nothing (a read budget spent): the digest reports the source as not seen.
    """

    key: str
    message: str
    fix: str
    blind: bool = False


@dataclass(frozen=True)
class FetchResult:
    """What one poll found and the cursor to poll from next time."""

    items: tuple[Item, ...]
    new_state: Mapping[str, JSONValue]
    not_modified: bool = False
    warnings: tuple[SourceWarning, ...] = ()


class ConnectorError(Exception):
    """Base of the errors a connector may raise; any other exception is a bug."""

    fix: str = "see the source's configuration"

    def __init__(self, message: str, *, fix: str | None = None) -> None:
        super().__init__(message)
        if fix is not None:
            self.fix = fix

    def one_line(self) -> str:
        """The error and what to do about it, on one line."""
        return f"{self} (fix: {self.fix})"


class RetriableError(ConnectorError):
    """A passing failure (timeout, 5xx, rate limit): poll again later."""

    fix = "nothing: the source is retried automatically with backoff"

    def __init__(
        self, message: str, *, retry_at: datetime | None = None, fix: str | None = None
    ) -> None:
        super().__init__(message, fix=fix)
        self.retry_at = retry_at


class RateLimited(RetriableError):
    """The platform asked us to wait until `retry_at`."""

    fix = "nothing: polling resumes when the platform's limit resets"


class SourceUnavailable(RetriableError):
    """The source could not be reached or answered with a server error."""


class AuthError(ConnectorError):
    """The token is missing, expired or revoked: the IT lead must act."""

    fix = "renew the source's token and restart the service"


class PermanentError(ConnectorError):
    """A request the platform will never accept, or a payload we cannot parse."""

    fix = "check the source's URL and settings"


class Connector(ABC):
    """Base class: one source type, with its metadata on the class."""

    name: ClassVar[str]
    title: ClassVar[str]
    default_interval_minutes: ClassVar[int] = 15
    own_account: ClassVar[bool] = False
    """True when the source is the school's own account: its comments open reply windows."""
    search_accounts: ClassVar[frozenset[str]] = frozenset()
    """`Item.account` values of items found by searching the platform, not sent to the school:
    they open no reply window unless the source sets `opens_windows = true`."""

    class Config(BaseModel):
        """Connector-specific settings of one source (every source has the HTTP limits)."""

        model_config = ConfigDict(extra="forbid", frozen=True)

        max_response_mb: float = Field(default=10, gt=0, le=1024)
        """The most one HTTP response may hold, on the wire and once decompressed."""
        poll_deadline_seconds: float = Field(default=60, gt=0, le=3600)
        """The most one poll (every request it makes) may take."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name in ("fetch", "probe"):
            method = cls.__dict__.get(name)
            if callable(method) and not getattr(method, "__within_deadline__", False):
                setattr(cls, name, _within_poll_deadline(method))

    def __init__(
        self,
        source_id: str,
        config: BaseModel,
        secrets: Callable[[str], str],
        *,
        clock: Clock | None = None,
    ) -> None:
        self.source_id = source_id
        self.config = config
        self.secrets = secrets
        self.clock = clock or utcnow
        self.settings = settings_of(type(self).Config, config)

    @property
    def limits(self) -> Limits:
        """This source's HTTP limits (byte cap, poll deadline, redirects), from its Config."""
        from connectors.transport import Limits

        return Limits.of(self.settings)

    def credential(self, name: str, what: str, doc: str) -> str:
        """The value of credential `name` (the `what`, e.g. "X bearer token"); AuthError if unset.

        A missing or empty token means the IT lead must act, so it stops the source like a
        refused one; the fix says where the value is read from and which page explains it.
        """
        fix = f"store the {what} as credential {name} (see {doc})"
        try:
            value = self.secrets(name).strip()
        except LookupError as error:
            raise AuthError(
                f"the {what} credential {name} is not available", fix=f"{fix}; {error}"
            ) from None
        if not value:
            raise AuthError(f"the {what} credential {name} is empty", fix=fix)
        return value

    @abstractmethod
    def fetch(self, state: Mapping[str, JSONValue]) -> FetchResult:
        """Poll the source once from `state` (the cursor saved after the previous poll)."""

    def probe(self) -> str:
        """Make one real request and say in one line what works; raise ConnectorError if not."""
        result = self.fetch({})
        return f"reachable, {len(result.items)} items visible"

    def close(self) -> None:  # noqa: B027 - optional hook, a no-op by default
        """Release network clients; called when the service stops."""


ConnectorFactory = type[Connector]

MethodT = TypeVar("MethodT", bound=Callable[..., Any])


def _within_poll_deadline(method: MethodT) -> MethodT:
    """`method` run under one deadline (the source's poll_deadline_seconds) for every request."""
    from connectors.transport import poll_deadline

    @wraps(method)
    def run(self: Connector, *args: Any, **kwargs: Any) -> Any:
        with poll_deadline(self.limits.deadline_seconds):
            return method(self, *args, **kwargs)

    run.__within_deadline__ = True  # type: ignore[attr-defined]
    return run  # type: ignore[return-value]


class Registry:
    """Built-in connectors plus those installed under the `orm_monitor.connectors` entry points."""

    def __init__(self) -> None:
        self._connectors: dict[str, ConnectorFactory] = {}
        self._lazy: dict[str, str] = {}
        self.broken: dict[str, str] = {}

    def register(self, connector: ConnectorFactory) -> None:
        """Add one connector class under its `name`."""
        self._connectors[connector.name] = connector

    def register_lazy(self, name: str, target: str) -> None:
        """Add a connector by `module:Class`, imported the first time a source needs it."""
        self._lazy[name] = target

    def load_entry_points(self) -> None:
        """Import third-party connectors; one that fails disables only itself."""
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            try:
                connector = ep.load()
            except Exception as exc:  # a broken plugin must not stop the service
                self.broken[ep.name] = f"{type(exc).__name__}: {exc}"
                log.error("connector %s disabled: it failed to import (%s)", ep.name, exc)
                continue
            if not (isinstance(connector, type) and issubclass(connector, Connector)):
                self.broken[ep.name] = "entry point is not a Connector subclass"
                log.error("connector %s disabled: its entry point is not a Connector", ep.name)
                continue
            self.register(connector)

    def get(self, name: str) -> ConnectorFactory:
        """The connector class for a source `type`; KeyError names the ones available."""
        if name not in self._connectors and name in self._lazy and name not in self.broken:
            self._import(name, self._lazy[name])
        try:
            return self._connectors[name]
        except KeyError:
            if name in self.broken:
                raise KeyError(
                    f"connector {name!r} failed to import: {self.broken[name]}"
                ) from None
            known = ", ".join(self.names()) or "none"
            raise KeyError(f"unknown source type {name!r} (available: {known})") from None

    def names(self) -> list[str]:
        """Every registered source type."""
        return sorted(set(self._connectors) | set(self._lazy))

    def _import(self, name: str, target: str) -> None:
        module_name, _, class_name = target.partition(":")
        try:
            connector = getattr(import_module(module_name), class_name)
        except Exception as exc:  # a broken client library disables only its own sources
            self.broken[name] = f"{type(exc).__name__}: {exc}"
            log.error("connector %s disabled: it failed to import (%s)", name, exc)
            return
        self.register(connector)
