"""Source connectors: built-ins listed here, third-party ones through entry points."""

from __future__ import annotations

from connectors.base import Registry
from connectors.rss import RssConnector

BUILTIN_CONNECTORS = (RssConnector,)


def default_registry() -> Registry:
    """The built-in connectors plus every installed `orm_monitor.connectors` entry point."""
    registry = Registry()
    for connector in BUILTIN_CONNECTORS:
        registry.register(connector)
    registry.load_entry_points()
    return registry
