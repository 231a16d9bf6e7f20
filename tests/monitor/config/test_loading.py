"""The config file: validated strictly, every problem reported at once, secrets kept out."""

from __future__ import annotations

from pathlib import Path

import pytest
import tomli_w

from monitor.cli.app import main
from monitor.config.loading import ConfigError, load_config, load_demo_config, parse_config_text
from monitor.config.secrets import MissingSecret, read_secret
from tests.support.config import build, raw_config, rss_source

REPO = Path(__file__).resolve().parents[3]


def test_the_example_config_is_valid_and_documents_a_trust_ready_school() -> None:
    config = load_config(REPO / "config.example.toml")
    school = config.school("st-marys")
    assert {p.id for p in school.people_with("dsl")} == {"apatel", "bjones"}
    assert set(school.channels) == {"email", "m365", "teams", "trial"}
    assert [s.id for _, s in config.sources()] == [
        "st-marys-google-alert",
        "st-marys-blog-comments",
        "st-marys-facebook",
        "st-marys-instagram",
        "st-marys-x",
        "st-marys-youtube",
        "st-marys-bluesky",
        "st-marys-mastodon",
        "st-marys-wikipedia",
    ]
    _, blog = config.source("st-marys-blog-comments")
    assert set(blog.routing) == {"criticism"}  # the override stays with the source it follows


def test_the_demo_config_points_at_bundled_feeds_and_the_state_dir(tmp_path: Path) -> None:
    config = load_demo_config(tmp_path, mastodon_url="http://127.0.0.1:8123")
    assert config.service.database_url == f"sqlite:///{tmp_path}/orm-monitor.db"
    feeds = [source for _, source in config.sources() if source.type == "rss"]
    assert len(feeds) == 2
    for source in feeds:
        path = Path(source.connector_settings()["url"].removeprefix("file://"))
        assert path.is_file()
    _, mastodon = config.source("demo-mastodon")
    assert mastodon.connector_settings()["api_base_url"] == "http://127.0.0.1:8123"


def test_every_problem_is_reported_at_once_with_its_key_path() -> None:
    raw = raw_config(database_url="sqlite://", sources=[rss_source("ftp://x", lead="nobody")])
    raw["schools"][0]["nation"] = "france"
    raw["schools"][0]["people"][0]["email"] = "not-an-address"
    raw["alerts"]["max_attempts"] = 0
    raw["service"]["colour"] = "blue"
    with pytest.raises(ConfigError) as caught:
        build(raw)
    paths = {p.path for p in caught.value.problems}
    assert {
        "schools[st-marys].nation",
        "schools[st-marys].people[jsmith].email",
        "alerts.max_attempts",
        "service.colour",
    } <= paths
    assert "unknown key" in str(caught.value)


def test_cross_references_are_checked_after_the_shape() -> None:
    raw = raw_config(
        database_url="sqlite://",
        sources=[
            rss_source("https://example.org/feed", lead="nobody"),
            rss_source("https://example.org/feed2", source_id="blog", timeout_secs=3),
        ],
    )
    raw["schools"][0]["routing"] = {"threat": {"notify": ["headteacher"], "teams": ["ghost"]}}
    raw["schools"][0]["fallback_channel"] = "pager"
    with pytest.raises(ConfigError) as caught:
        build(raw)
    text = "\n".join(str(p) for p in caught.value.problems)
    assert "schools[st-marys].sources[blog].lead: no person with id 'nobody'" in text
    assert "source id 'blog' is used more than once" in text
    assert "schools[st-marys].routing.threat.notify: 'headteacher' is neither a role" in text
    assert "schools[st-marys].routing.threat.teams: no Teams channel named 'ghost'" in text
    assert "schools[st-marys].fallback_channel: no channel named 'pager'" in text
    assert "schools[st-marys].sources[blog].timeout_secs: unknown key" in text


def test_an_unknown_source_type_names_the_available_ones() -> None:
    raw = raw_config(
        database_url="sqlite://", sources=[{"id": "fb", "type": "myspace", "lead": "jsmith"}]
    )
    with pytest.raises(ConfigError) as caught:
        build(raw)
    assert (
        "unknown source type 'myspace' (available: bluesky, facebook, instagram, mastodon, rss,"
        " wikipedia, x, youtube)"
    ) in str(caught.value)


@pytest.mark.parametrize(
    "section, key",
    [
        ("channel", "password"),
        ("channel", "webhook_url"),
        ("source", "bearer_token"),
        ("source", "api_key"),
        ("channel", "client_secret"),
    ],
)
def test_a_secret_written_in_the_file_is_rejected_with_where_it_belongs(
    section: str, key: str
) -> None:
    raw = raw_config(database_url="sqlite://", sources=[rss_source("https://e.org/f")])
    target = (
        raw["schools"][0]["channels"]["mail"]
        if section == "channel"
        else raw["schools"][0]["sources"][0]
    )
    target[key] = "hunter2"
    with pytest.raises(ConfigError) as caught:
        build(raw)
    message = str(caught.value)
    assert f"{key}_credential" in message and "CREDENTIALS_DIRECTORY" in message
    assert "hunter2" not in message


def test_a_database_password_in_the_url_is_rejected() -> None:
    raw = raw_config(database_url="postgresql://orm:s3cret@db/orm")
    with pytest.raises(ConfigError) as caught:
        build(raw)
    assert "database_url_credential" in str(caught.value)
    assert "s3cret" not in str(caught.value)


def test_toml_syntax_errors_say_where() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config_text("schema_version = 1\n[service\n", "broken.toml")
    assert "broken.toml" in str(caught.value) and "line 2" in str(caught.value)


def test_credentials_come_from_the_credentials_directory_before_the_environment(
    tmp_path: Path,
) -> None:
    (tmp_path / "SMTP_PASSWORD").write_text("from-file\n")
    env = {"CREDENTIALS_DIRECTORY": str(tmp_path), "SMTP_PASSWORD": "from-env", "OTHER": "env-only"}
    assert read_secret("SMTP_PASSWORD", env) == "from-file"
    assert read_secret("OTHER", env) == "env-only"
    with pytest.raises(MissingSecret, match="LoadCredential=MISSING"):
        read_secret("MISSING", env)


def test_check_config_exits_non_zero_and_prints_every_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        'schema_version = 1\n[[schools]]\nid = "Bad Id"\nname = "X"\npassword = "hunter2"\n'
    )
    assert main(["--config", str(path), "check-config"]) == 2
    err = capsys.readouterr().err
    assert "schools[Bad Id].id" in err and "schools[Bad Id].password" in err
    assert "hunter2" not in err


def test_check_config_reports_credentials_the_process_cannot_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    monkeypatch.delenv("SMTP_PASSWORD", raising=False)
    monkeypatch.delenv("TEAMS_WEBHOOK_URL", raising=False)
    monkeypatch.setenv("GRAPH_CLIENT_SECRET", "x")
    assert main(["--config", str(REPO / "config.example.toml"), "check-config"]) == 2
    err = capsys.readouterr().err
    assert "schools[st-marys].channels.email.password_credential: credential 'SMTP_PASSWORD'" in err
    assert "schools[st-marys].channels.teams.webhook_url_credential" in err
    assert "GRAPH_CLIENT_SECRET" not in err


def test_check_config_passes_on_a_good_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--demo", "--state-dir", str(tmp_path), "check-config"]) == 0
    assert "config OK: 1 school(s), 3 source(s)" in capsys.readouterr().out


def test_probe_makes_one_request_per_source_and_says_what_works(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--demo", "--state-dir", str(tmp_path), "check-config", "--probe"]) == 0
    lines = capsys.readouterr().out.splitlines()[1:]
    assert [line.split(":")[0] for line in lines] == [
        "ok    demo-blog-comments",
        "ok    demo-google-alerts",
        "ok    demo-mastodon",
    ]
    assert "signed in to 127.0.0.1 as @stmarys_anytown (account id 109000000000000001)" in lines[2]
    assert "watching #StMarysAnytown" in lines[2]


def test_an_smtp_password_over_a_clear_text_connection_is_refused() -> None:
    raw = raw_config(
        database_url="sqlite://",
        channels={
            "email": {
                "type": "smtp",
                "host": "smtp.example.org",
                "security": "none",
                "password_credential": "SMTP_PASSWORD",
                "from_address": "a@school.example",
            }
        },
    )
    with pytest.raises(ConfigError, match="clear text"):
        build(raw)


def test_a_closure_calendar_that_cannot_be_read_is_a_config_problem(tmp_path: Path) -> None:
    (tmp_path / "closures.ics").write_text("not a calendar")
    raw = raw_config(database_url="sqlite://")
    raw["schools"][0]["calendar"] = {
        "closures": ["2026-13-01"],
        "closures_ics": str(tmp_path / "closures.ics"),
    }
    with pytest.raises(ConfigError) as caught:
        build(raw)
    paths = {p.path for p in caught.value.problems}
    assert "schools[st-marys].calendar.closures[0]" in paths
    raw["schools"][0]["calendar"]["closures"] = ["2026-12-18", "2027-01-04..2027-01-05"]
    with pytest.raises(ConfigError) as caught:
        build(raw)
    assert [p.path for p in caught.value.problems] == ["schools[st-marys].calendar.closures_ics"]
    assert "closures.ics" in str(caught.value)


@pytest.mark.parametrize(
    "args, expected",
    [
        (
            ["due", "2026-12-18T18:00", "--nation", "england"],
            "received Fri 18 Dec 2026 18:00 GMT → due Mon 21 Dec 2026 18:00 GMT",
        ),
        (["due", "2026-04-02T10:00", "--nation", "scotland"], "→ due Mon 6 Apr 2026 10:00 BST"),
        (["due", "2026-04-02T10:00", "--nation", "england"], "→ due Tue 7 Apr 2026 10:00 BST"),
        (
            ["due", "2026-11-21T09:00", "--nation", "wales", "--urgent"],
            "→ due Sun 22 Nov 2026 09:00 GMT (urgent",
        ),
    ],
)
def test_due_answers_from_the_rule_without_a_config(
    args: list[str], expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(args) == 0
    assert expected in capsys.readouterr().out


def test_due_uses_the_schools_own_closures(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    raw = raw_config(database_url="sqlite://")
    raw["schools"][0]["calendar"] = {"closures": ["2026-12-21"]}  # an INSET Monday
    path = tmp_path / "config.toml"
    path.write_text(tomli_w.dumps(raw))
    assert main(["--config", str(path), "due", "2026-12-18T18:00", "--school", "st-marys"]) == 0
    assert "→ due Tue 22 Dec 2026 18:00 GMT" in capsys.readouterr().out
    assert main(["due", "yesterday", "--nation", "england"]) == 1
    assert "yesterday" in capsys.readouterr().err


def test_probe_names_an_unreachable_source_and_what_to_check(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens here once the socket closes
    source = {
        "id": "mastodon",
        "type": "mastodon",
        "lead": "jsmith",
        "api_base_url": f"http://127.0.0.1:{port}",
        "account_id": "109000000000000001",
        "access_token_credential": "MASTODON_TOKEN",
    }
    path = tmp_path / "config.toml"
    path.write_text(tomli_w.dumps(raw_config(database_url="sqlite://", sources=[source])))
    monkeypatch.setenv("MASTODON_TOKEN", "a-token")
    assert main(["--config", str(path), "check-config", "--probe"]) == 1
    line = capsys.readouterr().out.splitlines()[-1]
    assert line.startswith("FAIL  mastodon: 127.0.0.1 (verify_credentials) could not be reached:")
    assert "connection refused (fix: check that this server reaches the address" in line
    assert "a-token" not in line
