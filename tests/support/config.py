"""Builders for test configurations: one school, its people, and the sources a test needs."""

from __future__ import annotations

import copy
from typing import Any

from monitor.config.loading import parse_config
from monitor.config.schema import OrmConfig

PEOPLE = [
    {
        "id": "jsmith",
        "name": "Jo Smith",
        "email": "j.smith@school.example",
        "roles": ["account_manager"],
    },
    {"id": "apatel", "name": "Anita Patel", "email": "dsl@school.example", "roles": ["dsl"]},
    {
        "id": "bjones",
        "name": "Ben Jones",
        "email": "deputy@school.example",
        "roles": ["deputy_dsl"],
    },
    {
        "id": "rhughes",
        "name": "Rob Hughes",
        "email": "head@school.example",
        "roles": ["slt", "data_protection_lead", "it_lead"],
    },
]


def raw_config(
    *,
    database_url: str,
    sources: list[dict[str, Any]] | None = None,
    channels: dict[str, Any] | None = None,
    **school: Any,
) -> dict[str, Any]:
    """A valid config document for one school, with overrides."""
    base_school: dict[str, Any] = {
        "id": "st-marys",
        "name": "St Mary's C of E Primary School",
        "names": ["St Marys Anytown"],
        "staff_names": ["Mrs Patel"],
        "people": copy.deepcopy(PEOPLE),
        "channels": channels or {"mail": {"type": "maildir", "path": "var/mail"}},
        "email_channel": next(iter(channels)) if channels else "mail",
        "sources": sources or [],
    }
    base_school.update(school)
    return {
        "schema_version": 1,
        "service": {"database_url": database_url},
        # The model layer has its own tests; the rest of the suite checks what the rules decide.
        "classifier": {"profile": "rules"},
        "alerts": {
            "backoff_initial_seconds": 1,
            "backoff_max_seconds": 4,
            "max_attempts": 3,
            "max_item_age_hours": 0,
        },
        "schools": [base_school],
    }


def build(raw: dict[str, Any]) -> OrmConfig:
    """Validate a raw document (raises ConfigError like the real loader)."""
    return parse_config(raw, "test config")


def rss_source(url: str, source_id: str = "blog", **extra: Any) -> dict[str, Any]:
    """An RSS source entry led by the account manager."""
    return {
        "id": source_id,
        "type": "rss",
        "name": "School blog",
        "lead": "jsmith",
        "url": url,
        **extra,
    }
