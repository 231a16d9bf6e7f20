"""Every problem in the config at once, each with a path naming ids; never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
import tomli_w

from monitor.cli.app import main
from monitor.config.loading import ConfigError
from tests.support.config import build, raw_config, rss_source


def problems_of(raw: dict[str, object]) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        build(raw)
    return [str(p) for p in caught.value.problems]


def test_shape_unknown_keys_and_references_are_reported_in_one_run() -> None:
    source = rss_source("https://example.org/feed", source_id="fb-page", lead="nobody")
    source |= {"interval_minutes": -5, "timeout_secs": 3}
    raw = raw_config(database_url="sqlite://", sources=[source])
    raw["schools"][0]["nation"] = "france"
    raw["schools"][0]["people"][1]["email"] = "not-an-address"
    raw["schools"][0]["fallback_channel"] = "pager"
    found = "\n".join(problems_of(raw))
    for expected in (
        "schools[st-marys].nation: Input should be",
        "schools[st-marys].people[apatel].email: Value error, 'not-an-address' is not an email",
        "schools[st-marys].sources[fb-page].interval_minutes: Input should be greater than 0",
        "schools[st-marys].sources[fb-page].timeout_secs: unknown key",
        "schools[st-marys].sources[fb-page].lead: no person with id 'nobody' in people",
        "schools[st-marys].fallback_channel: no channel named 'pager' in channels",
    ):
        assert expected in found, found


def test_a_person_left_out_while_checking_is_not_reported_as_missing() -> None:
    raw = raw_config(database_url="sqlite://", sources=[rss_source("https://e.org/f")])
    del raw["schools"][0]["people"][0]["email"]  # jsmith, the blog's lead
    raw["schools"][0]["routing"] = {"threat": {"notify": ["ghost"]}}
    assert problems_of(raw) == [
        "schools[st-marys].people[jsmith].email: Field required",
        "schools[st-marys].routing.threat.notify: 'ghost' is neither a role (account_manager, "
        "data_protection_lead, dsl, it_lead, lead, slt) nor a person id",
    ]


def test_a_webhook_url_in_the_file_is_one_problem_at_its_own_path() -> None:
    channels = {
        "mail": {"type": "maildir", "path": "var/mail"},
        "teams": {"type": "teams", "webhook_url": "https://example.org/hook/secret"},
    }
    found = problems_of(raw_config(database_url="sqlite://", channels=channels))
    assert len(found) == 1, found
    assert found[0].startswith("schools[st-marys].channels.teams.webhook_url: secrets are never")
    assert "hook/secret" not in found[0]


@pytest.mark.parametrize(
    "data, expected",
    [
        (b'schema_version = 1\nname = "caf\xe9"\n', "not UTF-8 text (byte 30, line 2)"),
        (b"\xef\xbb\xbfschema_version = 1\n", "schools: Field required"),  # a BOM is fine
    ],
)
def test_a_config_file_that_is_not_utf8_is_one_line_not_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], data: bytes, expected: str
) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes(data)
    assert main(["--config", str(path), "check-config"]) == 2
    err = capsys.readouterr().err
    assert expected in err and "Traceback" not in err and "Invalid statement" not in err


def test_a_credential_file_that_is_not_utf8_is_a_problem_saying_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    source = rss_source("https://e.org/f") | {"type": "mastodon"}
    del source["url"]
    source |= {
        "api_base_url": "https://mastodon.example",
        "account_id": "1",
        "access_token_credential": "MASTODON_TOKEN",
    }
    raw = raw_config(database_url=f"sqlite:///{tmp_path}/db.sqlite", sources=[source])
    raw["service"]["state_dir"] = str(tmp_path)
    path = tmp_path / "config.toml"
    path.write_text(tomli_w.dumps(raw))
    (tmp_path / "MASTODON_TOKEN").write_bytes(b"\xff\xfetoken")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path))
    assert main(["--config", str(path), "check-config"]) == 2
    err = capsys.readouterr().err
    assert "schools[st-marys].sources[blog].access_token_credential: credential" in err
    assert "is not UTF-8 text" in err and "Traceback" not in err
    (tmp_path / "MASTODON_TOKEN").write_bytes(b"\xef\xbb\xbftoken\n")  # a BOM is fine
    assert main(["--config", str(path), "check-config"]) == 0
