"""Source connectors: built-ins listed here, third-party ones through entry points."""

from __future__ import annotations

from connectors.base import Registry
from connectors.bluesky import BlueskyConnector
from connectors.facebook import FacebookPageConnector
from connectors.instagram import InstagramConnector
from connectors.mastodon import MastodonConnector
from connectors.rss import RssConnector
from connectors.wikipedia import WikipediaConnector
from connectors.x import XConnector
from connectors.youtube import YouTubeConnector

BUILTIN_CONNECTORS = (
    RssConnector,
    XConnector,
    FacebookPageConnector,
    InstagramConnector,
    YouTubeConnector,
    WikipediaConnector,
    BlueskyConnector,
    MastodonConnector,
)


def default_registry() -> Registry:
    """The built-in connectors plus every installed `orm_monitor.connectors` entry point."""
    registry = Registry()
    for connector in BUILTIN_CONNECTORS:
        registry.register(connector)
    registry.load_entry_points()
    return registry
