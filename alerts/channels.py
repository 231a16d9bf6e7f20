"""Every channel type, and one channel built from its settings with its credentials read."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from alerts.base import Channel, SecretReader
from alerts.graph_mail import GraphMailChannel, GraphMailSettings
from alerts.maildir import MaildirChannel, MaildirSettings
from alerts.smtp import SmtpChannel, SmtpSettings
from alerts.teams import TeamsChannel, TeamsSettings

AnyChannelSettings = SmtpSettings | GraphMailSettings | TeamsSettings | MaildirSettings
ChannelSettingsField = Annotated[AnyChannelSettings, Field(discriminator="type")]
"""What a `[schools.channels.NAME]` section holds: the settings of one channel type."""


def build_channel(name: str, settings: AnyChannelSettings, secrets: SecretReader) -> Channel:
    """The channel for one `[schools.channels.NAME]` section; `secrets(name)` reads a credential."""
    if isinstance(settings, SmtpSettings):
        return SmtpChannel(name, settings, secrets)
    if isinstance(settings, GraphMailSettings):
        return GraphMailChannel(name, settings, secrets)
    if isinstance(settings, TeamsSettings):
        return TeamsChannel(name, settings, secrets)
    if isinstance(settings, MaildirSettings):
        return MaildirChannel(name, settings)
    raise TypeError(f"channel {name!r}: unknown channel type {type(settings).__name__}")
