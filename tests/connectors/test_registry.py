"""The built-in connectors are all registered, each with what the pipeline relies on."""

from __future__ import annotations

import pytest

from connectors import BUILTIN_CONNECTORS, default_registry


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


@pytest.mark.parametrize("name", sorted(BUILTIN_CONNECTORS))
def test_each_connector_declares_its_metadata(name: str) -> None:
    connector = default_registry().get(name)
    assert connector.name == name
    assert connector.title and connector.default_interval_minutes > 0
    assert connector.Config.model_config.get("extra") == "forbid"
    # only a school's own account is owed replies; searches on it are not
    assert not connector.search_accounts or connector.own_account


def test_wikipedia_and_rss_open_no_reply_window_unless_configured() -> None:
    registry = default_registry()
    assert not registry.get("wikipedia").own_account and not registry.get("rss").own_account
    assert registry.get("facebook").own_account and registry.get("mastodon").own_account


def test_a_platform_client_is_imported_only_when_a_source_uses_it() -> None:
    import subprocess
    import sys

    code = (
        "import sys; from connectors import default_registry; r = default_registry();"
        " r.get('rss'); print(sorted(m for m in ('atproto_client', 'mastodon', 'tweepy',"
        " 'connectors.rss') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "['connectors.rss']"


def test_a_built_in_whose_library_fails_to_import_disables_only_itself(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from connectors.base import Registry

    registry = Registry()
    registry.register_lazy("rss", BUILTIN_CONNECTORS["rss"])
    registry.register_lazy("gone", "connectors.no_such_module:GoneConnector")
    with pytest.raises(KeyError, match="connector 'gone' failed to import: ModuleNotFoundError"):
        registry.get("gone")
    assert "connector gone disabled: it failed to import" in caplog.text
    assert registry.get("rss").name == "rss"
