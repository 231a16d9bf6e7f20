"""Settings of one Mastodon account source: the instance, the school's account and hashtags."""

from __future__ import annotations

import re
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator

from connectors.base import Connector

HASHTAG = re.compile(r"^\w+$")
Reposts = Literal["skip", "keep"]
"""What a source does with boosts: leave them out, or keep each as an item of kind `repost`."""
KEEP = "keep"


class MastodonSettings(Connector.Config):
    """The fields and checks of `MastodonConnector.Config`, for the modules that read them."""

    api_base_url: str
    account_id: str = Field(pattern=r"^[0-9A-Za-z]{1,64}$")
    acct: str | None = Field(default=None, pattern=r"^@?[\w.-]+(@[\w.-]+)?$")
    hashtags: list[str] = []
    access_token_credential: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,128}$")
    timeout_seconds: float = Field(default=20, gt=0)
    max_pages: int = Field(default=5, ge=1, le=50)
    reposts: Reposts = "skip"
    """What boosts become: "skip", not items; "keep", items of kind `repost`."""

    @field_validator("api_base_url")
    @classmethod
    def _check_base_url(cls, url: str) -> str:
        parts = urlsplit(url.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be the instance's address, e.g. https://mastodon.social")
        if parts.query or parts.fragment or parts.username:
            raise ValueError("must be the bare address, without ?query, #fragment or user")
        return url.strip().rstrip("/")

    @field_validator("hashtags")
    @classmethod
    def _check_hashtags(cls, tags: list[str]) -> list[str]:
        cleaned: dict[str, str] = {}
        for tag in tags:
            name = tag.strip().removeprefix("#")
            if not HASHTAG.match(name):
                raise ValueError(f"{tag!r} is not a hashtag (letters, digits and _ only)")
            cleaned.setdefault(name.casefold(), name)
        return list(cleaned.values())
