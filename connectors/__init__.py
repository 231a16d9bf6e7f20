"""Source connectors: built-ins listed here, third-party ones through entry points."""

from __future__ import annotations

from connectors.base import Registry

BUILTIN_CONNECTORS = {
    "rss": "connectors.rss:RssConnector",
    "x": "connectors.x:XConnector",
    "facebook": "connectors.facebook:FacebookPageConnector",
    "instagram": "connectors.instagram:InstagramConnector",
    "youtube": "connectors.youtube:YouTubeConnector",
    "wikipedia": "connectors.wikipedia:WikipediaConnector",
    "bluesky": "connectors.bluesky:BlueskyConnector",
    "mastodon": "connectors.mastodon:MastodonConnector",
}
"""Source type -> `module:Class`. Imported when a source of that type is configured, so a
server pays the memory of the platform clients it uses (atproto alone is ~29 MiB), and a
built-in whose client library is broken disables only itself."""


def default_registry() -> Registry:
    """The built-in connectors plus every installed `orm_monitor.connectors` entry point."""
    registry = Registry()
    for name, target in BUILTIN_CONNECTORS.items():
        registry.register_lazy(name, target)
    registry.load_entry_points()
    return registry
