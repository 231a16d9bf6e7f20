"""The configuration file: TOML validated into pydantic models, every problem reported at once."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from monitor.classify.base import Label, Severity

SCHEMA_VERSION = 1
DEMO_DIR = Path(__file__).parent / "demo"

Slug = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")]
CredentialName = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,128}$")]
Role = Literal["account_manager", "dsl", "deputy_dsl", "slt", "data_protection_lead", "it_lead"]
Nation = Literal["england", "wales", "scotland", "northern-ireland"]

# Roles a route may name besides people's ids: "lead" is the account's own lead.
ROUTE_ROLES = {"lead", "account_manager", "dsl", "slt", "data_protection_lead", "it_lead"}
SECRET_KEY = re.compile(
    r"(password|passwd|secret|token|api_?key|webhook(_url)?|app_password)$", re.IGNORECASE
)
EMAIL = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")


class Strict(BaseModel):
    """Base for config sections: unknown keys are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class ServiceConfig(Strict):
    """Process-wide settings."""

    database_url: str = "sqlite:///var/orm-monitor.db"
    database_url_credential: CredentialName | None = None
    timezone: str = "Europe/London"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    public_url: str = "http://localhost:8080"

    @field_validator("database_url")
    @classmethod
    def _no_password_in_url(cls, value: str) -> str:
        if re.match(r"^[a-z0-9+]+://[^/@]*:[^/@]+@", value):
            raise ValueError(
                "the database password must not be written in the config file; "
                "set database_url_credential = \"NAME\" and put the whole URL in "
                "$CREDENTIALS_DIRECTORY/NAME or the environment variable NAME"
            )
        return value


class AlertsConfig(Strict):
    """How alerts are raised and how the dispatcher delivers the outbox."""

    interval_seconds: int = Field(10, ge=1, le=3600)
    max_attempts: int = Field(8, ge=1, le=50)
    backoff_initial_seconds: float = Field(30, gt=0)
    backoff_max_seconds: float = Field(3600, gt=0)
    lease_seconds: int = Field(300, ge=10)
    max_item_age_hours: float = Field(72, ge=0)


class SmtpChannel(Strict):
    """Email through an SMTP server (Microsoft 365, Google Workspace relay, the LA's relay)."""

    type: Literal["smtp"]
    host: str
    port: int = Field(587, ge=1, le=65535)
    security: Literal["starttls", "tls", "none"] = "starttls"
    username: str | None = None
    password_credential: CredentialName | None = None
    from_address: str
    from_name: str = "orm-monitor"
    timeout_seconds: float = Field(30, gt=0)


class GraphMailChannel(Strict):
    """Email through Microsoft Graph `sendMail` with app-only credentials."""

    type: Literal["graph_mail"]
    tenant_id: str
    client_id: str
    client_secret_credential: CredentialName
    sender: str
    authority_url: str = "https://login.microsoftonline.com"
    graph_url: str = "https://graph.microsoft.com/v1.0"
    timeout_seconds: float = Field(30, gt=0)


class TeamsChannel(Strict):
    """A Teams channel through a Workflows webhook (the URL is a secret)."""

    type: Literal["teams"]
    webhook_url_credential: CredentialName
    timeout_seconds: float = Field(30, gt=0)


class MaildirChannel(Strict):
    """Messages written to a local Maildir, for the demo and for air-gapped trials."""

    type: Literal["maildir"]
    path: str = "var/mail"
    from_address: str = "orm-monitor@localhost"


ChannelConfig = Annotated[
    SmtpChannel | GraphMailChannel | TeamsChannel | MaildirChannel, Field(discriminator="type")
]


class Person(Strict):
    """A member of staff who may receive alerts."""

    id: Slug
    name: str
    email: str
    roles: list[Role] = []

    @field_validator("email")
    @classmethod
    def _email_shape(cls, value: str) -> str:
        if not EMAIL.match(value):
            raise ValueError(f"{value!r} is not an email address")
        return value


class Route(Strict):
    """Who hears about one label, and how serious it is."""

    notify: list[str] = []
    severity: Literal["info", "low", "medium", "high", "critical"] | None = None
    teams: list[str] = []


class SourceConfig(BaseModel):
    """One monitored account or search; keys other than these belong to its connector."""

    model_config = ConfigDict(extra="allow", frozen=True)

    id: Slug
    type: str
    name: str | None = None
    lead: str | None = None
    interval_minutes: float | None = Field(None, gt=0)
    enabled: bool = True
    routing: dict[Label, Route] = {}

    def connector_settings(self) -> dict[str, Any]:
        """The keys meant for the connector's own Config model."""
        return dict(self.model_extra or {})

    @property
    def display_name(self) -> str:
        """What staff call this source."""
        return self.name or self.id


class SchoolConfig(Strict):
    """One school: its names, people, sources, channels and routing."""

    id: Slug
    name: str
    nation: Nation = "england"
    names: list[str] = []
    staff_names: list[str] = []
    pupil_name_hashes_file: str | None = None
    people: list[Person] = []
    sources: list[SourceConfig] = []
    channels: dict[Slug, ChannelConfig] = {}
    email_channel: str | None = None
    fallback_channel: str | None = None
    routing: dict[Label, Route] = {}

    def person(self, person_id: str) -> Person | None:
        """The person with this id, if any."""
        return next((p for p in self.people if p.id == person_id), None)

    def people_with(self, role: str) -> list[Person]:
        """Everyone holding `role` (DSL includes the deputies)."""
        wanted = {"dsl", "deputy_dsl"} if role == "dsl" else {role}
        return [p for p in self.people if wanted.intersection(p.roles)]


class OrmConfig(Strict):
    """The whole configuration file."""

    schema_version: Literal[1]
    service: ServiceConfig = ServiceConfig()
    alerts: AlertsConfig = AlertsConfig()
    schools: list[SchoolConfig] = Field(min_length=1)

    def school(self, school_id: str) -> SchoolConfig:
        """The school with this id; KeyError names the ones configured."""
        for school in self.schools:
            if school.id == school_id:
                return school
        known = ", ".join(s.id for s in self.schools)
        raise KeyError(f"no school {school_id!r} in the config (configured: {known})")

    def sources(self) -> Iterator[tuple[SchoolConfig, SourceConfig]]:
        """Every source with its school."""
        for school in self.schools:
            for source in school.sources:
                yield school, source

    def source(self, source_id: str) -> tuple[SchoolConfig, SourceConfig]:
        """The source with this id; KeyError names the ones configured."""
        for school, source in self.sources():
            if source.id == source_id:
                return school, source
        known = ", ".join(s.id for _, s in self.sources()) or "none"
        raise KeyError(f"no source {source_id!r} in the config (configured: {known})")


DEFAULT_ROUTES: dict[Label, tuple[str, ...]] = {
    Label.CRITICISM: ("lead",),
    Label.QUERY: ("lead",),
    Label.PRAISE: (),
    Label.INSULT: ("lead",),
    Label.HARASSMENT: ("lead", "slt"),
    Label.THREAT: ("dsl", "slt"),
    Label.HATE: ("lead", "slt"),
    Label.SEXUAL: ("dsl",),
    Label.SAFEGUARDING: ("dsl",),
    Label.EXTREMISM: ("dsl",),
    Label.DEFAMATION: ("slt",),
    Label.PERSONAL_DATA: ("dsl", "data_protection_lead"),
    Label.SPAM: (),
}


def route_for(school: SchoolConfig, source: SourceConfig, label: Label) -> Route:
    """The route for `label`: the source's own, else the school's, else DESIGN.md's default."""
    if label in source.routing:
        return source.routing[label]
    if label in school.routing:
        return school.routing[label]
    return Route(notify=list(DEFAULT_ROUTES[label]))


def severity_for(route: Route, label: Label, default: Severity) -> Severity:
    """The configured severity of a label, or its default."""
    return Severity.parse(route.severity) if route.severity else default


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
        f"{key}_credential = \"{name}\" and put the value in the environment variable {name} "
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
    if school.email_channel and school.email_channel in school.channels:
        if isinstance(school.channels[school.email_channel], TeamsChannel):
            problems.append(Problem(f"{path}.email_channel", "must name an email channel"))
    if school.people and school.email_channel is None:
        problems.append(Problem(f"{path}.email_channel", "set the channel that emails people"))
    if not school.people_with("account_manager"):
        problems.append(Problem(f"{path}.people", "no person has the role account_manager"))
    problems += _check_routes(school, school.routing, f"{path}.routing")
    for j, source in enumerate(school.sources):
        problems += _check_source(school, source, f"{path}.sources.{j}", registry)
    return problems


def _check_routes(school: SchoolConfig, routing: Mapping[Label, Route], path: str) -> list[Problem]:
    problems = []
    for label, route in routing.items():
        for who in route.notify:
            if who not in ROUTE_ROLES and school.person(who) is None:
                problems.append(Problem(
                    f"{path}.{label}.notify",
                    f"{who!r} is neither a role ({', '.join(sorted(ROUTE_ROLES))}) nor a person id",
                ))
        for name in route.teams:
            if not isinstance(school.channels.get(name), TeamsChannel):
                problems.append(Problem(f"{path}.{label}.teams", f"no Teams channel named {name!r}"))
    return problems


def _check_source(school: SchoolConfig, source: SourceConfig, path: str, registry: Any) -> list[Problem]:
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


def connector_config(source: SourceConfig, config_model: type[BaseModel]) -> BaseModel:
    """The connector's own Config model for a source (already checked at load)."""
    return config_model.model_validate(source.connector_settings())


def load_config(path: str | Path) -> OrmConfig:
    """Read and validate a TOML config file; ConfigError says every problem, with its key path."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(str(path), [Problem("", f"cannot read the file: {error.strerror}")]) from None
    return parse_config_text(text, str(path))


def parse_config_text(text: str, source: str) -> OrmConfig:
    """Validate TOML text; a syntax error is reported with its line and column."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(source, [Problem("", f"not valid TOML: {error}")]) from None
    return parse_config(raw, source)


def load_demo_config(state_dir: Path) -> OrmConfig:
    """The embedded demo: bundled feeds, SQLite and a mail directory under `state_dir`."""
    text = (DEMO_DIR / "demo.toml").read_text(encoding="utf-8")
    text = text.replace("@DEMO_DIR@", DEMO_DIR.as_posix()).replace("@STATE_DIR@", state_dir.as_posix())
    return parse_config_text(text, "embedded demo config")
