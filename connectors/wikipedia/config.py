"""The settings of one watched Wikipedia article, checked when the config file is loaded."""

from __future__ import annotations

from pydantic import Field, field_validator

from connectors.base import Connector

DEFAULT_API_URL = "https://en.wikipedia.org/w/api.php"
DEFAULT_USER_AGENT = "orm-monitor/0.1 (https://github.com/orm-monitor/orm-monitor)"
MISSING_ARTICLE_FIX = (
    "check the source's title: copy it from the article's address, the part after /wiki/"
)
CONTACT = r"^([^\s@();<>]+@[^\s@();<>]+\.[^\s@();<>]+|https?://[^\s();<>]+)$"


class WikipediaConfig(Connector.Config):
    """The fields of one watched article's settings, and how each is checked."""

    title: str
    api_url: str = Field(default=DEFAULT_API_URL, pattern=r"^https?://[^/\s]+(/[^\s]*)?/api\.php$")
    user_agent: str = Field(default=DEFAULT_USER_AGENT, pattern=r"^[\x21-\x7e][\x20-\x7e]*$")
    contact: str = Field(pattern=CONTACT)
    large_removal_bytes: int = Field(default=2000, ge=1)
    timeout_seconds: float = Field(default=20, gt=0)
    max_pages: int = Field(default=2, ge=1, le=20)

    @field_validator("title")
    @classmethod
    def _check_title(cls, value: str) -> str:
        value = value.strip()
        if not value or "|" in value or value.lower().startswith(("http:", "https:")):
            raise ValueError("must be one article's title (the part after /wiki/), not a URL")
        return value
