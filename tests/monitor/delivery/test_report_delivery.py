"""A built report (the weekly digest) sent as it is: its HTML, charts shown inline, PDF attached."""

from __future__ import annotations

import base64
import mailbox
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from alerts.base import Alert, Attachment, DeliveryStatus, Recipient, Report
from alerts.maildir import MaildirChannel, MaildirSettings, file_name_for
from alerts.smtp import SmtpChannel, SmtpSettings
from monitor.config.schema import OrmConfig
from monitor.delivery.channels import ChannelCache
from monitor.delivery.dispatcher import Dispatcher
from monitor.delivery.journal import SentJournal
from monitor.delivery.outbox import enqueue
from monitor.storage import models
from monitor.storage.engine import Database
from monitor.storage.ingest import sync_config
from tests.alerts.test_graph_mail import (
    DISCOVERY_PATH,
    SEND_PATH,
    TOKEN_PATH,
    EntraId,
    Microsoft,
    openid_configuration,
)
from tests.support.clock import Clock
from tests.support.config import build, raw_config
from tests.support.http import Reply, local_server
from tests.support.sample_alerts import ACCOUNT_MANAGER
from tests.support.secrets import secrets_from
from tests.support.smtp import SmtpServer, smtp_server

KEY = "digest:st-marys:2026-W47:am@stmarys.example.org"
CHART_CID = "chart-a@orm-monitor"
# A PNG signature and a byte that is not valid UTF-8: the bytes must arrive untouched.
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe chart a"
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n"
REPORT_HTML = (
    "<html><body><h1>Week 47 at St Mary's</h1>"
    f'<img src="cid:{CHART_CID}" alt="Mentions by day"></body></html>'
)
REPORT_TEXT = "Week 47 at St Mary's\n\n12 mentions, 2 needed a reply.\n"
REPORT_SUBJECT = "ORM digest: St Mary's, week 47 (16-22 Nov 2026)"


def report() -> Report:
    return Report(
        subject=REPORT_SUBJECT,
        html=REPORT_HTML,
        text=REPORT_TEXT,
        attachments=(
            Attachment("chart-a.png", "image/png", PNG, content_id=CHART_CID),
            Attachment("orm-digest-st-marys-2026-W47.pdf", "application/pdf", PDF),
        ),
    )


def digest_alert(**overrides: Any) -> Alert:
    """The alert a digest's outbox row holds: headline figures, and the digest it names."""
    values: dict[str, Any] = {
        "kind": "digest",
        "school_name": "St Mary's",
        "severity": "info",
        "headline": "weekly digest: 12 mentions",
        "summary": "A quiet week.",
        "digest_id": 7,
        "report": report(),
    }
    return Alert(**{**values, **overrides})


def body_text(message: EmailMessage, subtype: str) -> str:
    """A body part's text, with the CRLF line ends of the SMTP wire read as newlines."""
    part = message.get_body((subtype,))
    assert part is not None
    content: str = part.get_content()
    return content.replace("\r\n", "\n")


def related_part(message: EmailMessage) -> EmailMessage:
    """The multipart/related that holds the HTML body."""
    related = message.get_body(("related",))
    assert isinstance(related, EmailMessage)
    assert related.get_content_type() == "multipart/related"
    return related


def assert_is_the_report(message: EmailMessage) -> None:
    """Subject, text and HTML are the report's; the chart is with the HTML; the PDF attached."""
    assert message["Subject"] == REPORT_SUBJECT
    assert body_text(message, "plain").strip() == REPORT_TEXT.strip()
    assert body_text(message, "html").strip() == REPORT_HTML

    related = related_part(message)
    html, image = list(related.iter_parts())
    assert html.get_content_type() == "text/html"
    assert image.get_content_type() == "image/png"
    assert image["Content-ID"] == f"<{CHART_CID}>"
    assert image.get_content() == PNG

    attachments = list(message.iter_attachments())
    assert [a.get_content_type() for a in attachments] == ["application/pdf"]
    (pdf,) = attachments
    assert pdf.get_filename() == "orm-digest-st-marys-2026-W47.pdf"
    assert pdf.get_content_disposition() == "attachment"
    assert pdf.get_content() == PDF


def images_anywhere(message: EmailMessage) -> list[EmailMessage]:
    return [part for part in message.walk() if part.get_content_maintype() == "image"]


# SMTP


@pytest.fixture
def server() -> Iterator[SmtpServer]:
    with smtp_server() as running:
        yield running


def smtp_channel(server: SmtpServer) -> SmtpChannel:
    settings = SmtpSettings(
        type="smtp",
        host=server.host,
        port=server.port,
        security="none",
        from_address="alerts@stmarys.example.org",
        timeout_seconds=5,
    )
    return SmtpChannel("school-mail", settings, secrets_from())


def test_smtp_sends_the_report_as_one_message_with_inline_chart_and_pdf(
    server: SmtpServer,
) -> None:
    result = smtp_channel(server).send(digest_alert(), ACCOUNT_MANAGER, KEY)

    assert result.status is DeliveryStatus.DELIVERED
    (envelope, message), *others = server.messages
    assert others == []
    assert envelope.rcpt_tos == ("am@stmarys.example.org",)
    assert message.get_content_type() == "multipart/mixed"
    assert_is_the_report(message)
    assert len(images_anywhere(message)) == 1


def test_the_report_replaces_the_alert_template(server: SmtpServer) -> None:
    smtp_channel(server).send(digest_alert(), ACCOUNT_MANAGER, KEY)
    message = server.messages[0][1]
    # The headline and summary are for Teams cards and logs; the email is the built document.
    assert "weekly digest: 12 mentions" not in message["Subject"]
    assert "A quiet week." not in body_text(message, "html")
    assert "A quiet week." not in body_text(message, "plain")


def test_the_report_subject_cannot_add_headers(server: SmtpServer) -> None:
    hostile = Report(
        subject="ORM digest\r\nBcc: evil@example.com",
        html="<p>digest</p>",
        text="digest",
    )
    smtp_channel(server).send(digest_alert(report=hostile), ACCOUNT_MANAGER, KEY)
    envelope, message = server.messages[0]
    assert envelope.rcpt_tos == ("am@stmarys.example.org",)
    assert message["Bcc"] is None
    assert "\n" not in message["Subject"] and "evil@example.com" in message["Subject"]


def test_a_report_without_attachments_is_plain_text_and_html(server: SmtpServer) -> None:
    bare = Report(subject="ORM digest", html="<p>no charts this week</p>", text="no charts")
    smtp_channel(server).send(digest_alert(report=bare), ACCOUNT_MANAGER, KEY)
    message = server.messages[0][1]
    assert message.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in message.iter_parts()] == ["text/plain", "text/html"]
    assert list(message.iter_attachments()) == []


def test_an_inline_chart_is_not_offered_as_an_attachment(server: SmtpServer) -> None:
    smtp_channel(server).send(digest_alert(), ACCOUNT_MANAGER, KEY)
    (image,) = images_anywhere(server.messages[0][1])
    assert image.get_content_disposition() == "inline"


# Maildir


def test_maildir_writes_the_same_report_message(tmp_path: Path) -> None:
    settings = MaildirSettings(
        type="maildir", path=str(tmp_path / "mail"), from_address="orm-monitor@stmarys.example.org"
    )
    channel = MaildirChannel("demo-mail", settings)
    result = channel.send(digest_alert(), ACCOUNT_MANAGER, KEY)

    assert result.status is DeliveryStatus.DELIVERED
    written = tmp_path / "mail" / "new" / file_name_for(KEY)
    message = message_from_bytes(written.read_bytes(), policy=policy.default)
    assert isinstance(message, EmailMessage)
    assert message["To"] == "Ann Manager <am@stmarys.example.org>"
    assert_is_the_report(message)


# Graph mail


@pytest.fixture
def microsoft() -> Iterator[Microsoft]:
    with local_server() as server:
        ms = Microsoft(server, EntraId())
        server.route("GET", DISCOVERY_PATH, Reply(200, openid_configuration(ms.https_base)))
        server.route("POST", TOKEN_PATH, ms.entra.token)
        server.route("POST", SEND_PATH, Reply(202))
        yield ms


def test_graph_mail_sends_the_report_html_with_file_attachments(microsoft: Microsoft) -> None:
    result = microsoft.channel().send(digest_alert(), ACCOUNT_MANAGER, KEY)

    assert result.status is DeliveryStatus.DELIVERED
    (send,) = microsoft.sends()
    message = send.json()["message"]
    assert message["subject"] == REPORT_SUBJECT
    assert message["body"] == {"contentType": "HTML", "content": REPORT_HTML}
    chart, pdf = message["attachments"]
    assert chart == {
        "@odata.type": "#microsoft.graph.fileAttachment",
        "name": "chart-a.png",
        "contentType": "image/png",
        "contentBytes": base64.b64encode(PNG).decode("ascii"),
        "isInline": True,
        "contentId": CHART_CID,
    }
    assert pdf == {
        "@odata.type": "#microsoft.graph.fileAttachment",
        "name": "orm-digest-st-marys-2026-W47.pdf",
        "contentType": "application/pdf",
        "contentBytes": base64.b64encode(PDF).decode("ascii"),
        "isInline": False,
    }
    assert base64.b64decode(pdf["contentBytes"]) == PDF


def test_graph_mail_sends_no_attachments_key_for_an_ordinary_alert(microsoft: Microsoft) -> None:
    microsoft.channel().send(digest_alert(report=None), ACCOUNT_MANAGER, KEY)
    (send,) = microsoft.sends()
    assert "attachments" not in send.json()["message"]


# The outbox payload


def test_the_report_is_never_stored_in_the_outbox_payload() -> None:
    payload = digest_alert().to_json()
    assert "report" not in payload
    assert payload["digest_id"] == 7
    flattened = repr(payload)
    assert REPORT_HTML not in flattened and "PDF-1.7" not in flattened


def test_the_payload_reads_back_with_its_digest_id_and_without_a_report() -> None:
    back = Alert.from_json(digest_alert().to_json())
    assert back.digest_id == 7
    assert back.report is None
    assert back == digest_alert()  # the report is not part of an alert's identity


def test_a_payload_stored_before_digests_existed_still_reads() -> None:
    payload = digest_alert(digest_id=None, report=None).to_json()
    del payload["digest_id"]
    assert Alert.from_json(payload).digest_id is None


# End to end: a digest row and its outbox row, delivered by the dispatcher


CHART_PNG = b"\x89PNG\r\n\x1a\nvolume chart \x00\xff"
DIGEST_PDF = b"%PDF-1.4\n% digest of week 47\n%%EOF\n"
DIGEST_HTML = '<h1>St Mary\'s: week 47</h1><img src="cid:chart-volume-0@orm-monitor" alt="x">'


def _config(tmp_path: Path, db: Database, **extra: Any) -> OrmConfig:
    raw = raw_config(
        database_url=db.url,
        channels={"mail": {"type": "maildir", "path": str(tmp_path / "mail")}},
    )
    raw.update(extra)
    return build(raw)


def _store_digest(db: Database, config: OrmConfig, scope: str = "st-marys") -> int:
    with db.session() as session:
        sync_config(session, config)
    with db.session() as session:
        digest = models.Digest(
            scope=scope,
            week="2026-W47",
            subject=f"ORM digest: {scope}, week 47",
            html=DIGEST_HTML,
            text="St Mary's: week 47\n12 mentions.",
            pdf=DIGEST_PDF,
            images={
                "charts": [
                    {
                        "name": "volume-0",
                        "cid": "chart-volume-0@orm-monitor",
                        "alt": "x",
                        "png": base64.b64encode(CHART_PNG).decode("ascii"),
                    }
                ]
            },
            headline={},
        )
        session.add(digest)
        session.flush()
        return digest.id


def _owe(
    db: Database,
    digest_id: int,
    address: str,
    scope: str = "st-marys",
    channel: str = "mail",
    name: str = "Rob Hughes",
) -> None:
    alert = Alert(
        kind="digest",
        school_name="St Mary's",
        severity="info",
        headline="weekly digest",
        digest_id=digest_id,
    )
    with db.session() as session:
        enqueue(
            session,
            school_id=scope,
            item_id=None,
            kind="digest",
            channel=channel,
            recipient=Recipient(address, name),
            severity="info",
            alert=alert,
            key=f"digest:{scope}:2026-W47:{address}",
        )


def _dispatcher(tmp_path: Path, db: Database, config: OrmConfig, clock: Clock) -> Dispatcher:
    journal = SentJournal(tmp_path / "state" / "sent-journal.tsv")
    return Dispatcher(db, config, ChannelCache().get, journal, clock=clock)


def _mails(path: Path) -> list[EmailMessage]:
    box = mailbox.Maildir(path, factory=None, create=False)
    messages = []
    for key in box.iterkeys():
        with box.get_file(key) as handle:
            message = message_from_bytes(handle.read(), policy=policy.default)
        assert isinstance(message, EmailMessage)
        messages.append(message)
    return messages


def test_the_dispatcher_sends_the_stored_digest_with_its_chart_and_pdf(
    tmp_path: Path, db: Database
) -> None:
    clock = Clock()
    config = _config(tmp_path, db)
    digest_id = _store_digest(db, config)
    _owe(db, digest_id, "head@school.example")

    assert _dispatcher(tmp_path, db, config, clock).run_once().delivered == 1

    (message,) = _mails(tmp_path / "mail")
    assert message["To"] == "Rob Hughes <head@school.example>"
    assert message["Subject"] == "ORM digest: st-marys, week 47"
    assert body_text(message, "html").strip() == DIGEST_HTML
    assert "12 mentions." in body_text(message, "plain")
    html, image = related_part(message).iter_parts()
    assert html.get_content_type() == "text/html"
    assert image["Content-ID"] == "<chart-volume-0@orm-monitor>"
    assert image.get_content() == CHART_PNG
    (pdf,) = message.iter_attachments()
    assert pdf.get_filename() == "orm-digest-st-marys-2026-W47.pdf"
    assert pdf.get_content() == DIGEST_PDF


def test_a_delivered_digest_is_not_sent_again(tmp_path: Path, db: Database) -> None:
    clock = Clock()
    config = _config(tmp_path, db)
    digest_id = _store_digest(db, config)
    _owe(db, digest_id, "head@school.example")
    _dispatcher(tmp_path, db, config, clock).run_once()
    clock.advance(hours=2)

    again = _dispatcher(tmp_path, db, config, clock).run_once()

    assert (again.delivered, again.retried, again.failed) == (0, 0, 0)
    assert len(_mails(tmp_path / "mail")) == 1
    with db.session() as session:
        row = session.scalars(select(models.OutboxMessage)).one()
        assert (row.status, row.attempts) == ("delivered", 1)
        assert row.payload["digest_id"] == digest_id  # the row names the digest, nothing more
        assert "report" not in row.payload


def test_each_recipient_gets_the_one_stored_digest(tmp_path: Path, db: Database) -> None:
    config = _config(tmp_path, db)
    digest_id = _store_digest(db, config)
    _owe(db, digest_id, "head@school.example")
    _owe(db, digest_id, "dsl@school.example")

    assert _dispatcher(tmp_path, db, config, Clock()).run_once().delivered == 2

    mails = _mails(tmp_path / "mail")
    assert sorted(m["To"].addresses[0].addr_spec for m in mails) == [
        "dsl@school.example",
        "head@school.example",
    ]
    for message in mails:
        (pdf,) = message.iter_attachments()
        assert pdf.get_content() == DIGEST_PDF


def test_the_trust_digest_goes_out_through_the_trusts_own_channel(
    tmp_path: Path, db: Database
) -> None:
    trust = {
        "id": "oak-trust",
        "name": "Oak Multi-Academy Trust",
        "people": [
            {"id": "ceo", "name": "Cara Evans", "email": "ceo@oak.example", "roles": ["slt"]}
        ],
        "channels": {"trust-mail": {"type": "maildir", "path": str(tmp_path / "trust-mail")}},
        "email_channel": "trust-mail",
    }
    config = _config(tmp_path, db, trust=trust)
    digest_id = _store_digest(db, config, scope="oak-trust")
    _owe(db, digest_id, "ceo@oak.example", "oak-trust", "trust-mail", "Cara Evans")

    assert _dispatcher(tmp_path, db, config, Clock()).run_once().delivered == 1

    (message,) = _mails(tmp_path / "trust-mail")
    assert message["Subject"] == "ORM digest: oak-trust, week 47"
    (pdf,) = message.iter_attachments()
    assert pdf.get_filename() == "orm-digest-oak-trust-2026-W47.pdf"
    assert not (tmp_path / "mail").exists()
