"""Secrets come from systemd credentials or the environment, never from the config file."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path


class MissingSecret(LookupError):
    """A credential named in the config is not available to the process."""


def read_secret(name: str, environ: Mapping[str, str] | None = None) -> str:
    """The value of credential `name`: `$CREDENTIALS_DIRECTORY/name` first, then `$name`."""
    environ = os.environ if environ is None else environ
    directory = environ.get("CREDENTIALS_DIRECTORY")
    if directory:
        path = Path(directory) / name
        if path.is_file():
            return path.read_text(encoding="utf-8").strip()
    value = environ.get(name)
    if value:
        return value
    raise MissingSecret(
        f"credential {name!r} is not set: export {name}=... or add "
        f"'LoadCredential={name}:/etc/orm-monitor/credentials/{name}' to the systemd unit"
    )
