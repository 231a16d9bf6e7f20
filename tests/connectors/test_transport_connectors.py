"""Every platform connector's real client goes through the guarded transport."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack

import pytest

from connectors.base import Connector
from connectors.bluesky import BlueskyConnector
from connectors.facebook import FacebookPageConnector
from connectors.instagram import InstagramConnector
from connectors.mastodon import MastodonConnector
from connectors.transport import PollDeadlineExceeded, ResponseTooLarge
from connectors.wikipedia import WikipediaConnector
from connectors.x import XConnector
from connectors.youtube import YouTubeConnector
from tests.support.hostile import hostile_server, hosts_to

LIMITS = {"max_response_mb": 1, "poll_deadline_seconds": 1}
Build = Callable[[str], Connector]


def _secret(name: str) -> str:
    return "s3cr3t-token"


def x(base: str) -> Connector:
    config = XConnector.Config(
        user_id="1", username="school", bearer_token_credential="T", **LIMITS
    )
    return XConnector("x", config, _secret)


def facebook(base: str) -> Connector:
    config = FacebookPageConnector.Config(
        page_id="105123456789012", access_token_credential="T", **LIMITS
    )
    return FacebookPageConnector("facebook", config, _secret)


def instagram(base: str) -> Connector:
    config = InstagramConnector.Config(
        ig_user_id="17841405822304914", username="school", access_token_credential="T", **LIMITS
    )
    return InstagramConnector("instagram", config, _secret)


def mastodon(base: str) -> Connector:
    config = MastodonConnector.Config(
        api_base_url=base, account_id="1", access_token_credential="T", **LIMITS
    )
    return MastodonConnector("mastodon", config, _secret)


def wikipedia(base: str) -> Connector:
    config = WikipediaConnector.Config(
        title="Anytown School", api_url=f"{base}/w/api.php", contact="it@school.example", **LIMITS
    )
    return WikipediaConnector("wikipedia", config, _secret)


def youtube(base: str) -> Connector:
    config = YouTubeConnector.Config(
        channel_id="UCs7Tm0rYqL5Ab3xN2pQwE8g", api_key_credential="K", base_url=base, **LIMITS
    )
    return YouTubeConnector("youtube", config, _secret)


def bluesky(base: str) -> Connector:
    config = BlueskyConnector.Config(
        handle="school.bsky.social", app_password_credential="P", base_url=base, **LIMITS
    )
    return BlueskyConnector("bluesky", config, _secret)


CONNECTORS = pytest.mark.parametrize(
    "build", [x, facebook, instagram, mastodon, wikipedia, youtube, bluesky]
)


def serving(mode: str) -> Iterator[str]:
    """A hostile server for every path; the hard-coded API hosts sent to it too."""
    with ExitStack() as stack:
        base = stack.enter_context(hostile_server(mode))
        stack.enter_context(hosts_to(base, "api.twitter.com", "api.x.com", "graph.facebook.com"))
        yield base


@CONNECTORS
def test_a_huge_answer_stops_every_connector_at_its_cap(build: Build) -> None:
    for base in serving("huge"):
        with pytest.raises(ResponseTooLarge, match="response larger than 1 MB"):
            build(base).fetch({})


@CONNECTORS
def test_a_dripping_answer_stops_every_connector_at_its_poll_deadline(build: Build) -> None:
    for base in serving("drip"):
        started = time.monotonic()
        with pytest.raises(PollDeadlineExceeded, match="longer than its 1 s deadline"):
            build(base).fetch({})
        assert time.monotonic() - started < 3
