"""Built-in connectors are all registered; a third-party one joins through its entry point."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import tomli_w

from connectors import BUILTIN_CONNECTORS, default_registry
from tests.support.config import raw_config


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


NOTICEBOARD = '''\
"""A third-party connector, installed as its own distribution."""
from datetime import UTC, datetime

from connectors.base import Connector, FetchResult, Item, ItemKind


class NoticeboardConnector(Connector):
    name = "noticeboard"
    title = "Parish noticeboard"
    default_interval_minutes = 30

    class Config(Connector.Config):
        board: str

    def fetch(self, state):
        text = f"{self.settings.board}: someone wrote they will stab the head at St Marys"
        when = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
        return FetchResult((Item("note-1", ItemKind.POST, text, when),), {})
'''


def install_plugin(site: Path) -> None:
    """A real installed distribution: a module and a dist-info naming its entry point."""
    (site / "orm_noticeboard.py").write_text(NOTICEBOARD, encoding="utf-8")
    dist = site / "orm_noticeboard-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: orm-noticeboard\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        "[orm_monitor.connectors]\nnoticeboard = orm_noticeboard:NoticeboardConnector\n"
    )


def orm_monitor(site: Path, config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(site)}
    command = [sys.executable, "-m", "monitor.cli", "--config", str(config), *args]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)


def with_noticeboard(tmp_path: Path, **settings: str) -> tuple[Path, Path]:
    """The plugin installed in a site directory, and a config with one source of its type."""
    site = tmp_path / "site"
    site.mkdir()
    install_plugin(site)
    source = {"id": "board", "type": "noticeboard", "lead": "jsmith", **settings}
    raw = raw_config(database_url=f"sqlite:///{tmp_path / 'orm.db'}", sources=[source])
    config = tmp_path / "config.toml"
    config.write_text(tomli_w.dumps(raw), encoding="utf-8")
    return site, config


def test_a_connector_installed_under_the_entry_point_group_is_a_source_type(
    tmp_path: Path,
) -> None:
    site, config = with_noticeboard(tmp_path, board="High Street")

    checked = orm_monitor(site, config, "check-config")
    assert checked.returncode == 0, checked.stderr
    assert "config OK: 1 school(s), 1 source(s)" in checked.stdout

    polled = orm_monitor(site, config, "poll", "board", "--dry-run")
    assert polled.returncode == 0, polled.stderr
    assert "board: 1 item(s) fetched (dry run: nothing stored)" in polled.stdout
    assert "[critical] threat" in polled.stdout and "High Street" in polled.stdout


def test_a_third_party_source_is_checked_against_its_own_config_model(tmp_path: Path) -> None:
    site, config = with_noticeboard(tmp_path, boards="High Street")

    checked = orm_monitor(site, config, "check-config")
    assert checked.returncode == 2
    assert "schools[st-marys].sources[board].board: Field required" in checked.stderr
    assert "schools[st-marys].sources[board].boards: unknown key" in checked.stderr
