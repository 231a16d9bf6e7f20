"""Every figure the digest states is the one computation's: in the HTML, text part and PDF."""

from __future__ import annotations

import io
import re
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pypdf import PdfReader

from monitor.config.schema import OrmConfig
from monitor.digest.delivery import build
from monitor.digest.figures import SchoolWeek, percent, school_week
from monitor.digest.render import DigestDocument
from monitor.storage import models
from monitor.storage.engine import Database
from tests.monitor.digest.test_render import pdf_text, trust_config, visible_text
from tests.support.config import build as build_config
from tests.support.digest_week import NOW, WEEK, at, populate, school_config

LONDON = ZoneInfo("Europe/London")
HEADINGS = (
    "What was said",
    "Labels by KCSIE area of risk",
    "Reply windows (the 24-hour rule)",
    "Incidents",
    "The most serious items",
    "Praise",
    "Coverage: what was watched",
)
# The tiles as a reader sees them: value, name, detail (HTML and PDF), or "name: value (detail)".
SHOWN = {
    "items": r"(\d+) Items ([+\u2212±]\d+) on last week",
    "flagged": r"(\d+) Flagged high/critical (\d+) critical, (\d+) high",
    "replied": r"(\d+) of (\d+) Replied in time (\d+%)",
    "breaches": r"(\d+) Breaches reply windows missed",
    "blind": r"([\d.]+) Blind hours (\d+) of (\d+) source",
}
LINES = {
    "items": r"Items: (\d+) \(([+\u2212±]\d+) on last week\)",
    "flagged": r"Flagged high/critical: (\d+) \((\d+) critical, (\d+) high",
    "replied": r"Replied in time: (\d+) of (\d+) \((\d+%)\)",
    "breaches": r"Breaches: (\d+) \(reply windows missed\)",
    "blind": r"Blind hours: ([\d.]+) \((\d+) of (\d+) source",
}


def computed(s: SchoolWeek) -> dict[str, tuple[str, ...]]:
    """What the tiles must say, straight from the figures."""
    r = s.replies
    due = r.in_time + r.late + r.still_open_late
    return {
        "items": (str(s.total.now), s.total.delta),
        "flagged": (str(s.flagged_items), str(s.labels.critical), str(s.labels.high)),
        "replied": (str(r.in_time), str(due), percent(r.share_in_time)),
        "breaches": (str(len(r.breaches)),),
        "blind": (f"{s.blind_hours:.1f}", str(len(s.blind_sources)), str(len(s.coverage))),
    }


def extracted(text: str, patterns: dict[str, str]) -> dict[str, tuple[str, ...]]:
    """Each tile's figures as found in a rendered form (each tile exactly once)."""
    found = {}
    for key, pattern in patterns.items():
        matches = re.findall(pattern, text)
        assert len(matches) == 1, f"{key}: {matches!r}"
        found[key] = tuple(matches[0]) if isinstance(matches[0], tuple) else (matches[0],)
    return found


def section(text: str, heading: str) -> str:
    """The text from a section's heading to the next heading."""
    start = text.index(heading) + len(heading)
    ends = [text.find(h, start) for h in HEADINGS if text.find(h, start) != -1]
    return text[start : min(ends, default=len(text))]


def week_and_digest(db: Database, config: OrmConfig) -> tuple[SchoolWeek, DigestDocument]:
    with db.session() as session:
        week = school_week(session, config.schools[0], WEEK, NOW, LONDON)
        return week, build(session, config, "st-marys", WEEK, NOW)


@pytest.fixture
def config(database_url: str, tmp_path: Path) -> OrmConfig:
    return school_config(database_url, tmp_path)


def test_tiles_tables_text_part_and_pdf_state_the_one_computations_figures(
    db: Database, config: OrmConfig
) -> None:
    populate(db, config)
    week, document = week_and_digest(db, config)
    expected = computed(week)
    assert expected["flagged"] == ("2", "2", "0")
    html, page, pdf = visible_text(document.html), visible_text(document.page), pdf_text(document)
    for shown in (html, page, pdf):
        assert extracted(shown, SHOWN) == expected
        totals = re.findall(r"Items, each counted once (\d+) (\d+) (\d+)", shown)
        assert totals == [(expected["flagged"][1], expected["flagged"][2], "10")]
        assert f"answered within the window {week.replies.in_time} (60%)" in shown
        breaches = section(shown, "Reply windows").split("Responsible", 1)[1]
        assert len(re.findall(r"\d+ Facebook page", breaches)) == int(expected["breaches"][0])
        quoted = re.findall(r"(CRITICAL|HIGH|MEDIUM|LOW|INFO) · ", section(shown, "most serious"))
        assert quoted == ["CRITICAL", "CRITICAL"]  # flagged items only, worst first
    lines = document.text.splitlines()
    assert lines[0].startswith("WEEKLY ORM DIGEST: St Mary's C of E Primary School, week 2026-W47")
    assert extracted("\n".join(lines[1:6]), LINES) == expected  # the text part leads with them
    assert extracted(document.text, LINES) == expected
    assert "Items, each counted once: 2 / 0 / 10" in document.text
    assert document.text.count("Breach: item") == int(expected["breaches"][0])
    assert document.teams.summary == "; ".join(lines[1:6]) + "."


def test_the_trust_comparison_states_each_schools_tiles(
    db: Database, database_url: str, tmp_path: Path
) -> None:
    config = trust_config(database_url, tmp_path)
    populate(db, config)
    with db.session() as session:
        document = build(session, config, "acorn-trust", WEEK, NOW)
    row = "St Mary's C of E Primary School 12 +4 2 3 of 5 (60%) 2 h 00 min 2 63.0"
    for shown in (visible_text(document.html), pdf_text(document)):
        assert f"{row} 2 of 3 source(s) not fully seen" in shown
        assert "Oak Academy 0 ±0 0 none due — 0 168.0 1 of 1 source(s) not fully seen" in shown
    assert (
        "- St Mary's C of E Primary School: Items 12 (+4 on last week); Flagged high/critical 2; "
        "Replied in time 3 of 5; Breaches 2; Blind hours 63.0; median reply 2 h 00 min"
    ) in document.text


def test_an_open_critical_incident_from_an_earlier_week_is_among_the_most_serious_items(
    db: Database, config: OrmConfig
) -> None:
    """The demo's week: nothing flagged in it, two critical incidents from before still open."""
    populate(db, config)
    with db.session() as session:
        for number in (8, 9):  # the week's threat and safeguarding items, moved to last week
            item = session.get_one(models.Item, number)
            item.created_at = item.created_at - timedelta(days=7)
        session.get_one(models.Incident, 1).status = "open"
        session.get_one(models.Incident, 1).closed_at = None
    week, document = week_and_digest(db, config)
    assert week.flagged_items == 0
    assert [e.item_id for e in week.top] == [9, 8]
    for shown in (visible_text(document.html), pdf_text(document)):
        assert "0 Flagged high/critical 0 critical, 0 high; 2 incident(s) open" in shown
        serious = section(shown, "The most serious items")
        assert "None this week" not in serious
        assert "Someone should teach Mr Hughes a lesson" in serious
        assert "(item 9)" in serious
    assert "Flagged high/critical: 0 (0 critical, 0 high; 2 incident(s) open)" in document.text


def test_no_info_or_spam_item_fills_the_most_serious_items_even_with_room_to_spare(
    db: Database, database_url: str, tmp_path: Path
) -> None:
    config = school_config(database_url, tmp_path, digest={"top_items": 20})
    populate(db, config)
    week, document = week_and_digest(db, config)
    assert [(e.item_id, e.severity) for e in week.top] == [(9, "critical"), (8, "critical")]
    shown = section(visible_text(document.html), "The most serious items")
    assert "Win a free phone" not in shown and "INFO" not in shown


def test_a_text_posted_several_times_is_quoted_once(db: Database, config: OrmConfig) -> None:
    populate(db, config)
    with db.session() as session:
        same = session.get_one(models.Item, 11).text
        session.get_one(models.Item, 12).text = f"  {same.upper()} "  # the same, spacing aside
        threat = session.get_one(models.Item, 8).text
        copy = session.get_one(models.Item, 13)  # a W40 item, reposted as the threat this week
        copy.text, copy.created_at = threat, at(20, 9)
        session.add(
            models.Assessment(
                item_id=copy.id,
                item_version=2,
                sentiment="negative",
                labels=[{"label": "threat", "score": 0.9}],
                severity="critical",
                model_version="test",
            )
        )
        copy.assessed_version = 2
    week, document = week_and_digest(db, config)
    assert [(e.item_id, e.also) for e in week.top] == [(9, ()), (8, (13,))]
    assert [(e.item_id, e.also) for e in week.praise] == [(10, ()), (11, (12,))]
    for shown in (visible_text(document.html), pdf_text(document), document.text):
        assert shown.count("Someone should teach Mr Hughes a lesson") == 1
        assert shown.count("Thank you to every member of staff for the nativity") == 1
    assert "(item 8; the same text also as item(s) 13)" in visible_text(document.html)


LONG_SOURCE = "Mastodon @stmarys_anytown (a fake instance bundled with the demo)"


def long_named(config: OrmConfig) -> OrmConfig:
    """The demo's long source name on the Facebook source and a long name for its lead."""
    raw: dict[str, Any] = config.model_dump(mode="json", exclude_none=True)
    raw["schools"][0]["sources"][0]["name"] = LONG_SOURCE
    for person in raw["schools"][0]["people"]:
        person["name"] += " (account manager)"
    return build_config(raw)


@pytest.mark.parametrize("extra_breaches", range(8))
def test_in_the_pdf_no_page_ends_on_a_heading_and_breach_cells_never_overprint(
    db: Database, config: OrmConfig, extra_breaches: int
) -> None:
    """Each extra breach row moves what follows down the page, past every page end in turn."""
    config = long_named(config)
    populate(db, config)
    with db.session() as session:
        for n in range(extra_breaches):  # W40 items, owed a reply this week and never answered
            session.add(
                models.ReplyWindow(
                    item_id=13 + n,
                    school_id="st-marys",
                    source_id="facebook",
                    opened_at=at(16, 9),
                    due_at=at(17, 9, n),
                    status="open",
                )
            )
    _, document = week_and_digest(db, config)
    pages = PdfReader(io.BytesIO(document.pdf)).pages
    for number, page in enumerate(pages, 1):
        lines = [line.strip() for line in page.extract_text().splitlines() if line.strip()]
        body = [line for line in lines if " · page " not in line]  # the running footer
        assert body and body[-1] not in HEADINGS, f"page {number} ends on {body[-1]!r}"
    laid_out = "\n".join(page.extract_text(extraction_mode="layout") for page in pages)
    assert "@stmarys_anytown" in laid_out
    assert not re.search(r"[A-Za-z_)]\d{1,2}:\d{2}", laid_out), "a cell runs into the next"
