"""Cross-checks pydantic cannot express: unique ids, leads, routes and channels that exist."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from alerts.teams import TeamsSettings
from monitor.calendar.closures import CalendarError, read_ics_closures
from monitor.classify.base import Label
from monitor.config.problems import Problem, key_path
from monitor.config.schema import ROUTE_ROLES, OrmConfig, Route, SchoolConfig, TrustConfig

SALVAGE_ROUNDS = 4


def pydantic_problems(
    raw: Any, error: ValidationError, prefix: tuple[int | str, ...] = ()
) -> list[Problem]:
    """Each pydantic error as a problem whose path names list items by their id."""
    problems = []
    for detail in error.errors():
        message = detail["msg"]
        if detail["type"] == "extra_forbidden":
            message = "unknown key (check its spelling against config.example.toml)"
        problems.append(Problem(key_path(raw, (*prefix, *detail["loc"])), message))
    return problems


def check_references(config: OrmConfig) -> list[Problem]:
    """Every cross-reference of a valid document."""
    problems = school_references(config.schools)
    if config.trust is not None:
        problems += check_trust({s.id for s in config.schools}, config.trust)
    return problems


def school_references(schools: Sequence[SchoolConfig]) -> list[Problem]:
    """Unique ids across schools, then each school's own references."""
    problems = _duplicates([s.id for s in schools], "schools", "school id")
    problems += _duplicates([s.id for c in schools for s in c.sources], "schools", "source id")
    for school in schools:
        problems += _check_school(school, f"schools[{school.id}]")
    return problems


def salvage_schools(raw: Any, removed: set[str]) -> list[SchoolConfig]:
    """The schools of an invalid document, with their invalid keys (or, failing that, the
    person, source or channel holding one) left out, so that their references are still
    checked in the same run; the ids left out are added to `removed`."""
    schools = raw.get("schools") if isinstance(raw, Mapping) else None
    salvaged = []
    for school in schools if isinstance(schools, list) else []:
        found = _salvage(SchoolConfig, school, removed)
        if isinstance(found, SchoolConfig):
            salvaged.append(found)
    return salvaged


def salvage_trust(raw: Any, removed: set[str]) -> TrustConfig | None:
    """The trust section salvaged the same way, or None."""
    found = _salvage(TrustConfig, raw.get("trust") if isinstance(raw, Mapping) else None, removed)
    return found if isinstance(found, TrustConfig) else None


def _salvage(model: type[BaseModel], section: Any, removed: set[str]) -> BaseModel | None:
    candidate = copy.deepcopy(section)
    for _ in range(SALVAGE_ROUNDS if isinstance(candidate, dict) else 0):
        try:
            return model.model_validate(candidate)
        except ValidationError as error:
            # later items first, so that removing one does not move the others
            dropped = [_drop(candidate, d["loc"], removed) for d in reversed(error.errors())]
            if not any(dropped):
                return None
    return None


def _drop(doc: Any, loc: Sequence[int | str], removed: set[str]) -> bool:
    """Remove the key an error is about, so that its default applies; when it is required,
    remove the list item or channel holding it instead. False if neither is there."""
    node, holder = doc, None
    for depth, part in enumerate(loc[:-1]):
        if isinstance(node, Mapping) and part not in node and node.get("type") == part:
            continue
        if isinstance(node, list) or (depth and loc[depth - 1] == "channels"):
            holder = (node, part)
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return False
    if isinstance(node, dict) and loc and loc[-1] in node:
        del node[loc[-1]]
        return True
    if holder is None:
        return False
    container, key = holder
    item = container[key]
    removed.add(str(item.get("id", key)) if isinstance(item, Mapping) else str(key))
    del container[key]
    return True


def without_removed(problems: list[Problem], removed: set[str]) -> list[Problem]:
    """Reference problems that are only about an item left out while salvaging are not real."""
    if not removed:
        return problems
    return [
        p
        for p in problems
        if not p.path.endswith(".people") and not any(repr(r) in p.message for r in removed)
    ]


def check_trust(school_ids: set[str], trust: TrustConfig) -> list[Problem]:
    """The trust's references: its id, channels, people and digest recipients."""
    problems = _duplicates([p.id for p in trust.people], "trust.people", "person id")
    if trust.id in school_ids:
        problems.append(Problem("trust.id", f"{trust.id!r} is also a school's id; choose another"))
    tenant = trust.as_school()
    problems += _check_email_channel(tenant, "trust")
    wanted = [w for w in trust.digest.recipients if tenant.person(w) or tenant.people_with(w)]
    if trust.people and not wanted:
        roles = ", ".join(trust.digest.recipients)
        problems.append(
            Problem("trust.digest.recipients", f"nobody in trust.people is one of: {roles}")
        )
    return problems + _check_digest(tenant, "trust.digest")


def _check_email_channel(school: SchoolConfig, path: str) -> list[Problem]:
    problems = []
    for key in ("email_channel", "fallback_channel"):
        name = getattr(school, key)
        if name is not None and name not in school.channels:
            problems.append(Problem(f"{path}.{key}", f"no channel named {name!r} in channels"))
    if isinstance(school.channels.get(school.email_channel or ""), TeamsSettings):
        problems.append(Problem(f"{path}.email_channel", "must name an email channel"))
    if school.people and school.email_channel is None:
        problems.append(Problem(f"{path}.email_channel", "set the channel that emails people"))
    return problems


def _check_digest(school: SchoolConfig, path: str) -> list[Problem]:
    problems = []
    for who in school.digest.recipients:
        if who == "lead" or (who not in ROUTE_ROLES and school.person(who) is None):
            problems.append(
                Problem(f"{path}.recipients", f"{who!r} is neither a role nor a person id")
            )
    for name in school.digest.teams:
        if not isinstance(school.channels.get(name), TeamsSettings):
            problems.append(Problem(f"{path}.teams", f"no Teams channel named {name!r}"))
    return problems


def _duplicates(ids: list[str], path: str, what: str) -> list[Problem]:
    seen: set[str] = set()
    dupes = sorted({i for i in ids if i in seen or seen.add(i)})  # type: ignore[func-returns-value]
    return [Problem(path, f"{what} {d!r} is used more than once") for d in dupes]


def _check_school(school: SchoolConfig, path: str) -> list[Problem]:
    problems = _duplicates([p.id for p in school.people], f"{path}.people", "person id")
    problems += _check_email_channel(school, path)
    if not school.people_with("account_manager"):
        problems.append(Problem(f"{path}.people", "no person has the role account_manager"))
    if school.calendar.closures_ics:
        try:
            read_ics_closures(Path(school.calendar.closures_ics))
        except CalendarError as error:
            problems.append(Problem(f"{path}.calendar.closures_ics", str(error)))
    if school.pupil_name_hashes_file and not school.pupil_hash_key_credential:
        problems.append(
            Problem(
                f"{path}.pupil_hash_key_credential",
                "required with pupil_name_hashes_file: name the credential that holds the key "
                "the pupil names are hashed with (README, 'Pupil names')",
            )
        )
    problems += _check_routes(school, school.routing, f"{path}.routing")
    problems += _check_digest(school, f"{path}.digest")
    for source in school.sources:
        here = f"{path}.sources[{source.id}]"
        problems += _check_routes(school, source.routing, f"{here}.routing")
        if source.lead is not None and school.person(source.lead) is None:
            problems.append(Problem(f"{here}.lead", f"no person with id {source.lead!r} in people"))
    return problems


def _check_routes(school: SchoolConfig, routing: Mapping[Label, Route], path: str) -> list[Problem]:
    problems = []
    roles = ", ".join(sorted(ROUTE_ROLES))
    for label, route in routing.items():
        for who in route.notify:
            if who not in ROUTE_ROLES and school.person(who) is None:
                message = f"{who!r} is neither a role ({roles}) nor a person id"
                problems.append(Problem(f"{path}.{label}.notify", message))
        for name in route.teams:
            if not isinstance(school.channels.get(name), TeamsSettings):
                problems.append(
                    Problem(f"{path}.{label}.teams", f"no Teams channel named {name!r}")
                )
    return problems
