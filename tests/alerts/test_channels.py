"""Building channels from config sections, with credentials read by name."""

from __future__ import annotations

from pathlib import Path

import pytest

from alerts.channels import build_channel
from alerts.graph_mail import GraphMailChannel, GraphMailSettings
from alerts.maildir import MaildirChannel, MaildirSettings
from alerts.smtp import SmtpChannel, SmtpSettings
from alerts.teams import TeamsChannel, TeamsSettings
from monitor.config.secrets import MissingSecret, read_secret

CREDENTIALS = {
    "SMTP_PASSWORD": "smtp-pw",
    "GRAPH_SECRET": "graph-secret",
    "TEAMS_WEBHOOK": "https://prod-01.uksouth.logic.azure.com/workflows/1/invoke?sig=SIGNED",
}


class Secrets:
    """Records which credentials a channel asked for."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def __call__(self, name: str) -> str:
        self.asked.append(name)
        return read_secret(name, environ=CREDENTIALS)


def test_smtp_channel_reads_its_password_credential() -> None:
    secrets = Secrets()
    settings = SmtpSettings(
        type="smtp",
        host="smtp.office365.com",
        username="alerts",
        password_credential="SMTP_PASSWORD",
        from_address="a@b.org",
    )
    channel = build_channel("mail", settings, secrets)
    assert isinstance(channel, SmtpChannel) and channel.name == "mail"
    assert secrets.asked == ["SMTP_PASSWORD"]
    assert "smtp-pw" not in channel.describe()


def test_smtp_relay_without_login_needs_no_credential() -> None:
    secrets = Secrets()
    settings = SmtpSettings(type="smtp", host="smtp-relay.gmail.com", from_address="a@b.org")
    assert isinstance(build_channel("relay", settings, secrets), SmtpChannel)
    assert secrets.asked == []


def test_graph_mail_channel_reads_its_client_secret() -> None:
    secrets = Secrets()
    settings = GraphMailSettings(
        type="graph_mail",
        tenant_id="t",
        client_id="c",
        client_secret_credential="GRAPH_SECRET",
        sender="a@b.org",
    )
    channel = build_channel("graph", settings, secrets)
    assert isinstance(channel, GraphMailChannel)
    assert secrets.asked == ["GRAPH_SECRET"]
    channel.close()


def test_teams_channel_reads_its_webhook_url_and_never_shows_it() -> None:
    secrets = Secrets()
    settings = TeamsSettings(
        type="teams", webhook_url_credential="TEAMS_WEBHOOK", timeout_seconds=7
    )
    channel = build_channel("dsl-team", settings, secrets)
    assert isinstance(channel, TeamsChannel)
    assert secrets.asked == ["TEAMS_WEBHOOK"]
    assert (
        channel.describe() == "teams channel 'dsl-team' (https://prod-01.uksouth.logic.azure.com/…)"
    )
    channel.close()


def test_maildir_channel_needs_no_credential(tmp_path: Path) -> None:
    secrets = Secrets()
    settings = MaildirSettings(type="maildir", path=str(tmp_path / "mail"))
    channel = build_channel("demo", settings, secrets)
    assert isinstance(channel, MaildirChannel)
    assert channel.describe() == f"maildir channel 'demo' ({tmp_path / 'mail'})"
    assert secrets.asked == []


def test_a_missing_credential_says_how_to_provide_it() -> None:
    settings = TeamsSettings(type="teams", webhook_url_credential="NOT_SET")
    with pytest.raises(MissingSecret, match="LoadCredential=NOT_SET"):
        build_channel("dsl-team", settings, Secrets())
