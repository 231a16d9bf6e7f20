"""Credentials for tests: a reader over a dict, like the environment or systemd credentials."""

from __future__ import annotations

from collections.abc import Callable


def secrets_from(**values: str) -> Callable[[str], str]:
    """A secret reader that knows only `values`; asking for another name is a test bug."""

    def read(name: str) -> str:
        return values[name]

    return read
