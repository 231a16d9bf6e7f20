"""Who a role or a person id in the config names: the people alerts and reports go to."""

from __future__ import annotations

import logging

from monitor.config.schema import Person, SchoolConfig, SourceConfig

log = logging.getLogger(__name__)


def resolve(school: SchoolConfig, source: SourceConfig | None, who: str) -> list[Person]:
    """The people a role or person id names; `lead` falls back to the account managers."""
    if who == "lead":
        lead = school.person(source.lead) if source and source.lead else None
        return [lead] if lead else school.people_with("account_manager")
    person = school.person(who)
    if person is not None:
        return [person]
    found = school.people_with(who)
    if not found:
        log.warning(
            "school %s: nobody holds the role %r; its alerts go to the account manager",
            school.id,
            who,
        )
        return school.people_with("account_manager")
    return found
