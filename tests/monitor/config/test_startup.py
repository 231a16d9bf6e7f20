"""check-config OK means `run` starts: both run the same checks, on every config the suite uses."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import tomli_w

from monitor.cli.app import main
from monitor.config.loading import load_config, load_demo_config
from monitor.config.schema import OrmConfig
from monitor.config.secrets import read_secret
from monitor.config.watchlist import school_key, write_list
from monitor.service.daemon import Service
from tests.support.config import raw_config, rss_source
from tests.support.digest_week import school_config

REPO = Path(__file__).resolve().parents[3]
KEY = "a pupil-name key for the tests, 32 characters or more"
EXAMPLE_CREDENTIALS = [
    "SMTP_PASSWORD",
    "GRAPH_CLIENT_SECRET",
    "TEAMS_WEBHOOK_URL",
    "FB_PAGE_TOKEN",
    "IG_TOKEN",
    "X_BEARER_TOKEN",
    "YOUTUBE_API_KEY",
    "BLUESKY_APP_PASSWORD",
    "MASTODON_TOKEN",
    "TRUST_SMTP_PASSWORD",
    "PUPIL_HASH_KEY",
]


@pytest.fixture
def credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A systemd-style credentials directory holding every credential the example names."""
    directory = tmp_path / "credentials"
    directory.mkdir()
    for name in EXAMPLE_CREDENTIALS:
        (directory / name).write_text(KEY if name == "PUPIL_HASH_KEY" else f"value of {name}")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(directory))
    return directory


def installed_example(tmp_path: Path, *, pupils: bool = True) -> str:
    """config.example.toml as README installs it, the state directory under `tmp_path`, with
    the pupil list made as README says (its two commented-out keys switched on)."""
    text = (REPO / "config.example.toml").read_text(encoding="utf-8")
    text = text.replace("/var/lib/orm-monitor", str(tmp_path / "state"))
    text = text.replace('profile = "default"', 'profile = "rules"')  # the model has its own tests
    if pupils:
        listed = tmp_path / "pupils-st-marys.txt"
        lines = write_list(["Amelia Brown"], school_key(KEY, "st-marys"), "st-marys")
        listed.write_text("\n".join(lines) + "\n", encoding="utf-8")
        text = text.replace(
            '# pupil_name_hashes_file = "/etc/orm-monitor/pupils-st-marys.txt"',
            f'pupil_name_hashes_file = "{listed}"',
        )
        text = text.replace(
            '# pupil_hash_key_credential = "PUPIL_HASH_KEY"',
            'pupil_hash_key_credential = "PUPIL_HASH_KEY"',
        )
    return text


def write(tmp_path: Path, text: str, name: str = "config.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def starts(config: OrmConfig) -> None:
    """What `run` builds and prepares before its scheduler starts (migrate, load, reconcile)."""
    service = Service(config, secrets=read_secret)
    try:
        service.prepare()
    finally:
        service.stop()


def valid_configs(tmp_path: Path, database_url: str) -> Iterator[tuple[str, Path]]:
    raw = raw_config(database_url=database_url, sources=[rss_source("https://example.org/f")])
    raw["service"]["state_dir"] = str(tmp_path / "state")
    yield "tests/support/config.py", write(tmp_path, tomli_w.dumps(raw), "support.toml")
    week = school_config(database_url, tmp_path).model_dump(mode="json", exclude_none=True)
    yield "tests/support/digest_week.py", write(tmp_path, tomli_w.dumps(week), "week.toml")
    yield "config.example.toml", write(tmp_path, installed_example(tmp_path), "example.toml")
    yield (
        "config.example.toml (no pupil list)",
        write(tmp_path, installed_example(tmp_path, pupils=False), "example-bare.toml"),
    )


def test_every_config_the_suite_treats_as_valid_passes_check_config_and_starts(
    tmp_path: Path, database_url: str, credentials: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, path in valid_configs(tmp_path, database_url):
        assert main(["--config", str(path), "check-config"]) == 0, (name, capsys.readouterr())
        starts(load_config(path))
    demo = tmp_path / "demo"
    assert main(["--demo", "--state-dir", str(demo), "check-config"]) == 0
    starts(load_demo_config(demo))


@pytest.mark.parametrize(
    "change, message",
    [
        (
            lambda t: t.replace("# pupil_name_hashes_file", "pupil_name_hashes_file").replace(
                "# pupil_hash_key_credential", "pupil_hash_key_credential"
            ),
            r"schools\[st-marys\]\.pupil_name_hashes_file: cannot read /etc/orm-monitor/"
            r"pupils-st-marys.txt: No such file or directory; redo the list from the names: "
            r"orm-monitor watchlist hash --school st-marys",
        ),
        (
            lambda t: t.replace('timezone = "Europe/London"', 'timezone = "Europe/Lonodn"'),
            r"service\.timezone: .*unknown time zone 'Europe/Lonodn': use an IANA name",
        ),
        (
            lambda t: t.replace('web_listen = "127.0.0.1:8080"', 'web_listen = "127.0.0.1:99999"'),
            r"service\.web_listen: .*the port must be 1 to 65535",
        ),
        (
            lambda t: t.replace(
                '# link_secret_credential = "LINK_SECRET"', 'link_secret_credential = "LINK_SECRET"'
            ),
            r"service\.link_secret_credential: credential 'LINK_SECRET' is not set",
        ),
        (
            lambda t: t.replace('profile = "rules"', 'profile = "default"').replace(
                "# sentiment = ", "sentiment = "
            ),
            r"classifier\.models\.sentiment: model 'cardiffnlp/twitter-roberta-base-sentiment-"
            r"latest' is not on this server: run `orm-monitor models pull",
        ),
        (
            lambda t: t.replace('profile = "rules"', 'profile = "default"').replace(
                "# heads = ", "heads = "
            ),
            r"classifier\.heads: \S+/heads holds no trained heads "
            r"\(heads\.npz and manifest\.json\)",
        ),
    ],
)
def test_what_would_stop_run_fails_check_config_and_run_with_exit_2_and_the_fix(
    tmp_path: Path, credentials: Path, capsys: pytest.CaptureFixture[str], change: Any, message: str
) -> None:
    path = write(tmp_path, change(installed_example(tmp_path, pupils=False)))
    for command in (["check-config"], ["run", "--once"]):
        assert main(["--config", str(path), *command]) == 2
        err = capsys.readouterr().err
        assert re.search(message, err), err
        assert "Traceback" not in err
        assert err.count("\n  ") == 1  # one problem, one line


def test_a_missing_config_exits_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("ORM_MONITOR_CONFIG", raising=False)
    assert main(["--config", str(tmp_path / "nowhere.toml"), "check-config"]) == 2
    assert "No such file or directory; pass --config FILE" in capsys.readouterr().err
