"""Graph API errors and throttling mapped to the connectors' typed errors, with the fix an IT
lead needs (shared by the Facebook Page and Instagram connectors)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from connectors.base import (
    AuthError,
    ConnectorError,
    PermanentError,
    RateLimited,
    SourceUnavailable,
)

THROTTLE_CODES = frozenset({4, 17, 32, 613})
BUSINESS_THROTTLE_CODES = range(80000, 80015)  # Business Use Case limits (80001 Pages, 80002 IG)
AUTH_CODES = frozenset({102, 190})
TRANSIENT_CODES = frozenset({1, 2})
UNKNOWN_OBJECT_SUBCODE = 33
UNKNOWN_ALIAS_CODE = 803
USAGE_HEADERS = ("x-business-use-case-usage", "x-app-usage")
DEFAULT_BACKOFF = timedelta(minutes=15)
PERMISSION_NAME = re.compile(r"\b((?:pages|instagram|business)_[a-z_]+)\b")


@dataclass(frozen=True)
class Advice:
    """What the IT lead needs to fix a source: its doc page, credential, permissions and id."""

    doc: str
    credential: str
    permissions: tuple[str, ...]
    id_setting: str
    id_label: str


class UnknownObject(PermanentError):
    """Graph says the object does not exist (or the token cannot see it): a wrong or deleted id."""


def regain_access_at(headers: Mapping[str, str], now: datetime) -> datetime:
    """When throttling ends: the usage headers' `estimated_time_to_regain_access`, else 15 min."""
    lowered = {key.lower(): value for key, value in headers.items()}
    minutes = [m for name in USAGE_HEADERS for m in _regain_minutes(lowered.get(name))]
    longest = max(minutes, default=0.0)
    return now + (timedelta(minutes=longest) if longest > 0 else DEFAULT_BACKOFF)


def _regain_minutes(raw: str | None) -> list[float]:
    try:
        usage = json.loads(raw) if raw else None
    except ValueError:
        return []
    if not isinstance(usage, dict):
        return []
    entries: list[Any] = [usage]  # X-App-Usage is one object; BUC maps ids to lists of objects
    for value in usage.values():
        entries.extend(value if isinstance(value, list) else [])
    found = [e.get("estimated_time_to_regain_access") for e in entries if isinstance(e, dict)]
    return [float(m) for m in found if isinstance(m, int | float) and not isinstance(m, bool)]


def graph_error(
    body: Any,
    *,
    status: int | None,
    headers: Mapping[str, str],
    advice: Advice,
    host: str,
    now: datetime,
) -> ConnectorError:
    """The typed error for a Graph error body (`{"error": {"code": ...}}`) or a bad response."""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return _status_error(status, host)
    code, subcode = _int(error.get("code")), _int(error.get("error_subcode"))
    message = " ".join(str(error.get("message") or "no message").split())
    said = f"Graph API error {code}: {message}"
    if code in THROTTLE_CODES or code in BUSINESS_THROTTLE_CODES:
        retry_at = regain_access_at(headers, now)
        return RateLimited(f"{host} rate limit reached ({said})", retry_at=retry_at)
    if code in AUTH_CODES:
        return AuthError(f"the access token was refused ({said})", fix=_token_fix(advice))
    if code == 10 or (code is not None and 200 <= code <= 299):
        return _permission_error(message, said, advice)
    if code == UNKNOWN_ALIAS_CODE or (code == 100 and subcode == UNKNOWN_OBJECT_SUBCODE):
        return UnknownObject(
            f"wrong {advice.id_label}, or one the token cannot see ({said})",
            fix=f"check {advice.id_setting} (see {advice.doc}) and that the token belongs to it",
        )
    if code in TRANSIENT_CODES or error.get("is_transient") is True or (status or 0) >= 500:
        return SourceUnavailable(f"{host} had a temporary problem ({said})")
    return PermanentError(
        f"{host} refused the request ({said})", fix=f"check the source's settings ({advice.doc})"
    )


def _status_error(status: int | None, host: str) -> ConnectorError:
    if status is not None and status >= 500:
        return SourceUnavailable(f"{host} answered HTTP {status}: a server error")
    return PermanentError(
        f"{host} answered HTTP {status or '200'} with a body that is not a Graph API answer",
        fix="check graph_version and host; if they are right, the API has changed",
    )


def _permission_error(message: str, said: str, advice: Advice) -> PermanentError:
    named = PERMISSION_NAME.findall(message)
    missing = ", ".join(dict.fromkeys(named)) or ", ".join(advice.permissions)
    return PermanentError(
        f"missing permission {missing} ({said})",
        fix=(
            f"give the app the {', '.join(advice.permissions)} permission(s), make a new token "
            f"and store it as credential {advice.credential} (see {advice.doc})"
        ),
    )


def _token_fix(advice: Advice) -> str:
    return (
        f"the token expired or was revoked: make a new one as {advice.doc} describes, store it "
        f"as credential {advice.credential} and restart the service"
    )


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None
