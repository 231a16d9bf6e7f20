"""A school's Facebook Page: its feed (own and visitor posts), comments and replies."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from pydantic import Field

from connectors.base import (
    Author,
    Connector,
    FetchResult,
    Item,
    ItemKind,
    JSONValue,
    parse_utc_time,
)
from connectors.graph import (
    FACEBOOK_HOST,
    MAX_PAGE_SIZE,
    GraphClient,
    GraphSettings,
    JSONObject,
    clean_text,
    collect_until,
    deleted_post,
    https_url,
    newest_since,
    remembered,
    unique,
)
from connectors.graph_errors import Advice, UnknownObject

log = logging.getLogger(__name__)

DOC = "docs/connectors/facebook.md"
PERMISSIONS = ("pages_read_engagement", "pages_read_user_content")
POST_FIELDS = "id,message,created_time,from,permalink_url"
COMMENT_FIELDS = "id,message,created_time,from,parent,permalink_url"
FEED_PAGES = 3
COMMENT_PAGES = 5


class FacebookPageConnector(Connector):
    """Polls one Facebook Page: recent posts and every comment and reply on them."""

    name = "facebook"
    title = "Facebook Page"
    # Comments on the page are owed a reply within 24 hours; ten minutes keeps the alert close
    # to the comment while one poll costs only 1 + (recent posts) calls.
    default_interval_minutes = 10
    own_account = True

    class Config(GraphSettings):
        """Settings of one Facebook Page source."""

        page_id: str = Field(pattern=r"^\d+$", description="the Page's numeric id")
        max_posts: int = Field(default=25, ge=1, le=MAX_PAGE_SIZE)

    settings: Config
    _client: GraphClient | None = None

    def fetch(self, state: Mapping[str, JSONValue]) -> FetchResult:
        """Read the feed, then the comments of every post made in the last `lookback_days`."""
        graph = self._graph()
        calls_before = graph.calls
        known = remembered(state, "posts")
        cutoff = self.clock() - timedelta(days=self.settings.lookback_days)
        feed = graph.recent(
            f"{self.settings.page_id}/feed",
            known,
            cutoff,
            "created_time",
            max_pages=FEED_PAGES,
            fields=POST_FIELDS,
            limit=self.settings.max_posts,
        )
        watched = watch_list(known, feed, cutoff, self.settings.max_posts)
        items = [parse_post(post, self.settings.page_id) for post in feed]
        cursors: dict[str, JSONObject] = {}
        for post_id, cursor in watched.items():
            found = self._read_comments(graph, post_id, cursor)
            if found is None:
                items.append(deleted_post(post_id, cursor.get("created"), "feed"))
                continue
            items.extend(parse_comment(c, post_id, self.settings.page_id) for c in found)
            cursors[post_id] = advance(cursor, found)
        log.debug(
            "source %s: %d posts, %d items in %d Graph calls",
            self.source_id,
            len(feed),
            len(items),
            graph.calls - calls_before,
        )
        return FetchResult(items=unique(items), new_state={"posts": cursors})

    def probe(self) -> str:
        """One request: the page's name and whether its feed can be read with this token."""
        page = self._graph().get(
            self.settings.page_id, fields="id,name,feed.limit(1){id,created_time}"
        )
        name = str(page.get("name") or "(unnamed)")
        feed = page.get("feed")
        posts = feed.get("data") if isinstance(feed, dict) else None
        count = len(posts) if isinstance(posts, list) else 0
        latest = "latest post visible" if count else "no posts visible yet"
        return f"page '{name}' ({self.settings.page_id}): feed readable, {latest}"

    def close(self) -> None:
        """Close the Graph API session."""
        if self._client is not None:
            self._client.close()
            self._client = None

    def _graph(self) -> GraphClient:
        if self._client is None:
            self._client = GraphClient(
                self.credential(self.settings.access_token_credential, "Facebook Page token", DOC),
                advice=Advice(
                    DOC, self.settings.access_token_credential, PERMISSIONS, "page_id", "page id"
                ),
                version=self.settings.graph_version,
                host=FACEBOOK_HOST,
                timeout=self.settings.timeout_seconds,
                clock=self.clock,
                limits=self.limits,
            )
        return self._client

    def _read_comments(
        self, graph: GraphClient, post_id: str, cursor: JSONObject
    ) -> list[JSONObject] | None:
        """Comments and replies, newest first, until the cursor's; None if the post is gone."""
        pages = graph.pages(
            f"{post_id}/comments",
            max_pages=COMMENT_PAGES,
            filter="stream",
            order="reverse_chronological",
            fields=COMMENT_FIELDS,
            limit=MAX_PAGE_SIZE,
        )
        try:
            return collect_until(pages, lambda page: reached(cursor, page))
        except UnknownObject:
            log.info("source %s: post %s is gone (deleted or hidden)", self.source_id, post_id)
            return None


# --- Cursor: recent posts and, per post, the newest comment seen ---------------------------


def watch_list(
    known: Mapping[str, JSONObject],
    feed: Iterable[JSONObject],
    cutoff: datetime,
    max_posts: int,
) -> dict[str, JSONObject]:
    """Posts whose comments are read this poll: made since `cutoff`, newest first, at most N."""
    watched = dict(known)
    for post in feed:
        post_id = str(post.get("id") or "")
        if post_id and post_id not in watched:
            watched[post_id] = {"created": post.get("created_time"), "newest": None, "ids": []}
    return newest_since(watched, cutoff, max_posts)


def reached(cursor: Mapping[str, Any], page: list[JSONObject]) -> bool:
    """Whether a page (newest first) reaches back to the newest comment of the previous poll."""
    newest = parse_utc_time(cursor.get("newest"))
    if newest is None:
        return False
    seen = set(cursor.get("ids") or [])
    times = [t for c in page if (t := parse_utc_time(c.get("created_time"))) is not None]
    return any(c.get("id") in seen for c in page) or min(times, default=newest) < newest


def advance(cursor: Mapping[str, Any], comments: list[JSONObject]) -> JSONObject:
    """The post's cursor after a poll: the newest comment time and the ids made at that time."""
    newest = parse_utc_time(cursor.get("newest"))
    ids = set(cursor.get("ids") or [])
    for comment in comments:
        created = parse_utc_time(comment.get("created_time"))
        if created is None or (newest is not None and created < newest):
            continue
        if newest is None or created > newest:
            newest, ids = created, set()
        ids.add(str(comment.get("id")))
    return {
        "created": cursor.get("created"),
        "newest": newest.isoformat() if newest else None,
        "ids": sorted(ids),
    }


# --- Parsing: pure functions from Graph payloads to items ----------------------------------


def parse_post(post: JSONObject, page_id: str) -> Item:
    """A feed post: the page's own (by_school) or a visitor's; its own thread."""
    post_id = str(post["id"])
    author = _author(post.get("from"))
    return Item(
        external_id=post_id,
        kind=ItemKind.POST,
        text=clean_text(post.get("message")),
        created_at=parse_utc_time(post.get("created_time")),
        url=https_url(post.get("permalink_url")),
        author=author,
        by_school=author.id == page_id,
        account="feed",
        thread_id=post_id,
        raw=post,
    )


def parse_comment(comment: JSONObject, post_id: str, page_id: str) -> Item:
    """A comment (parent: the post) or a reply (parent: the comment it answers)."""
    parent = comment.get("parent")
    parent_id = str(parent["id"]) if isinstance(parent, dict) and parent.get("id") else None
    author = _author(comment.get("from"))
    return Item(
        external_id=str(comment["id"]),
        kind=ItemKind.REPLY if parent_id else ItemKind.COMMENT,
        text=clean_text(comment.get("message")),
        created_at=parse_utc_time(comment.get("created_time")),
        url=https_url(comment.get("permalink_url")),
        author=author,
        by_school=author.id == page_id,
        account="comments",
        parent_id=parent_id or post_id,
        thread_id=post_id,
        raw=comment,
    )


def _author(value: Any) -> Author:
    if not isinstance(value, dict):
        return Author()
    given = value.get("id")
    return Author(id=str(given) if given else None, display_name=value.get("name") or None)
