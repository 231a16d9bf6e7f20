"""The configuration's shape: pydantic models of the TOML file, strict about unknown keys."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import time
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
)

from alerts.base import CredentialName
from alerts.channels import ChannelSettingsField
from monitor.calendar.clock import time_zone
from monitor.calendar.closures import parse_span
from monitor.calendar.working_days import Nation
from monitor.classify.base import Label, Severity
from monitor.classify.settings import ClassifierConfig

SCHEMA_VERSION = 1


def _check_span(text: str) -> str:
    parse_span(text)  # raises ValueError saying what is wrong
    return text


Slug = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")]
Role = Literal["account_manager", "dsl", "deputy_dsl", "slt", "data_protection_lead", "it_lead"]
DateSpan = Annotated[str, AfterValidator(_check_span)]

# Roles a route may name besides people's ids: "lead" is the account's own lead.
ROUTE_ROLES = {"lead", "account_manager", "dsl", "slt", "data_protection_lead", "it_lead"}
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
    state_dir: str = "."
    web_listen: str | None = Field(None, pattern=r"^[^:]+:\d{1,5}$")
    link_secret_credential: CredentialName | None = None
    link_valid_days: float = Field(7, gt=0)

    @property
    def models_dir(self) -> Path:
        """Where `orm-monitor models pull` keeps Hugging Face models for this service."""
        return Path(self.state_dir) / "models"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            time_zone(value)
        except ValueError:
            raise ValueError(
                f"unknown time zone {value!r}: use an IANA name such as 'Europe/London'"
            ) from None
        return value

    @field_validator("web_listen")
    @classmethod
    def _port_in_range(cls, value: str | None) -> str | None:
        if value is not None and not 1 <= int(value.rpartition(":")[2]) <= 65535:
            raise ValueError(f"{value!r}: the port must be 1 to 65535, e.g. '127.0.0.1:8080'")
        return value

    @field_validator("database_url")
    @classmethod
    def _no_password_in_url(cls, value: str) -> str:
        if re.match(r"^[a-z0-9+]+://[^/@]*:[^/@]+@", value):
            raise ValueError(
                "the database password must not be written in the config file; "
                'set database_url_credential = "NAME" and put the whole URL in '
                "$CREDENTIALS_DIRECTORY/NAME or the environment variable NAME"
            )
        return value


class FloodConfig(Strict):
    """When many alerts on one thread or source become one grouped alert (a pile-on)."""

    window_minutes: float = Field(60, gt=0)
    per_thread: int = Field(5, ge=2)
    per_source: int = Field(20, ge=2)
    examples: int = Field(5, ge=1, le=20)


class SpikeConfig(Strict):
    """The hourly "possible crisis" check of negative or flagged volume against a baseline."""

    enabled: bool = True
    recent_hours: int = Field(3, ge=1, le=48)
    baseline_days: int = Field(7, ge=1, le=60)
    k: float = Field(3.0, gt=0)
    min_count: int = Field(10, ge=1)
    min_ratio: float = Field(3.0, ge=1)
    cooldown_hours: float = Field(12, ge=0)


class AlertsConfig(Strict):
    """How alerts are raised and how the dispatcher delivers the outbox."""

    interval_seconds: int = Field(10, ge=1, le=3600)
    max_attempts: int = Field(8, ge=1, le=50)
    backoff_initial_seconds: float = Field(30, gt=0)
    backoff_max_seconds: float = Field(3600, gt=0)
    lease_seconds: int = Field(300, ge=10)
    max_item_age_hours: float = Field(72, ge=0)
    flood: FloodConfig = FloodConfig()
    spike: SpikeConfig = SpikeConfig()


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
    opens_windows: bool | None = None
    routing: dict[Label, Route] = {}

    def connector_settings(self) -> dict[str, Any]:
        """The keys meant for the connector's own Config model."""
        return dict(self.model_extra or {})

    @property
    def display_name(self) -> str:
        """What staff call this source."""
        return self.name or self.id


class CalendarConfig(Strict):
    """The school's working days: its nation's bank holidays, closures, term holidays."""

    closures: list[DateSpan] = []
    closures_ics: str | None = None
    term_holidays: list[DateSpan] = []
    term_holidays_closed: bool = False
    end_of_day: time = time(17, 0)


class ReplyWindowsConfig(Strict):
    """The reply rule: which items open a window, when to remind, when to summarise."""

    hours: float = Field(24, gt=0)
    remind_before_hours: float = Field(4, ge=0)
    morning_summary: time = time(8, 0)
    kinds: list[Literal["comment", "reply", "mention", "review", "post"]] = [
        "comment",
        "reply",
        "mention",
        "review",
    ]
    praise_opens: bool = False
    spam_opens: bool = False


Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]


class DigestConfig(Strict):
    """The weekly ORM digest for senior leadership: when, to whom, and what it may show."""

    enabled: bool = True
    weekday: Weekday = "monday"
    send_at: time = time(7, 0)
    """Local time (service.timezone) on `weekday` when last week's digest is sent."""
    recipients: list[str] = ["slt"]
    """Roles or person ids who get the email (with the PDF attached)."""
    teams: list[str] = []
    """Teams channels that get a short card with the headline figures."""
    show_sensitive_text: bool = False
    """Print the text of safeguarding and personal-data items (default: counts, held by the DSL)."""
    top_items: int = Field(5, ge=0, le=20)
    praise_quotes: int = Field(3, ge=0, le=10)


class SchoolConfig(Strict):
    """One school: its names, people, sources, channels and routing."""

    id: Slug
    name: str
    nation: Nation = "england"
    names: list[str] = []
    staff_names: list[str] = []
    pupil_name_hashes_file: str | None = None
    pupil_hash_key_credential: CredentialName | None = None
    people: list[Person] = []
    sources: list[SourceConfig] = []
    channels: dict[Slug, ChannelSettingsField] = {}
    email_channel: str | None = None
    fallback_channel: str | None = None
    routing: dict[Label, Route] = {}
    calendar: CalendarConfig = CalendarConfig()
    reply_windows: ReplyWindowsConfig = ReplyWindowsConfig()
    digest: DigestConfig = DigestConfig()

    def person(self, person_id: str) -> Person | None:
        """The person with this id, if any."""
        return next((p for p in self.people if p.id == person_id), None)

    def people_with(self, role: str) -> list[Person]:
        """Everyone holding `role` (DSL includes the deputies)."""
        wanted = {"dsl", "deputy_dsl"} if role == "dsl" else {role}
        return [p for p in self.people if wanted.intersection(p.roles)]


class TrustConfig(Strict):
    """A multi-academy trust: who reads the roll-up digest comparing its schools."""

    id: Slug = "trust"
    name: str
    people: list[Person] = []
    channels: dict[Slug, ChannelSettingsField] = {}
    email_channel: str | None = None
    digest: DigestConfig = DigestConfig()

    def as_school(self) -> SchoolConfig:
        """The trust as a tenant the outbox can deliver for (its own people and channels)."""
        return SchoolConfig(
            id=self.id,
            name=self.name,
            people=self.people,
            channels=self.channels,
            email_channel=self.email_channel,
            digest=self.digest,
        )


class OrmConfig(Strict):
    """The whole configuration file."""

    schema_version: Literal[1]
    service: ServiceConfig = ServiceConfig()
    alerts: AlertsConfig = AlertsConfig()
    classifier: ClassifierConfig = ClassifierConfig()
    schools: list[SchoolConfig] = Field(min_length=1)
    trust: TrustConfig | None = None

    def school(self, school_id: str) -> SchoolConfig:
        """The school with this id (or the trust's); KeyError names the ones configured."""
        for school in self.schools:
            if school.id == school_id:
                return school
        if self.trust is not None and self.trust.id == school_id:
            return self.trust.as_school()
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
    """The route for `label`: the source's own, else the school's, else `DEFAULT_ROUTES`."""
    if label in source.routing:
        return source.routing[label]
    if label in school.routing:
        return school.routing[label]
    return Route(notify=list(DEFAULT_ROUTES[label]))


def severity_for(route: Route, label: Label, default: Severity) -> Severity:
    """The configured severity of a label, or its default."""
    return Severity.parse(route.severity) if route.severity else default


def connector_config(source: SourceConfig, config_model: type[BaseModel]) -> BaseModel:
    """The connector's own Config model for a source (already checked at load)."""
    return config_model.model_validate(source.connector_settings())
