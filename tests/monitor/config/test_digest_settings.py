"""The weekly digest's settings per school, and the trust that gets a roll-up of its schools."""

from __future__ import annotations

from datetime import time
from typing import Any

import pytest
from sqlalchemy import select

from alerts.maildir import MaildirSettings
from alerts.teams import TeamsSettings
from monitor.config.loading import ConfigError, parse_config_text
from monitor.config.schema import DigestConfig
from monitor.storage import models
from monitor.storage.engine import Database
from monitor.storage.ingest import sync_config
from tests.support.config import build, raw_config

TEAMS = {"type": "teams", "webhook_url_credential": "SLT_TEAMS_WEBHOOK"}
TRUST_PEOPLE = [
    {"id": "ceo", "name": "Cara Evans", "email": "ceo@oak.example", "roles": ["slt"]},
    {
        "id": "dpo",
        "name": "Dev Patel",
        "email": "dpo@oak.example",
        "roles": ["data_protection_lead"],
    },
]

ONE_SCHOOL_TOML = """\
schema_version = 1

[service]
database_url = "sqlite://"

[[schools]]
id = "st-marys"
name = "St Mary's"
email_channel = "mail"

[[schools.people]]
id = "jsmith"
name = "Jo Smith"
email = "j.smith@school.example"
roles = ["account_manager"]
"""


def _raw(**school: Any) -> dict[str, Any]:
    return raw_config(database_url="sqlite://", **school)


def _trust(**overrides: Any) -> dict[str, Any]:
    trust: dict[str, Any] = {
        "id": "oak-trust",
        "name": "Oak Multi-Academy Trust",
        "people": [dict(p) for p in TRUST_PEOPLE],
        "channels": {
            "trust-mail": {"type": "maildir", "path": "var/trust-mail"},
            "trust-teams": dict(TEAMS),
        },
        "email_channel": "trust-mail",
    }
    trust.update(overrides)
    return trust


def _problems(raw: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        build(raw)
    return [str(p) for p in caught.value.problems]


def _paths(raw: dict[str, Any]) -> set[str]:
    with pytest.raises(ConfigError) as caught:
        build(raw)
    return {p.path for p in caught.value.problems}


# A school's digest


def test_a_school_without_a_digest_section_gets_a_monday_morning_digest_to_slt() -> None:
    digest = build(_raw()).school("st-marys").digest
    assert digest == DigestConfig()
    assert digest.enabled is True
    assert (digest.weekday, digest.send_at) == ("monday", time(7, 0))
    assert (digest.recipients, digest.teams) == (["slt"], [])
    assert digest.show_sensitive_text is False
    assert (digest.top_items, digest.praise_quotes) == (5, 3)


def test_a_digest_section_in_toml_is_read_with_every_setting() -> None:
    text = (
        ONE_SCHOOL_TOML
        + """
[[schools.people]]
id = "rhughes"
name = "Rob Hughes"
email = "head@school.example"
roles = ["slt"]

[schools.channels.mail]
type = "maildir"

[schools.channels.slt-teams]
type = "teams"
webhook_url_credential = "SLT_TEAMS_WEBHOOK"

[schools.digest]
enabled = false
weekday = "friday"
send_at = 16:30:00
recipients = ["rhughes", "dsl"]
teams = ["slt-teams"]
show_sensitive_text = true
top_items = 10
praise_quotes = 0
"""
    )
    digest = parse_config_text(text, "config.toml").school("st-marys").digest
    assert digest == DigestConfig(
        enabled=False,
        weekday="friday",
        send_at=time(16, 30),
        recipients=["rhughes", "dsl"],
        teams=["slt-teams"],
        show_sensitive_text=True,
        top_items=10,
        praise_quotes=0,
    )


@pytest.mark.parametrize(
    "key, value",
    [
        ("weekday", "Monday"),
        ("weekday", "funday"),
        ("send_at", "seven o'clock"),
        ("top_items", -1),
        ("top_items", 21),
        ("praise_quotes", 11),
        ("recipients", "slt"),
        ("cc", ["governors@school.example"]),
    ],
)
def test_a_digest_setting_of_the_wrong_shape_is_reported_at_its_path(key: str, value: Any) -> None:
    assert _paths(_raw(digest={key: value})) == {f"schools[st-marys].digest.{key}"}


def test_the_limits_on_top_items_and_quotes_are_inclusive() -> None:
    digest = build(_raw(digest={"top_items": 20, "praise_quotes": 10})).school("st-marys").digest
    assert (digest.top_items, digest.praise_quotes) == (20, 10)
    digest = build(_raw(digest={"top_items": 0, "praise_quotes": 0})).school("st-marys").digest
    assert (digest.top_items, digest.praise_quotes) == (0, 0)


def test_digest_recipients_may_be_roles_or_person_ids() -> None:
    raw = _raw(digest={"recipients": ["slt", "dsl", "data_protection_lead", "jsmith"]})
    assert build(raw).school("st-marys").digest.recipients == [
        "slt",
        "dsl",
        "data_protection_lead",
        "jsmith",
    ]


def test_a_digest_recipient_that_is_neither_a_role_nor_a_person_is_a_problem() -> None:
    raw = _raw(digest={"recipients": ["slt", "governors", "nobody"]})
    assert _problems(raw) == [
        "schools[st-marys].digest.recipients: 'governors' is neither a role nor a person id",
        "schools[st-marys].digest.recipients: 'nobody' is neither a role nor a person id",
    ]


def test_digest_teams_must_name_the_schools_teams_channels() -> None:
    channels = {"mail": {"type": "maildir", "path": "var/mail"}, "slt-teams": dict(TEAMS)}
    school = build(_raw(channels=channels, digest={"teams": ["slt-teams"]})).school("st-marys")
    assert isinstance(school.channels["slt-teams"], TeamsSettings)
    assert school.digest.teams == ["slt-teams"]

    raw = _raw(channels=channels, digest={"teams": ["slt-teams", "mail", "ghost"]})
    assert _problems(raw) == [
        "schools[st-marys].digest.teams: no Teams channel named 'mail'",
        "schools[st-marys].digest.teams: no Teams channel named 'ghost'",
    ]


def test_each_schools_digest_is_checked_against_its_own_people() -> None:
    raw = _raw(digest={"recipients": ["jsmith"]})
    second = dict(raw["schools"][0], id="oak-primary", name="Oak Primary")
    second["people"] = [p for p in second["people"] if p["id"] != "jsmith"]
    second["people"].append(
        {
            "id": "kbrown",
            "name": "Kim Brown",
            "email": "k.brown@oak.example",
            "roles": ["account_manager"],
        }
    )
    raw["schools"].append(second)
    assert _problems(raw) == [
        "schools[oak-primary].digest.recipients: 'jsmith' is neither a role nor a person id"
    ]


# The trust


def test_without_a_trust_section_there_is_no_trust() -> None:
    config = build(_raw())
    assert config.trust is None
    with pytest.raises(KeyError, match="no school 'trust' in the config"):
        config.school("trust")


def test_a_trust_is_a_tenant_with_its_own_people_channels_and_digest() -> None:
    config = build(_raw() | {"trust": _trust(digest={"teams": ["trust-teams"]})})

    trust = config.school("oak-trust")
    assert (trust.id, trust.name) == ("oak-trust", "Oak Multi-Academy Trust")
    assert [p.id for p in trust.people] == ["ceo", "dpo"]
    assert [p.email for p in trust.people_with("slt")] == ["ceo@oak.example"]
    assert set(trust.channels) == {"trust-mail", "trust-teams"}
    assert isinstance(trust.channels["trust-mail"], MaildirSettings)
    assert trust.email_channel == "trust-mail"
    assert trust.digest.teams == ["trust-teams"]
    assert trust.sources == []
    # The schools keep their own people: the trust's are not added to them.
    assert "ceo" not in {p.id for p in config.school("st-marys").people}


def test_the_trust_id_defaults_to_trust() -> None:
    trust = _trust()
    del trust["id"]
    config = build(_raw() | {"trust": trust})
    assert config.trust is not None and config.trust.id == "trust"
    assert config.school("trust").name == "Oak Multi-Academy Trust"


def test_a_trust_with_only_a_name_is_valid() -> None:
    config = build(_raw() | {"trust": {"name": "Oak Multi-Academy Trust"}})
    trust = config.school("trust")
    assert (trust.people, trust.channels, trust.email_channel) == ([], {}, None)
    assert trust.digest == DigestConfig()


def test_a_trust_in_toml_is_read() -> None:
    text = (
        ONE_SCHOOL_TOML
        + """
[schools.channels.mail]
type = "maildir"

[trust]
id = "oak-trust"
name = "Oak Multi-Academy Trust"
email_channel = "trust-mail"
people = [{ id = "ceo", name = "Cara Evans", email = "ceo@oak.example", roles = ["slt"] }]

[trust.channels.trust-mail]
type = "maildir"
path = "var/trust-mail"

[trust.digest]
weekday = "tuesday"
recipients = ["ceo"]
"""
    )
    trust = parse_config_text(text, "config.toml").school("oak-trust")
    assert trust.email_channel == "trust-mail"
    assert [p.id for p in trust.people] == ["ceo"]
    assert (trust.digest.weekday, trust.digest.recipients) == ("tuesday", ["ceo"])


def test_a_trust_needs_a_name_and_a_slug_id() -> None:
    assert _paths(_raw() | {"trust": {"id": "Oak Trust!"}}) == {"trust.id", "trust.name"}


def test_a_trust_section_with_an_unknown_key_is_reported() -> None:
    assert _paths(_raw() | {"trust": _trust(sources=[])}) == {"trust.sources"}


def test_a_trust_id_that_is_also_a_school_id_is_a_problem() -> None:
    problems = _problems(_raw() | {"trust": _trust(id="st-marys")})
    assert problems == ["trust.id: 'st-marys' is also a school's id; choose another"]


def test_the_trust_email_channel_must_be_one_of_its_channels() -> None:
    problems = _problems(_raw() | {"trust": _trust(email_channel="mail")})
    # "mail" is the school's channel; the trust sends through its own.
    assert problems == ["trust.email_channel: no channel named 'mail' in channels"]


def test_the_trust_email_channel_must_be_an_email_channel() -> None:
    problems = _problems(_raw() | {"trust": _trust(email_channel="trust-teams")})
    assert problems == ["trust.email_channel: must name an email channel"]


def test_trust_people_need_an_email_channel() -> None:
    trust = _trust()
    del trust["email_channel"]
    problems = _problems(_raw() | {"trust": trust})
    assert problems == ["trust.email_channel: set the channel that emails people"]


def test_trust_person_ids_must_be_unique() -> None:
    people = [*TRUST_PEOPLE, dict(TRUST_PEOPLE[0], email="other@oak.example")]
    problems = _problems(_raw() | {"trust": _trust(people=people)})
    assert problems == ["trust.people: person id 'ceo' is used more than once"]


def test_the_trust_digest_is_checked_against_the_trusts_people_and_channels() -> None:
    channels = {"mail": {"type": "maildir", "path": "var/mail"}, "slt-teams": dict(TEAMS)}
    # jsmith and slt-teams belong to the school, not the trust.
    trust = _trust(digest={"recipients": ["ceo", "slt", "jsmith"], "teams": ["slt-teams"]})
    problems = _problems(_raw(channels=channels) | {"trust": trust})
    assert problems == [
        "trust.digest.recipients: 'jsmith' is neither a role nor a person id",
        "trust.digest.teams: no Teams channel named 'slt-teams'",
    ]


def test_the_trust_digest_accepts_its_own_teams_channel() -> None:
    config = build(_raw() | {"trust": _trust(digest={"teams": ["trust-teams"]})})
    assert config.school("oak-trust").digest.teams == ["trust-teams"]
    problems = _problems(_raw() | {"trust": _trust(digest={"teams": ["trust-mail"]})})
    assert problems == ["trust.digest.teams: no Teams channel named 'trust-mail'"]


def test_trust_and_school_problems_are_reported_together() -> None:
    raw = _raw(digest={"recipients": ["governors"]}) | {
        "trust": _trust(id="st-marys", email_channel="pager", digest={"weekday": "funday"})
    }
    assert _paths(raw) == {  # the shape and the references, all at once
        "trust.digest.weekday",
        "schools[st-marys].digest.recipients",
        "trust.id",
        "trust.email_channel",
    }
    raw["trust"]["digest"] = {"recipients": ["board"]}
    assert _paths(raw) == {
        "schools[st-marys].digest.recipients",
        "trust.id",
        "trust.email_channel",
        "trust.digest.recipients",
    }


# The database


def _school_rows(db: Database) -> dict[str, str]:
    with db.session() as session:
        return {row.id: row.name for row in session.scalars(select(models.School))}


def test_sync_config_writes_a_schools_row_for_the_trust(db: Database) -> None:
    config = build(raw_config(database_url=db.url) | {"trust": _trust()})
    with db.session() as session:
        sync_config(session, config)
    assert _school_rows(db) == {
        "st-marys": "St Mary's C of E Primary School",
        "oak-trust": "Oak Multi-Academy Trust",
    }


def test_a_renamed_trust_is_renamed_in_the_database(db: Database) -> None:
    for name in ("Oak Trust", "Oak Multi-Academy Trust"):
        config = build(raw_config(database_url=db.url) | {"trust": _trust(name=name)})
        with db.session() as session:
            sync_config(session, config)
    assert _school_rows(db)["oak-trust"] == "Oak Multi-Academy Trust"


def test_without_a_trust_only_the_schools_are_written(db: Database) -> None:
    with db.session() as session:
        sync_config(session, build(raw_config(database_url=db.url)))
    assert _school_rows(db) == {"st-marys": "St Mary's C of E Primary School"}
