"""Signed, expiring one-click links in alerts: close a reply window ("I have replied"), or
mark a serious item handled or not what the classifier said ("Not a threat")."""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

log = logging.getLogger(__name__)

Action = Literal["answered", "dismissed", "handled", "mistaken"]
WINDOW_ACTIONS: tuple[Action, ...] = ("answered", "dismissed")
ITEM_ACTIONS: tuple[Action, ...] = ("handled", "mistaken")
"""Actions on an item, not its window: "Handled" and "Not a threat (teach the classifier)"."""
ACTIONS: tuple[Action, ...] = WINDOW_ACTIONS + ITEM_ACTIONS
SALT = "orm-monitor.window-action"
Links = tuple[tuple[str, str], ...]


class LinkError(ValueError):
    """A link that is forged, altered, expired or for an unknown action."""


@dataclass(frozen=True)
class WindowAction:
    """What a valid link asks for."""

    window_id: int
    action: Action
    nonce: str
    item_id: int | None = None
    """Set for item actions (then `window_id` is 0)."""
    labels: tuple[str, ...] = ()
    """The labels a "mistaken" link says were wrong."""


class LinkSigner:
    """Makes and checks window links; tampering or age beyond `max_age_days` is refused."""

    def __init__(self, secret: str, max_age_days: float) -> None:
        self._serializer = URLSafeTimedSerializer(secret, salt=SALT)
        self._max_age = int(max_age_days * 86400)

    def token(self, window_id: int, action: Action) -> str:
        """A URL-safe token for one action on one window."""
        return self._serializer.dumps({"w": window_id, "a": action, "n": secrets.token_hex(4)})

    def item_token(self, item_id: int, action: Action, labels: tuple[str, ...] = ()) -> str:
        """A URL-safe token for one item action ("handled", or "mistaken" about `labels`)."""
        data = {"i": item_id, "a": action, "l": list(labels), "n": secrets.token_hex(4)}
        return self._serializer.dumps(data)

    def read(self, token: str) -> WindowAction:
        """The action a token asks for; LinkError if it is not one we issued recently."""
        try:
            data = self._serializer.loads(token, max_age=self._max_age)
        except SignatureExpired:
            raise LinkError("this link has expired: close the window with orm-monitor") from None
        except BadSignature:
            raise LinkError("this link is not valid (altered or not issued here)") from None
        if not isinstance(data, dict) or data.get("a") not in ACTIONS:
            raise LinkError("this link is not valid (unknown action)")
        if data["a"] in ITEM_ACTIONS:
            labels = tuple(str(label) for label in data.get("l", ()))
            return WindowAction(0, data["a"], str(data.get("n", "")), int(data["i"]), labels)
        return WindowAction(int(data["w"]), data["a"], str(data.get("n", "")))


def link_secret(state_dir: Path, credential: str | None, read: Callable[[str], str]) -> str:
    """The signing key: from its credential if configured, else a key kept in the state dir."""
    if credential:
        return read(credential)
    path = state_dir / "link-signing.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as key_file:
            key_file.write(secrets.token_urlsafe(48))
        log.info("created a link-signing key in %s", path)
    return path.read_text(encoding="utf-8").strip()


def window_url(public_url: str, token: str) -> str:
    """The address staff click."""
    return f"{public_url.rstrip('/')}/w/{token}"


class LinkMaker(Protocol):
    """The one-click links for an item's alert: its open window's, or the serious item's own."""

    def __call__(
        self, window_id: int | None, item_id: int | None = None, labels: Iterable[str] = ()
    ) -> Links:
        """Labelled URLs to put in the alert."""
        ...


def no_links(
    window_id: int | None, item_id: int | None = None, labels: Iterable[str] = ()
) -> Links:
    """No one-click links (no web endpoint is configured)."""
    return ()
