"""The channels a school's alerts go out on, built once from the config and kept open."""

from __future__ import annotations

import threading
from collections.abc import Callable

from alerts.base import Channel
from alerts.channels import build_channel
from monitor.config.schema import SchoolConfig
from monitor.config.secrets import read_secret


class ChannelCache:
    """Alert channels built once per school and name."""

    def __init__(self, secrets: Callable[[str], str] = read_secret) -> None:
        self.secrets = secrets
        self._channels: dict[tuple[str, str], Channel] = {}
        self._lock = threading.Lock()

    def get(self, school: SchoolConfig, name: str) -> Channel:
        """The school's channel called `name`."""
        with self._lock:
            key = (school.id, name)
            if key not in self._channels:
                self._channels[key] = build_channel(name, school.channels[name], self.secrets)
            return self._channels[key]

    def close(self) -> None:
        """Close every channel's connections."""
        for channel in self._channels.values():
            channel.close()
