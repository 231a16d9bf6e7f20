"""Build a delivery channel from its config section, resolving its credentials."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from alerts.base import Channel
from alerts.graph_mail import GraphMailChannel
from alerts.maildir import MaildirChannel
from alerts.smtp import SmtpChannel
from alerts.teams import TeamsChannel
from monitor import config as settings

ChannelConfig = (
    settings.SmtpChannel
    | settings.GraphMailChannel
    | settings.TeamsChannel
    | settings.MaildirChannel
)


def build_channel(name: str, config: ChannelConfig, secrets: Callable[[str], str]) -> Channel:
    """The channel for one `[schools.channels.NAME]` section; `secrets(name)` reads a credential."""
    if isinstance(config, settings.SmtpChannel):
        credential = config.password_credential
        return SmtpChannel(name, config, secrets(credential) if credential else None)
    if isinstance(config, settings.GraphMailChannel):
        return GraphMailChannel(name, config, secrets(config.client_secret_credential))
    if isinstance(config, settings.TeamsChannel):
        url = secrets(config.webhook_url_credential)
        return TeamsChannel(name, url, timeout_seconds=config.timeout_seconds)
    if isinstance(config, settings.MaildirChannel):
        return MaildirChannel(name, Path(config.path), config.from_address)
    raise TypeError(f"channel {name!r}: unknown channel type {type(config).__name__}")
