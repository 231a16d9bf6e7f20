"""A serious alert's own links: "Handled" closes the case, "Not a threat" teaches the classifier."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import httpx
from sqlalchemy import select

from monitor.classify.base import Label
from monitor.corrections.feedback import school_examples
from monitor.service.daemon import Service
from monitor.storage import models
from monitor.web.one_click import WebServer, WindowLinks
from tests.support.clock import Clock
from tests.support.world import World, world

TUESDAY_7AM = datetime(2026, 12, 8, 7, 0, tzinfo=UTC)
THREAT = ("t1", "I will kill you Mr Hughes, watch your back")


def _links(w: World) -> dict[str, str]:
    (message,) = w.messages_to("dsl@school.example")
    text = str(message.get_body(("plain",)).get_content())
    assert "do not engage" in text
    return dict(re.findall(r"^(Handled|Not a threat[^:]*|I have replied): \S+/w/(\S+)", text, re.M))


def _serve(w: World) -> tuple[Service, WebServer]:
    clock = Clock(TUESDAY_7AM)
    service = Service(w.config, clock=clock)
    service.run_once()
    service.stop()
    web = WebServer(WindowLinks(service.db, service.signer, clock), "127.0.0.1:0")
    web.start()
    return service, web


def test_a_threat_alert_offers_handled_and_not_a_threat_never_i_have_replied(
    tmp_path: Path, database_url: str
) -> None:
    with world(tmp_path, database_url) as w:
        w.raw["schools"][0]["sources"][0]["opens_windows"] = True
        w.serve(THREAT)
        _, web = _serve(w)
        web.stop()
        assert sorted(_links(w)) == ["Handled", "Not a threat (teach the classifier)"]


def test_handled_asks_first_then_closes_the_incident_once_with_an_audit_entry(
    tmp_path: Path, database_url: str
) -> None:
    with world(tmp_path, database_url) as w:
        w.serve(THREAT)
        service, web = _serve(w)
        url = f"http://{web.address}/w/{_links(w)['Handled']}"
        try:
            page = httpx.get(url)
            assert page.status_code == 200 and "Handled" in page.text
            assert "I will kill you" in page.text
            with service.db.session() as session:  # a mail scanner's GET changes nothing
                assert session.scalars(select(models.Incident.status)).all() == ["open"]
            assert httpx.post(url).status_code == 200
            assert httpx.post(url).status_code == 409
            assert httpx.get(url).status_code == 409
        finally:
            web.stop()
        with service.db.session() as session:
            assert session.scalars(select(models.Incident.status)).all() == ["closed"]
            actions = session.scalars(select(models.AuditEntry.action)).all()
        assert actions.count("item.handled") == 1 and "incident.closed" in actions


def test_not_a_threat_records_a_correction_that_training_learns_from_once(
    tmp_path: Path, database_url: str
) -> None:
    with world(tmp_path, database_url) as w:
        w.serve(THREAT)
        service, web = _serve(w)
        url = f"http://{web.address}/w/{_links(w)['Not a threat (teach the classifier)']}"
        try:
            assert "teach the classifier" in httpx.get(url).text
            done = httpx.post(url)
            assert done.status_code == 200 and "learns from it" in done.text
            assert httpx.post(url).status_code == 409
        finally:
            web.stop()
        with service.db.session() as session:
            [example] = school_examples(session, "st-marys")
            corrections = session.scalars(select(models.Correction)).all()
        assert (example.label, example.present) == (Label.THREAT, False)
        assert THREAT[1] in example.text and len(corrections) == 1
