"""The settings of one Bluesky source, checked when the config file is loaded."""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import Field, field_validator

from connectors.base import Connector

DEFAULT_BASE_URL = "https://bsky.social"


class BlueskyConfig(Connector.Config):
    """The fields of one Bluesky account's settings, and how each is checked."""

    handle: str
    app_password_credential: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,128}$")
    search_terms: list[str] = []
    base_url: str = DEFAULT_BASE_URL
    timeout_seconds: float = Field(default=20, gt=0)
    max_pages: int = Field(default=5, ge=1, le=50)
    page_size: int = Field(default=50, ge=1, le=100)

    @field_validator("handle")
    @classmethod
    def _check_handle(cls, handle: str) -> str:
        handle = handle.strip().removeprefix("@").lower()
        if not handle or any(c.isspace() for c in handle):
            raise ValueError("must be the account's handle, e.g. stmarys.bsky.social")
        return handle

    @field_validator("search_terms")
    @classmethod
    def _check_terms(cls, terms: list[str]) -> list[str]:
        cleaned = [" ".join(term.split()) for term in terms]
        if not all(cleaned):
            raise ValueError("a search term cannot be empty")
        return list(dict.fromkeys(cleaned))

    @field_validator("base_url")
    @classmethod
    def _check_base_url(cls, url: str) -> str:
        url = url.strip().rstrip("/").removesuffix("/xrpc")
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an https:// URL such as https://bsky.social")
        return url
