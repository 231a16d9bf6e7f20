"""What RSS, Atom and JSON Feed entries share: ids, links, kinds, and per-entry isolation."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import parse_qs, urljoin, urlsplit, urlunsplit

from connectors.base import Item, ItemKind, PermanentError

ID_LIMIT = 500
"""Longest id or thread id stored as given (the items table's column); longer ones are hashed."""
AUTHOR_LIMIT = 300
LINK_SCHEMES = ("http", "https")
WORDPRESS_COMMENT_FEED_TITLES = ("comments on:", "comments for ")

Report = Callable[[str, str], None]
"""`report(field, reason)`: a field of the entry being read was blanked, and why."""


class FeedSettings(Protocol):
    """What parsing needs from a source's settings."""

    @property
    def kind(self) -> str | None: ...

    @property
    def by_school_authors(self) -> list[str]: ...


@dataclass(frozen=True)
class EntryProblem:
    """A field of one entry that could not be read: blanked, or the entry left out."""

    entry: str
    field: str
    reason: str

    def describe(self) -> str:
        """One line for the log: which entry, which field, what was wrong."""
        return f"entry {self.entry[:200]!r}: {self.field} {self.reason}"


@dataclass(frozen=True)
class FeedReading:
    """The items of one feed document and what had to be left out of them."""

    items: tuple[Item, ...]
    problems: tuple[EntryProblem, ...] = ()
    title: str = ""


def public_url(url: str) -> str:
    """The URL as scheme://host[:port]/path: no credentials, query string or fragment."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        if parts.port is not None:
            host = f"{host}:{parts.port}"
    except ValueError:
        return "(an unreadable URL)"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def not_a_feed(where: str) -> PermanentError:
    """The error for a body that is no feed at all."""
    return PermanentError(
        f"{where} is not an RSS or Atom feed or a JSON Feed (it returned a web page or other"
        " content)",
        fix="use the feed's own URL (often ending /feed or .xml), not the web page's",
    )


def guarded_item(
    build: Callable[[Report], Item], position: str, problems: list[EntryProblem]
) -> Item | None:
    """`build(report)`, where `report(field, reason)` notes a blanked field; None (and the
    reason noted) when the entry cannot be read at all."""
    found: list[tuple[str, str]] = []
    try:
        item = build(lambda field, reason: found.append((field, reason)))
    except Exception as error:
        problems.append(EntryProblem(position, "entry", f"left out: {type(error).__name__}"))
        return None
    problems.extend(EntryProblem(item.external_id, f, reason) for f, reason in found)
    return item


def is_comments_feed(title: str) -> bool:
    """Whether a feed's title says it is a WordPress comments feed."""
    return title.strip().lower().startswith(WORDPRESS_COMMENT_FEED_TITLES)


def is_comment_link(*values: object) -> bool:
    """Whether an entry's link or id points at a WordPress comment."""
    return any("#comment-" in str(value or "") for value in values)


def detected_kind(config: FeedSettings | None, is_comment: bool) -> ItemKind:
    """The configured kind, else comment or article."""
    if config is not None and config.kind:
        return ItemKind(config.kind)
    return ItemKind.COMMENT if is_comment else ItemKind.ARTICLE


def checked_link(link: str | None, report: Report, base: str = "") -> str | None:
    """The entry's web address, relative to `base`, a Google redirect unwrapped; None, and
    reported, when it is no usable web address."""
    if link is None:
        return None
    try:
        url = unwrap_google_redirect(urljoin(base, link))
        scheme = urlsplit(url).scheme.lower()
    except ValueError as error:
        report("link", f"blanked: not a readable address ({error})")
        return None
    if scheme not in LINK_SCHEMES:
        report("link", f"blanked: not a web address ({scheme or 'no'} scheme)")
        return None
    return url


def thread_of(url: str | None) -> str | None:
    """The post a comment belongs to: its address without the #fragment (hashed if long)."""
    if url is None:
        return None
    return stable_id(urlsplit(url)._replace(fragment="").geturl())


def stable_id(value: str) -> str:
    """`value` itself, or a hash of it when it is too long to store as an id."""
    if len(value) <= ID_LIMIT:
        return value
    return "sha256:" + hashlib.sha256(value.encode("utf-8")).hexdigest()


def unwrap_google_redirect(url: str) -> str:
    """The real article URL inside a Google redirect (https://www.google.com/url?url=...).

    ValueError when `url` cannot be read as a URL at all (http://[::1/broken).
    """
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.path != "/url" or not (host == "google.com" or host.startswith("www.google.")):
        return url
    query = parse_qs(parts.query)
    for key in ("url", "q"):
        target = (query.get(key) or [""])[0]
        try:
            if urlsplit(target).scheme in ("http", "https"):
                return target
        except ValueError:
            continue
    return url


def is_school_author(author: str | None, config: FeedSettings | None) -> bool:
    """Whether `author` is one of the names the school posts under."""
    if author is None or config is None:
        return False
    own = {name.strip().casefold() for name in config.by_school_authors}
    return author.casefold() in own
