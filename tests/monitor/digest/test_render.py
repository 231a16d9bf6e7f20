"""The digest as SLT read it: the HTML email, its text part, the PDF and the Teams card."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from monitor.config.schema import OrmConfig
from monitor.digest.delivery import build
from monitor.digest.render import DigestDocument
from monitor.storage import models
from monitor.storage.engine import Database
from monitor.storage.ingest import sync_config
from tests.support.config import build as build_config
from tests.support.digest_week import (
    HOSTILE,
    LONG_AGO,
    NOW,
    PUPIL,
    SECRET,
    WEEK,
    at,
    populate,
    school_config,
)


def pdf_text(document: DigestDocument) -> str:
    """The PDF's text as a reader would copy it, whitespace collapsed."""
    pages = PdfReader(io.BytesIO(document.pdf)).pages
    return " ".join(" ".join(page.extract_text().split()) for page in pages)


def visible_text(html: str) -> str:
    """The HTML's text with tags dropped and entities decoded, whitespace collapsed."""
    import html as html_module

    return " ".join(html_module.unescape(re.sub(r"<[^>]+>", " ", html)).split())


def digest_for(db: Database, config: OrmConfig, scope: str = "st-marys") -> DigestDocument:
    with db.session() as session:
        return build(session, config, scope, WEEK, NOW)


@pytest.fixture
def config(database_url: str, tmp_path: Path) -> OrmConfig:
    return school_config(database_url, tmp_path)


@pytest.fixture
def document(db: Database, config: OrmConfig) -> DigestDocument:
    populate(db, config)
    return digest_for(db, config)


KNOWN_FIGURES = [
    "12 Items +4 on last week",
    "2 Flagged high/critical 2 critical, 0 high; 1 incident(s) open",
    "3 of 5 Replied in time 60%",
    "2 Breaches reply windows missed",
    "63.0 Blind hours 2 of 3 source(s) not fully seen",
]
KNOWN_LINES = [
    "Items: 12 (+4 on last week)",
    "Flagged high/critical: 2 (2 critical, 0 high; 1 incident(s) open)",
    "Replied in time: 3 of 5 (60%)",
    "Breaches: 2 (reply windows missed)",
    "Blind hours: 63.0 (2 of 3 source(s) not fully seen)",
]


def test_the_html_and_the_pdf_state_the_weeks_known_figures(document: DigestDocument) -> None:
    html, pdf = visible_text(document.html), pdf_text(document)
    for text in (html, pdf):
        for figure in KNOWN_FIGURES:
            assert figure in text
    assert document.text.splitlines()[1:6] == KNOWN_LINES
    for text in (html, pdf):
        assert "Median time to first reply (due this week) 2 h 00 min" in text
        assert "90th percentile time to first reply 26 h 00 min" in text
        assert "Facebook page 7 5 +2" in text
        assert "X mentions 2 0 +2" in text
        assert "contact threat 1 0 0" in text
        assert "commerce spam 0 0 1" in text
        assert "Items, each counted once 2 0 10" in text
        assert "rate-limited by the platform (Tue 17 Nov 02:00 to Tue 17 Nov 05:00)" in text
        assert "X read budget spent (since Fri 20 Nov 12:00)" in text
        assert "Reported to the police, ref 4471" in text
        assert "Jo Smith" in text
        assert "Week 2026-W47 (16\u201322 Nov 2026)" in text
    assert document.pdf.startswith(b"%PDF-")
    school = "St Mary's C of E Primary School"
    assert document.subject == f"Weekly ORM digest: {school}, 16\u201322 Nov 2026"


def test_hostile_post_text_is_inert_in_every_output(db: Database, config: OrmConfig) -> None:
    populate(db, config)
    with db.session() as session:  # flag the hostile post (item 5) so that it is quoted
        assessment = session.scalars(
            select(models.Assessment).where(models.Assessment.item_id == 5)
        ).one()
        assessment.severity = "high"
    document = digest_for(db, config)
    for html in (document.html, document.page):
        assert "<script" not in html
        assert "<img src=x" not in html
        assert "onerror=alert" not in html.replace("onerror=alert(1)&gt;", "")
        assert 'href="javascript:' not in html
        assert "<strong>bold</strong>" not in html
        assert "&lt;script&gt;alert(&#34;pwned&#34;)&lt;/script&gt;" in html
        assert "{{ 7*7 }} {% if true %}JINJA{% endif %}" in html
    shown = visible_text(document.html)
    assert '<script>alert("pwned")</script><img src=x onerror=alert(1)> **bold**' in shown
    assert "{{ 7*7 }} {% if true %}JINJA{% endif %} &amp; ${7*7}" in shown
    assert "{{ 7*7 }} {% if true %}JINJA{% endif %}" in pdf_text(document)
    assert " ".join(HOSTILE.split()) in " ".join(document.text.split())
    assert "javascript:alert(1)" in shown  # shown as text, never as a link
    assert "JINJA" not in document.teams.summary


def test_safeguarding_text_and_watch_listed_pupil_names_are_never_printed(
    document: DigestDocument,
) -> None:
    outputs = [document.html, document.page, document.text, pdf_text(document)]
    outputs += [document.teams.summary, document.subject]
    for text in outputs:
        assert SECRET not in text
        assert PUPIL not in text
        assert "Amelia" not in text
    assert "Text held by the DSL (safeguarding or personal data)." in visible_text(document.html)
    assert "1 safeguarding or personal-data item(s) this week: held by the DSL" in pdf_text(
        document
    )
    assert "Well done to [pupil] [pupil] and the choir" in document.text


def test_configured_to_show_sensitive_text_it_still_hides_pupil_names(
    db: Database, database_url: str, tmp_path: Path
) -> None:
    config = school_config(database_url, tmp_path, digest={"show_sensitive_text": True})
    populate(db, config)
    document = digest_for(db, config)
    assert SECRET in document.html
    assert f"{SECRET} [pupil] [pupil] in year 4" in pdf_text(document)
    assert "Amelia" not in document.html + document.text + pdf_text(document)


def test_every_chart_is_an_inline_image_with_alt_text_stating_its_numbers(
    document: DigestDocument,
) -> None:
    names = sorted(c.name for c in document.charts)
    assert names == ["sentiment-0", "volume-0"]
    for chart in document.charts:
        assert chart.png.startswith(b"\x89PNG")
        assert f'src="cid:chart-{chart.name}@orm-monitor"' in document.html
        assert 'src="data:image/png;base64,' in document.page
    volume = next(c for c in document.charts if c.name == "volume-0")
    assert volume.alt == (
        "Items per week, oldest first: W40 2, W41 3, W42 4, W43 5, W44 6, W45 7, W46 8, W47 12."
    )
    assert f'alt="{volume.alt}"' in document.html


def test_the_email_html_is_built_for_outlook(document: DigestDocument) -> None:
    assert "<style" not in document.html  # Outlook drops <style>: every style is inline
    assert 'role="presentation"' in document.html
    assert "display:flex" not in document.html and "<div" not in document.html


def quiet_school(db: Database, config: OrmConfig, *outages: models.SourceOutage) -> None:
    """The school's sources polled all week and nothing said."""
    with db.session() as session:
        sync_config(session, config)
        session.get_one(models.School, "st-marys").created_at = LONG_AGO
        session.flush()
        for _, source in config.sources():
            session.get_one(models.Account, source.id).created_at = LONG_AGO
            session.add(
                models.ConnectorState(
                    source_id=source.id,
                    cursor={},
                    last_poll_at=NOW,
                    last_success_at=NOW,
                    consecutive_failures=0,
                    auth_failed=False,
                )
            )
        session.add_all(outages)


def test_a_school_with_nothing_seen_gets_a_short_all_healthy_digest(
    db: Database, config: OrmConfig
) -> None:
    quiet_school(db, config)
    document = digest_for(db, config)
    for text in (visible_text(document.html), pdf_text(document)):
        assert "Nothing seen; all sources healthy." in text
        assert (
            "Nothing was seen about the school this week, and all 3 source(s) were polled" in text
        )
        assert "Flagged items" not in text
    assert document.charts == ()
    assert document.teams.summary == "Nothing seen; all sources healthy."


def test_a_quiet_week_with_a_blind_source_is_never_reported_as_healthy(
    db: Database, config: OrmConfig
) -> None:
    expired = models.SourceOutage(
        source_id="x", kind="auth", reason="401", started_at=datetime(2026, 11, 1, tzinfo=UTC)
    )
    quiet_school(db, config, expired)
    document = digest_for(db, config)
    text = pdf_text(document)
    assert "Nothing seen, but 1 of 3 source(s) were blind." in text
    assert "a quiet week cannot be told from a blind one" in text
    assert "token expired or revoked (since Mon 16 Nov 00:00)" in text
    assert "healthy" not in document.teams.summary


def trust_config(database_url: str, tmp_path: Path) -> OrmConfig:
    single = school_config(database_url, tmp_path)
    raw: dict[str, Any] = single.model_dump(mode="json", exclude_none=True)
    oak = {
        "id": "oak",
        "name": "Oak Academy",
        "people": raw["schools"][0]["people"],
        "channels": raw["schools"][0]["channels"],
        "email_channel": "mail",
        "sources": [{"id": "oak-blog", "type": "rss", "url": "file:///nowhere.xml"}],
    }
    raw["schools"].append(oak)
    raw["trust"] = {
        "id": "acorn-trust",
        "name": "Acorn Learning Trust",
        "people": [
            {"id": "ceo", "name": "Chris Ng", "email": "ceo@trust.example", "roles": ["slt"]}
        ],
        "channels": {"mail": {"type": "maildir", "path": str(tmp_path / "trust-mail")}},
        "email_channel": "mail",
    }
    return build_config(raw)


def test_the_trust_roll_up_compares_its_schools_and_has_each_schools_page(
    db: Database, database_url: str, tmp_path: Path
) -> None:
    config = trust_config(database_url, tmp_path)
    populate(db, config)
    document = digest_for(db, config, "acorn-trust")
    text = pdf_text(document)
    assert "Acorn Learning Trust: the trust\u2019s schools side by side" in text
    assert (
        "St Mary's C of E Primary School 12 +4 2 3 of 5 (60%) 2 h 00 min 2 63.0 "
        "2 of 3 source(s) not fully seen"
    ) in visible_text(document.html)
    assert "Oak Academy 0 ±0 0 none due — 0 168.0 1 of 1 source(s) not fully seen" in (
        visible_text(document.html)
    )
    assert text.count("WEEKLY ORM DIGEST") == 1
    assert "Oak Academy Week 2026-W47" in text and "never polled successfully" in text
    assert len(PdfReader(io.BytesIO(document.pdf)).pages) >= 3
    assert {c.name for c in document.charts} == {"schools", "volume-0", "sentiment-0"}
    assert [c.name for c in document.email_charts] == ["schools"]
    assert "What was said" not in document.html  # the email compares; the PDF has the pages
    assert "own page (what was said" in visible_text(document.html)
    assert "What was said" in document.page
    assert document.teams.summary.splitlines()[1].startswith("Oak Academy: Nothing seen, but 1")


def test_times_in_the_digest_are_uk_local_across_the_clock_change(
    db: Database, config: OrmConfig
) -> None:
    populate(db, config)
    with db.session() as session:
        item = session.get_one(models.Item, 1)
        item.created_at = at(16, 9)
    document = digest_for(db, config)
    assert "GMT" in visible_text(document.html)  # built on a Monday in November
