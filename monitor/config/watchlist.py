"""Pupil watch lists: names are kept only as keyed hashes (HMAC-SHA256), never as text.

The key is a credential (`pupil_hash_key_credential`), so a list of common names cannot undo
the hashes without it. Each school hashes with a key of its own derived from that secret, and a
list file starts with a header naming its format, its school and a check value of its key, so
that a file in the old unkeyed format, for another school or made with another key is refused.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from monitor.classify.rules import HASH_PREFIX, hash_name
from monitor.config.schema import SchoolConfig
from monitor.config.secrets import read_secret

FORMAT = "orm-monitor pupil-name hashes v2 (HMAC-SHA256)"
HEADER = re.compile(
    r"^# orm-monitor pupil-name hashes v2 \(HMAC-SHA256\) school=(\S+) key=([0-9a-f]{12})$"
)
MIN_KEY_CHARS = 32
MAX_LIST_BYTES = 16 * 1024 * 1024


class WatchlistError(ValueError):
    """The pupil-name hash file, or its key, cannot be used."""


@dataclass(frozen=True)
class PupilList:
    """A school's watch-listed pupil names: their hashes and the key they were made with."""

    hashes: frozenset[str] = frozenset()
    key: bytes = field(default=b"", repr=False)


def school_key(secret: str, school_id: str) -> bytes:
    """The school's own hashing key, derived from the credential's value."""
    if len(secret) < MIN_KEY_CHARS:
        raise WatchlistError(
            f"the pupil-name key is {len(secret)} characters; it needs at least {MIN_KEY_CHARS} "
            "(make one with: openssl rand -base64 33)"
        )
    message = f"orm-monitor pupil names\0{school_id}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).digest()


def key_check(key: bytes) -> str:
    """A short value that tells keys apart and reveals nothing of the key."""
    return hmac.new(key, b"key check", hashlib.sha256).hexdigest()[:12]


def write_list(names: Iterable[str], key: bytes, school_id: str) -> list[str]:
    """The lines of a list file: the header, then each distinct name's hash, sorted."""
    hashes = sorted({hash_name(n, key) for n in names if n.strip()})
    return [f"# {FORMAT} school={school_id} key={key_check(key)}", *hashes]


def redo_hint(school_id: str, path: str) -> str:
    """How the DSL makes the list again from the names."""
    return (
        f"redo the list from the names: orm-monitor watchlist hash --school {school_id} "
        f"< names.txt > {path}"
    )


def pupil_list(school: SchoolConfig, secrets: Callable[[str], str] = read_secret) -> PupilList:
    """The school's pupil list with its key; empty when none is configured.

    Raises WatchlistError (or MissingSecret) saying what is wrong and how to fix it.
    """
    if not school.pupil_name_hashes_file:
        return PupilList()
    if not school.pupil_hash_key_credential:
        raise WatchlistError("pupil_hash_key_credential is required with pupil_name_hashes_file")
    key = school_key(secrets(school.pupil_hash_key_credential), school.id)
    path = Path(school.pupil_name_hashes_file)
    return PupilList(read_list(path, key, school.id), key)


def read_list(path: Path, key: bytes, school_id: str) -> frozenset[str]:
    """The hashes in a list file, refused unless it is this school's, made with this key."""
    lines = [line.strip() for line in _read(path, school_id).splitlines()]
    header = HEADER.match(lines[0]) if lines else None
    if header is None:
        raise WatchlistError(
            f"{path} is not a keyed pupil list (the old format held unkeyed SHA-256 hashes, "
            f"which a list of common names reverses); {redo_hint(school_id, str(path))}"
        )
    if header.group(1) != school_id:
        raise WatchlistError(f"{path} was made for school {header.group(1)!r}, not {school_id!r}")
    if header.group(2) != key_check(key):
        raise WatchlistError(
            f"{path} was made with another key than the credential holds now; "
            f"{redo_hint(school_id, str(path))}"
        )
    hashes = {line for line in lines[1:] if line and not line.startswith("#")}
    if any(not (h.startswith(HASH_PREFIX) and len(h) == len(HASH_PREFIX) + 64) for h in hashes):
        raise WatchlistError(
            f"{path}: some lines are not hashes; the file must hold only the output of "
            "'orm-monitor watchlist hash', never names"
        )
    return frozenset(hashes)


def _read(path: Path, school_id: str) -> str:
    try:
        with path.open("rb") as file:
            data = file.read(MAX_LIST_BYTES + 1)
    except OSError as error:
        raise WatchlistError(
            f"cannot read {path}: {error.strerror}; {redo_hint(school_id, str(path))}, "
            "or leave pupil_name_hashes_file out"
        ) from None
    if len(data) > MAX_LIST_BYTES:
        raise WatchlistError(f"{path} is larger than {MAX_LIST_BYTES} bytes")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise WatchlistError(
            f"{path} is not a pupil list; {redo_hint(school_id, str(path))}"
        ) from None
