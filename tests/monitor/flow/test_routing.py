"""Routing: labels to people and channels, from the default routes and the school's config."""

from __future__ import annotations

import re
from pathlib import Path

from monitor.classify.base import DEFAULT_SEVERITY, Assessment, Label, Severity, Signal
from monitor.config.schema import DEFAULT_ROUTES
from monitor.flow.routing import decide
from tests.support.config import build, raw_config, rss_source


def _assessment(*labels: Label) -> Assessment:
    return Assessment(signals=tuple(Signal(lbl, 1.0, "rules", f"test:{lbl}") for lbl in labels))


def _who(decision) -> dict[str, set[str]]:  # type: ignore[no-untyped-def]
    found: dict[str, set[str]] = {}
    for d in decision.destinations:
        found.setdefault(d.recipient.address, set()).update(str(lbl) for lbl in d.labels)
    return found


def _config(**school):  # type: ignore[no-untyped-def]
    return build(
        raw_config(database_url="sqlite://", sources=[rss_source("https://e.org/f")], **school)
    )


def test_threats_go_to_every_dsl_and_slt_as_critical() -> None:
    config = _config()
    school, source = config.source("blog")
    decision = decide(school, source, _assessment(Label.THREAT))
    assert decision.severity is Severity.CRITICAL
    assert set(_who(decision)) == {
        "dsl@school.example",
        "deputy@school.example",
        "head@school.example",
    }


def test_each_person_gets_one_alert_listing_only_the_labels_routed_to_them() -> None:
    config = _config()
    school, source = config.source("blog")
    decision = decide(school, source, _assessment(Label.INSULT, Label.PERSONAL_DATA))
    who = _who(decision)
    assert who["j.smith@school.example"] == {"insult"}
    assert who["dsl@school.example"] == {"personal_data"}
    assert who["head@school.example"] == {"personal_data"}
    assert decision.severity is Severity.HIGH


def test_praise_and_spam_alert_nobody() -> None:
    config = _config()
    school, source = config.source("blog")
    decision = decide(school, source, _assessment(Label.PRAISE, Label.SPAM))
    assert decision.destinations == ()
    assert decision.severity is Severity.INFO


def test_school_and_source_routing_override_the_defaults_including_severity() -> None:
    config = build(
        raw_config(
            database_url="sqlite://",
            sources=[rss_source("https://e.org/f", routing={"criticism": {"notify": ["rhughes"]}})],
            channels={
                "mail": {"type": "maildir"},
                "staffroom": {"type": "teams", "webhook_url_credential": "TEAMS"},
            },
            routing={"insult": {"notify": ["slt"], "severity": "high", "teams": ["staffroom"]}},
        )
    )
    school, source = config.source("blog")
    decision = decide(school, source, _assessment(Label.CRITICISM, Label.INSULT))
    who = _who(decision)
    assert who == {"head@school.example": {"criticism", "insult"}, "staffroom": {"insult"}}
    assert decision.severity is Severity.HIGH
    teams = [d for d in decision.destinations if d.channel == "staffroom"]
    assert teams[0].recipient.name == "Teams: staffroom"


def test_the_lead_of_a_source_without_one_is_the_account_manager() -> None:
    config = build(
        raw_config(
            database_url="sqlite://",
            sources=[{"id": "blog", "type": "rss", "url": "https://e.org/f"}],
        )
    )
    school, source = config.source("blog")
    assert set(_who(decide(school, source, _assessment(Label.QUERY)))) == {"j.smith@school.example"}


def test_a_role_nobody_holds_falls_back_to_the_account_manager() -> None:
    raw = raw_config(database_url="sqlite://", sources=[rss_source("https://e.org/f")])
    raw["schools"][0]["people"] = [
        p for p in raw["schools"][0]["people"] if "slt" not in p["roles"]
    ]
    config = build(raw)
    school, source = config.source("blog")
    assert set(_who(decide(school, source, _assessment(Label.DEFAMATION)))) == {
        "j.smith@school.example"
    }


README = Path(__file__).resolve().parents[3] / "README.md"
WHO = {
    "the account's lead": "lead",
    "SLT": "slt",
    "the DSLs": "dsl",
    "the data protection lead": "data_protection_lead",
}


def test_the_readme_table_of_labels_is_the_default_routing() -> None:
    rows = re.findall(r"^\| `(\w+)` \| [^|]+ \| ([^|]+) \| (\w+) \|$", README.read_text(), re.M)
    table = {
        Label(label): (
            tuple(WHO[who] for who in told.strip().split(", ") if not who.startswith("nobody")),
            Severity.parse(severity),
        )
        for label, told, severity in rows
    }
    assert table == {label: (DEFAULT_ROUTES[label], DEFAULT_SEVERITY[label]) for label in Label}


def test_an_unsure_paging_label_alerts_nobody_now_and_is_held_for_review() -> None:
    config = build(raw_config(database_url="sqlite://", sources=[rss_source("https://e.org/f")]))
    school = config.schools[0]
    unsure = Signal(Label.THREAT, 0.7, "transformers", "threat-head", confident=False)
    insult = Signal(Label.INSULT, 1.0, "rules", "lexicon:insult")
    decision = decide(school, school.sources[0], Assessment(signals=(unsure, insult)))
    assert decision.review == (Label.THREAT,)
    assert decision.labels == (Label.INSULT, Label.THREAT)
    assert _who(decision) == {"j.smith@school.example": {"insult"}}
    assert decision.severity is Severity.MEDIUM
