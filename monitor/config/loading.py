"""Reading the config file: TOML into the models, every problem reported at once with its path."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from alerts.teams import TeamsSettings
from monitor.calendar.closures import CalendarError, read_ics_closures
from monitor.classify.base import Label
from monitor.config.schema import (
    ROUTE_ROLES,
    OrmConfig,
    Route,
    SchoolConfig,
    SourceConfig,
    TrustConfig,
)
from monitor.demo.dates import dated_feeds, demo_started_at

DEMO_DIR = Path(__file__).parent.parent / "demo"
SECRET_KEY = re.compile(
    r"(password|passwd|secret|token|api_?key|webhook(_url)?|app_password)$", re.IGNORECASE
)


@dataclass(frozen=True)
class Problem:
    """One configuration error with the key path it is about."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class ConfigError(Exception):
    """The configuration cannot be used; `problems` lists every reason."""

    def __init__(self, source: str, problems: list[Problem]) -> None:
        self.source = source
        self.problems = problems
        lines = "\n".join(f"  {p}" for p in problems)
        super().__init__(f"{source}: {len(problems)} problem(s) in the configuration:\n{lines}")


def _path(parts: tuple[int | str, ...] | list[int | str]) -> str:
    return ".".join(str(p) for p in parts)


def find_literal_secrets(raw: Any, path: tuple[int | str, ...] = ()) -> list[Problem]:
    """Keys that hold a secret written into the file, where only a credential name belongs."""
    problems: list[Problem] = []
    if isinstance(raw, Mapping):
        for key, value in raw.items():
            here = (*path, key)
            if isinstance(key, str) and SECRET_KEY.search(key) and not isinstance(value, Mapping):
                problems.append(Problem(_path(here), _secret_message(key)))
            else:
                problems.extend(find_literal_secrets(value, here))
    elif isinstance(raw, list):
        for index, value in enumerate(raw):
            problems.extend(find_literal_secrets(value, (*path, index)))
    return problems


def _secret_message(key: str) -> str:
    name = key.upper()
    return (
        f"secrets are never read from the config file; remove {key!r}, set "
        f'{key}_credential = "{name}" and put the value in the environment variable {name} '
        f"or the file $CREDENTIALS_DIRECTORY/{name} (systemd LoadCredential=)"
    )


def _pydantic_problems(error: ValidationError, prefix: tuple[int | str, ...] = ()) -> list[Problem]:
    problems = []
    for detail in error.errors():
        loc = [p for p in (*prefix, *detail["loc"]) if not _is_union_tag(p)]
        message = detail["msg"]
        if detail["type"] == "extra_forbidden":
            message = "unknown key (check its spelling against config.example.toml)"
        problems.append(Problem(_path(loc), message))
    return problems


def _is_union_tag(part: int | str) -> bool:
    return isinstance(part, str) and part in {"smtp", "graph_mail", "teams", "maildir"}


def parse_config(raw: Mapping[str, Any], source: str = "config") -> OrmConfig:
    """Validate a parsed TOML document; raise ConfigError listing every problem."""
    problems = find_literal_secrets(raw)
    secret_paths = {p.path for p in problems}
    try:
        config = OrmConfig.model_validate(raw)
    except ValidationError as error:
        problems += [p for p in _pydantic_problems(error) if p.path not in secret_paths]
        raise ConfigError(source, problems) from None
    problems += check_references(config)
    if problems:
        raise ConfigError(source, problems)
    return config


def check_references(config: OrmConfig) -> list[Problem]:
    """Cross-checks pydantic cannot express: unique ids, leads, routes and channels that exist."""
    from connectors import default_registry  # connectors import config models lazily

    registry = default_registry()
    problems: list[Problem] = []
    problems += _duplicates([s.id for s in config.schools], "schools", "school id")
    problems += _duplicates([s.id for _, s in config.sources()], "schools", "source id")
    for i, school in enumerate(config.schools):
        problems += _check_school(school, f"schools.{i}", registry)
    if config.trust is not None:
        problems += _check_trust(config, config.trust)
    return problems


def _check_trust(config: OrmConfig, trust: TrustConfig) -> list[Problem]:
    problems = _duplicates([p.id for p in trust.people], "trust.people", "person id")
    if trust.id in {s.id for s in config.schools}:
        problems.append(Problem("trust.id", f"{trust.id!r} is also a school's id; choose another"))
    if trust.email_channel is not None and trust.email_channel not in trust.channels:
        name = trust.email_channel
        problems.append(Problem("trust.email_channel", f"no channel named {name!r} in channels"))
    if isinstance(trust.channels.get(trust.email_channel or ""), TeamsSettings):
        problems.append(Problem("trust.email_channel", "must name an email channel"))
    if trust.people and trust.email_channel is None:
        problems.append(Problem("trust.email_channel", "set the channel that emails people"))
    tenant = trust.as_school()
    wanted = [w for w in trust.digest.recipients if tenant.person(w) or tenant.people_with(w)]
    if trust.people and not wanted:
        roles = ", ".join(trust.digest.recipients)
        problems.append(
            Problem("trust.digest.recipients", f"nobody in trust.people is one of: {roles}")
        )
    return problems + _check_digest(tenant, "trust.digest")


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


def _check_school(school: SchoolConfig, path: str, registry: Any) -> list[Problem]:
    problems = _duplicates([p.id for p in school.people], f"{path}.people", "person id")
    for key in ("email_channel", "fallback_channel"):
        name = getattr(school, key)
        if name is not None and name not in school.channels:
            problems.append(Problem(f"{path}.{key}", f"no channel named {name!r} in channels"))
    if isinstance(school.channels.get(school.email_channel or ""), TeamsSettings):
        problems.append(Problem(f"{path}.email_channel", "must name an email channel"))
    if school.people and school.email_channel is None:
        problems.append(Problem(f"{path}.email_channel", "set the channel that emails people"))
    if not school.people_with("account_manager"):
        problems.append(Problem(f"{path}.people", "no person has the role account_manager"))
    if school.calendar.closures_ics:
        try:
            read_ics_closures(Path(school.calendar.closures_ics))
        except CalendarError as error:
            problems.append(Problem(f"{path}.calendar.closures_ics", str(error)))
    problems += _check_routes(school, school.routing, f"{path}.routing")
    problems += _check_digest(school, f"{path}.digest")
    for j, source in enumerate(school.sources):
        problems += _check_source(school, source, f"{path}.sources.{j}", registry)
    return problems


def _check_routes(school: SchoolConfig, routing: Mapping[Label, Route], path: str) -> list[Problem]:
    problems = []
    for label, route in routing.items():
        for who in route.notify:
            if who not in ROUTE_ROLES and school.person(who) is None:
                problems.append(
                    Problem(
                        f"{path}.{label}.notify",
                        f"{who!r} is neither a role ({', '.join(sorted(ROUTE_ROLES))}) "
                        "nor a person id",
                    )
                )
        for name in route.teams:
            if not isinstance(school.channels.get(name), TeamsSettings):
                problems.append(
                    Problem(f"{path}.{label}.teams", f"no Teams channel named {name!r}")
                )
    return problems


def _check_source(
    school: SchoolConfig, source: SourceConfig, path: str, registry: Any
) -> list[Problem]:
    problems = _check_routes(school, source.routing, f"{path}.routing")
    if source.lead is not None and school.person(source.lead) is None:
        problems.append(Problem(f"{path}.lead", f"no person with id {source.lead!r} in people"))
    try:
        connector = registry.get(source.type)
    except KeyError as error:
        return [*problems, Problem(f"{path}.type", str(error.args[0]))]
    try:
        connector.Config.model_validate(source.connector_settings())
    except ValidationError as error:
        problems += _pydantic_problems(error, tuple(path.split(".")))
    return problems


def load_config(path: str | Path) -> OrmConfig:
    """Read and validate a TOML config file; ConfigError says every problem, with its key path."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(
            str(path), [Problem("", f"cannot read the file: {error.strerror}")]
        ) from None
    return parse_config_text(text, str(path))


def parse_config_text(text: str, source: str) -> OrmConfig:
    """Validate TOML text; a syntax error is reported with its line and column."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(source, [Problem("", f"not valid TOML: {error}")]) from None
    return parse_config(raw, source)


def load_demo_config(
    state_dir: Path,
    mastodon_url: str = "http://127.0.0.1:9",
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> OrmConfig:
    """The embedded demo: bundled feeds, SQLite and a mail directory under `state_dir`.

    `mastodon_url` is where the demo's fake Mastodon instance answers (`monitor.demo`); the
    feeds are the bundled ones dated just before the demo's first run (`monitor.demo.dates`).
    """
    text = (DEMO_DIR / "demo.toml").read_text(encoding="utf-8")
    for placeholder, value in (
        ("@DEMO_FEEDS@", dated_feeds(state_dir, demo_started_at(state_dir, clock)).as_posix()),
        ("@STATE_DIR@", state_dir.as_posix()),
        ("@FAKE_MASTODON_URL@", mastodon_url),
    ):
        text = text.replace(placeholder, value)
    return parse_config_text(text, "embedded demo config")
