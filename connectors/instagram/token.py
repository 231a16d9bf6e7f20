"""The Instagram access token kept in the source's state: its expiry, refresh and warnings."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from connectors.base import JSONValue, SourceWarning, parse_utc_time
from connectors.graph import JSONObject

DOC = "docs/connectors/instagram.md"
REFRESH_RETRY = timedelta(hours=6)
WARN_WITHIN = timedelta(days=7)


@dataclass(frozen=True)
class Token:
    """The current access token, when it expires, and the credential it descends from."""

    value: str
    expires_at: datetime | None
    credential: str
    retry_refresh_at: datetime | None = None

    @classmethod
    def seeded(cls, credential: str) -> Token:
        """The credential itself, its expiry not yet known."""
        return cls(credential, None, fingerprint(credential))

    @classmethod
    def from_state(cls, raw: JSONValue) -> Token | None:
        """The token saved by the previous poll; None when absent or unreadable."""
        if not isinstance(raw, dict) or not isinstance(raw.get("value"), str):
            return None
        return cls(
            raw["value"],
            parse_utc_time(raw.get("expires_at")),
            str(raw.get("credential") or ""),
            parse_utc_time(raw.get("retry_refresh_at")),
        )

    def as_state(self) -> JSONObject:
        """The token as JSON for the source's state (kept in the database)."""
        retry = self.retry_refresh_at
        return {
            "value": self.value,
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
            "credential": self.credential,
            "retry_refresh_at": retry.isoformat() if retry else None,
        }

    def matches(self, credential: str) -> bool:
        """Whether this token descends from `credential` (a new credential replaces it)."""
        return self.credential == fingerprint(credential)

    def refresh_due(self, now: datetime, within: timedelta) -> bool:
        """Unknown expiry or fewer than `within` left, and no failed attempt in the last hours."""
        if self.retry_refresh_at is not None and now < self.retry_refresh_at:
            return False
        return self.expires_at is None or self.expires_at - now < within

    @property
    def expiry_day(self) -> str:
        """The expiry date (ISO), or "unknown"."""
        return self.expires_at.date().isoformat() if self.expires_at else "unknown"


def fingerprint(credential: str) -> str:
    """A short hash of a credential: tells a replaced credential without storing it twice."""
    return hashlib.sha256(credential.encode("utf-8")).hexdigest()[:16]


def expiry_warnings(token: Token, now: datetime, reason: str) -> tuple[SourceWarning, ...]:
    """A warning for the IT lead when the token expires within 7 days and cannot be refreshed."""
    if token.expires_at is None or token.expires_at - now >= WARN_WITHIN:
        return ()
    return (
        SourceWarning(
            key=f"token-expiry:{token.expiry_day}",
            message=(
                f"the Instagram access token expires on {token.expiry_day} and could not be "
                f"refreshed ({reason}); polling stops when it expires"
            ),
            fix=f"make a new long-lived token as {DOC} describes and store it as the credential",
        ),
    )
