"""Mastodon (Mastodon.py 2.x): mentions of the school's account, its hashtags and its replies."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from functools import cached_property, partial
from urllib.parse import urlsplit

from connectors.base import (
    Connector,
    FetchResult,
    Item,
    JSONValue,
    PermanentError,
)
from connectors.mastodon.api import (
    PAGE_SIZE,
    SCOPES,
    USER_AGENT,
    Entries,
    HashtagUnknown,
    MastodonClient,
    reset_time,
)
from connectors.mastodon.config import HASHTAG, MastodonSettings
from connectors.mastodon.cursor import Cursor, id_order, newest_id
from connectors.mastodon.parse import (
    BLOCK_TAGS,
    HASHTAGS,
    MENTIONS,
    OWN,
    SchoolAccount,
    _id,
    _text,
    html_to_text,
    parse_boost,
    parse_notification,
    parse_own_status,
    parse_status,
    status_text,
)

__all__ = [
    "BLOCK_TAGS",
    "HASHTAG",
    "HASHTAGS",
    "MENTIONS",
    "OWN",
    "PAGE_SIZE",
    "SCOPES",
    "USER_AGENT",
    "Cursor",
    "Entries",
    "HashtagUnknown",
    "MastodonClient",
    "MastodonConnector",
    "MastodonSettings",
    "SchoolAccount",
    "html_to_text",
    "id_order",
    "newest_id",
    "parse_boost",
    "parse_notification",
    "parse_own_status",
    "parse_status",
    "reset_time",
    "status_text",
]

log = logging.getLogger(__name__)


class MastodonConnector(Connector):
    """Polls a school's Mastodon account: mentions, chosen hashtags and the school's own replies."""

    name = "mastodon"
    title = "Mastodon account"
    default_interval_minutes = 10
    own_account = True
    search_accounts = frozenset({HASHTAGS})

    class Config(MastodonSettings):
        """Settings of one Mastodon account source."""

    settings: Config
    _api: MastodonClient | None = None

    @cached_property
    def school(self) -> SchoolAccount:
        """The school's own account, to recognise its posts and replies."""
        return SchoolAccount.of(self.settings)

    def fetch(self, state: Mapping[str, JSONValue]) -> FetchResult:
        """Read new mentions, hashtag posts and the school's replies since the saved ids."""
        api, cursor = self._client(), Cursor.from_state(state, self.settings.hashtags)
        found: dict[str, Item] = {}
        school, reposts = self.school, self.settings.reposts
        notifications, cursor.mentions = self._walk(api.mentions, cursor.mentions)
        _add(found, (parse_notification(n, school=school, reposts=reposts) for n in notifications))
        tagged = partial(parse_status, school=school, account=HASHTAGS, reposts=reposts)
        for tag in self.settings.hashtags:
            key = tag.casefold()
            statuses, cursor.hashtags[key] = self._walk(
                partial(api.hashtag, tag), cursor.hashtags.get(key)
            )
            _add(found, map(tagged, statuses))
        own, cursor.own = self._walk(api.own_statuses, cursor.own)
        _add(found, (parse_own_status(s, school=self.school) for s in own))
        log.debug("source %s: %d items", self.source_id, len(found))
        return FetchResult(items=tuple(found.values()), new_state=cursor.as_state())

    def probe(self) -> str:
        """One verify_credentials call: whose token it is, and that it is the configured account."""
        me = self._client().me()
        account_id, acct = _id(me.get("id")), _text(me.get("acct"))
        host = urlsplit(self.settings.api_base_url).hostname
        if account_id != self.settings.account_id:
            raise PermanentError(
                f"the token on {host} belongs to @{acct} (account id {account_id}),"
                f" not to account id {self.settings.account_id}",
                fix=f'set account_id = "{account_id}" or store the school account\'s own token',
            )
        tags = ", ".join(f"#{tag}" for tag in self.settings.hashtags) or "no hashtags"
        return f"signed in to {host} as @{acct} (account id {account_id}); watching {tags}"

    def close(self) -> None:
        """Close the HTTP session."""
        if self._api is not None:
            self._api.close()
            self._api = None

    def _walk(
        self, read: Callable[[str | None], Entries], since: str | None
    ) -> tuple[Entries, str | None]:
        """Entries newer than `since`, walking forward with min_id; the latest page when None."""
        entries: Entries = []
        newest = since
        for _ in range(self.settings.max_pages if since else 1):
            page = read(newest)
            entries.extend(page)
            before, newest = newest, newest_id(page, newest)
            if len(page) < PAGE_SIZE or newest == before:
                break
        return entries, newest

    def _client(self) -> MastodonClient:
        if self._api is None:
            token = self.credential(
                self.settings.access_token_credential,
                "Mastodon access token",
                "docs/connectors/mastodon.md",
            )
            self._api = MastodonClient(self.settings, token)
        return self._api


def _add(found: dict[str, Item], items: Iterable[Item | None]) -> None:
    for item in items:
        if item is not None:
            found.setdefault(item.external_id, item)  # a status seen in two streams counts once
