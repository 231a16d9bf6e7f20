"""Parsing Mastodon payloads: pure functions from documented Status entities to items."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlsplit

from bs4 import BeautifulSoup

from connectors.base import Author, Item, ItemKind, PermanentError, parse_utc_time
from connectors.mastodon.config import KEEP, MastodonSettings, Reposts

BLOCK_TAGS = ("p", "blockquote", "pre", "li", "h1", "h2", "h3", "h4", "h5", "h6")
MENTIONS, HASHTAGS, OWN = "mentions", "hashtag", "own"


@dataclass(frozen=True)
class SchoolAccount:
    """Who the school is on its instance: its account id, and its handle as a fallback."""

    account_id: str
    acct: str | None = None
    instance: str = ""

    @classmethod
    def of(cls, settings: MastodonSettings) -> SchoolAccount:
        """The school's account from a source's settings."""
        host = urlsplit(settings.api_base_url).hostname or ""
        return cls(settings.account_id, settings.acct, host)

    def wrote(self, account: Mapping[str, Any]) -> bool:
        """Whether an Account entity is the school's (same id, or the same handle)."""
        if _id(account.get("id")) == self.account_id:
            return True
        acct = _text(account.get("acct"))
        return bool(self.acct and acct) and self._full(acct) == self._full(self.acct or "")

    def _full(self, acct: str) -> str:
        acct = acct.removeprefix("@").casefold()
        return acct if "@" in acct else f"{acct}@{self.instance.casefold()}"


def parse_notification(
    notification: Mapping[str, Any], *, school: SchoolAccount, reposts: Reposts = "skip"
) -> Item | None:
    """The status of a mention notification; None for other types or a status since deleted."""
    status = notification.get("status")
    if notification.get("type") != "mention" or not isinstance(status, Mapping):
        return None
    return parse_status(status, school=school, account=MENTIONS, raw=notification, reposts=reposts)


def parse_own_status(status: Mapping[str, Any], *, school: SchoolAccount) -> Item | None:
    """One of the school's own statuses, kept only when it replies to someone else."""
    if not _id(status.get("in_reply_to_id")) or status.get("reblog"):
        return None
    if _id(status.get("in_reply_to_account_id")) == school.account_id:
        return None  # the school continuing its own thread answers nobody
    return parse_status(status, school=school, account=OWN)


def parse_status(
    status: Mapping[str, Any],
    *,
    school: SchoolAccount,
    account: str,
    raw: Any = None,
    reposts: Reposts = "skip",
) -> Item | None:
    """A Status entity as an item: a mention, a reply to the school, or the school's own reply.

    A boost (its own content empty, the boosted status in `reblog`) is left out, or kept as a
    `repost` item when `reposts` is "keep".
    """
    boosted = status.get("reblog")
    if not isinstance(boosted, Mapping):
        return _parse_post(status, school=school, account=account, raw=raw)
    if reposts != KEEP:
        return None
    return parse_boost(status, boosted, school=school, account=account, raw=raw)


def parse_boost(
    status: Mapping[str, Any],
    boosted: Mapping[str, Any],
    *,
    school: SchoolAccount,
    account: str,
    raw: Any = None,
) -> Item | None:
    """A boost as a `repost` item by whoever boosted, with the boosted status's text, link and
    thread; None when the school boosted (a boost answers nobody)."""
    boost_id, booster = _id(status.get("id")), _mapping(status.get("account"))
    if not boost_id:
        raise PermanentError("Mastodon sent a boost without an id", fix="report this payload")
    if school.wrote(booster):
        return None
    original = _parse_post(boosted, school=school, account=account)
    return replace(
        original,
        external_id=boost_id,
        kind=ItemKind.REPOST,
        created_at=parse_utc_time(status.get("created_at")),
        author=_author(booster),
        by_school=False,
        parent_id=original.external_id,
        thread_id=original.thread_id,
        raw=dict(status) if raw is None else raw,
    )


def _parse_post(
    status: Mapping[str, Any], *, school: SchoolAccount, account: str, raw: Any = None
) -> Item:
    """A status that is not a boost as an item."""
    status_id = _id(status.get("id"))
    if not status_id:
        raise PermanentError("Mastodon sent a status without an id", fix="report this payload")
    author = _mapping(status.get("account"))
    by_school = school.wrote(author)
    parent = _id(status.get("in_reply_to_id"))
    to_school = _id(status.get("in_reply_to_account_id")) == school.account_id
    if by_school and to_school:
        parent = None  # a thread of the school's own posts is not a reply to anyone
    return Item(
        external_id=status_id,
        kind=_kind(by_school=by_school, parent=parent, to_school=to_school),
        text=status_text(status),
        created_at=parse_utc_time(status.get("created_at")),
        url=_text(status.get("url")) or _text(status.get("uri")) or None,
        author=_author(author),
        by_school=by_school,
        account=account,
        parent_id=parent,
        thread_id=parent or status_id,
        raw=dict(status) if raw is None else raw,
    )


def _author(account: Mapping[str, Any]) -> Author:
    return Author(
        id=_id(account.get("id")),
        handle=_text(account.get("acct")) or None,
        display_name=_text(account.get("display_name")) or _text(account.get("username")) or None,
    )


def _kind(*, by_school: bool, parent: str | None, to_school: bool) -> ItemKind:
    if by_school:
        return ItemKind.REPLY if parent else ItemKind.POST
    return ItemKind.REPLY if parent and to_school else ItemKind.MENTION


def status_text(status: Mapping[str, Any]) -> str:
    """The status's text, after its content warning (`spoiler_text`) as a "CW:" line."""
    body = html_to_text(_text(status.get("content")))
    warning = " ".join(_text(status.get("spoiler_text")).split())
    return f"CW: {warning}\n\n{body}".strip() if warning else body


def html_to_text(html: str) -> str:
    """Mastodon's status HTML as plain text: paragraphs and line breaks kept, links in full.

    Mastodon shortens a link's text with `invisible` spans (the scheme, the tail) around an
    `ellipsis` span; joining the three without spaces gives the full address back.
    """
    soup = BeautifulSoup(html, "html.parser")
    for tag in soup.find_all(("script", "style")):
        tag.decompose()
    for br in soup.find_all("br"):
        br.replace_with("\n")
    for block in soup.find_all(BLOCK_TAGS):
        block.insert_after("\n\n")
    lines = (" ".join(line.split()) for line in soup.get_text().split("\n"))
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _id(value: Any) -> str | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value.strip() or None if isinstance(value, str) else None


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""
