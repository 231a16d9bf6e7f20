"""The built-in connectors are all registered, each with what the pipeline relies on."""

from __future__ import annotations

import pytest

from connectors import BUILTIN_CONNECTORS, default_registry
from connectors.base import Connector


def test_every_platform_of_the_design_is_a_built_in_source_type() -> None:
    assert default_registry().names() == [
        "bluesky",
        "facebook",
        "instagram",
        "mastodon",
        "rss",
        "wikipedia",
        "x",
        "youtube",
    ]


@pytest.mark.parametrize("connector", BUILTIN_CONNECTORS, ids=lambda c: c.name)
def test_each_connector_declares_its_metadata(connector: type[Connector]) -> None:
    assert connector.title and connector.default_interval_minutes > 0
    assert connector.Config.model_config.get("extra") == "forbid"
    # only a school's own account is owed replies; searches on it are not
    assert not connector.search_accounts or connector.own_account


def test_wikipedia_and_rss_open_no_reply_window_unless_configured() -> None:
    registry = default_registry()
    assert not registry.get("wikipedia").own_account and not registry.get("rss").own_account
    assert registry.get("facebook").own_account and registry.get("mastodon").own_account
