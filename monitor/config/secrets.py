"""Secrets come from systemd credentials or the environment, never from the config file."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

MAX_SECRET_BYTES = 64 * 1024


class MissingSecret(LookupError):
    """A credential named in the config is not available to the process."""


def read_secret(name: str, environ: Mapping[str, str] | None = None) -> str:
    """The value of credential `name`: `$CREDENTIALS_DIRECTORY/name` first, then `$name`."""
    environ = os.environ if environ is None else environ
    directory = environ.get("CREDENTIALS_DIRECTORY")
    if directory:
        path = Path(directory) / name
        if path.is_file():
            return _read_file(path, name)
    value = environ.get(name)
    if value:
        return value.removeprefix("\ufeff")
    raise MissingSecret(
        f"credential {name!r} is not set: export {name}=... or add "
        f"'LoadCredential={name}:/etc/orm-monitor/credentials/{name}' to the systemd unit"
    )


def _read_file(path: Path, name: str) -> str:
    try:
        with path.open("rb") as file:
            data = file.read(MAX_SECRET_BYTES + 1)
    except OSError as error:
        raise MissingSecret(f"credential {name!r}: cannot read {path}: {error.strerror}") from None
    if len(data) > MAX_SECRET_BYTES:
        raise MissingSecret(f"credential {name!r}: {path} is larger than {MAX_SECRET_BYTES} bytes")
    try:
        return data.decode("utf-8-sig").strip()
    except UnicodeDecodeError:
        raise MissingSecret(
            f"credential {name!r}: {path} is not UTF-8 text; write the value again as UTF-8 "
            f"(e.g. printf '%s' 'the-value' > /etc/orm-monitor/credentials/{name})"
        ) from None
