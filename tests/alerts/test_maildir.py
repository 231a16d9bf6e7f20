"""The Maildir channel: one file per outbox key, readable by any Maildir client."""

from __future__ import annotations

import logging
import mailbox
import os
from pathlib import Path

import pytest

from alerts.base import DeliveryStatus, message_id_for
from alerts.maildir import MaildirChannel, MaildirSettings, file_name_for
from tests.support.sample_alerts import ACCOUNT_MANAGER, hostile_alert, plain_alert

KEY = "outbox:7:am"


def channel(tmp_path: Path) -> MaildirChannel:
    settings = MaildirSettings(
        type="maildir", path=str(tmp_path / "mail"), from_address="orm-monitor@stmarys.example.org"
    )
    return MaildirChannel("demo-mail", settings)


def test_writes_the_alert_into_new(tmp_path: Path) -> None:
    result = channel(tmp_path).send(plain_alert(), ACCOUNT_MANAGER, KEY)

    assert result.status is DeliveryStatus.DELIVERED
    assert result.provider_message_id == message_id_for(KEY, "stmarys.example.org")
    written = tmp_path / "mail" / "new" / file_name_for(KEY)
    assert written.is_file()
    assert list((tmp_path / "mail" / "tmp").iterdir()) == []


def test_a_maildir_reader_sees_the_same_message_smtp_would_send(tmp_path: Path) -> None:
    channel(tmp_path).send(hostile_alert(), ACCOUNT_MANAGER, KEY)

    box = mailbox.Maildir(tmp_path / "mail", create=False)
    (message,) = list(box)
    assert message["To"] == "Ann Manager <am@stmarys.example.org>"
    assert message["From"] == "orm-monitor@stmarys.example.org"
    assert message["Subject"] == (
        "[CRITICAL] St Mary's <i>CE</i> **Primary**: hi Bcc: evil@example.com"
    )
    assert message["Bcc"] is None
    assert message["Message-ID"] == message_id_for(KEY, "stmarys.example.org")
    assert message["X-ORM-Monitor-Key"] == KEY
    assert message.get_content_type() == "multipart/alternative"


def test_sending_the_same_key_twice_writes_once(tmp_path: Path) -> None:
    maildir = channel(tmp_path)
    first = maildir.send(plain_alert(), ACCOUNT_MANAGER, KEY)
    second = maildir.send(plain_alert(), ACCOUNT_MANAGER, KEY)
    maildir.send(plain_alert(), ACCOUNT_MANAGER, "outbox:8:am")

    assert first.provider_message_id == second.provider_message_id
    assert second.status is DeliveryStatus.DELIVERED
    assert len(list((tmp_path / "mail" / "new").iterdir())) == 2


def test_confirm_tells_whether_the_key_was_written(tmp_path: Path) -> None:
    maildir = channel(tmp_path)
    assert maildir.confirm(KEY) is False
    maildir.send(plain_alert(), ACCOUNT_MANAGER, KEY)
    assert maildir.confirm(KEY) is True
    assert maildir.confirm("outbox:8:am") is False


def test_confirm_finds_a_message_a_mail_client_has_moved_to_cur(tmp_path: Path) -> None:
    maildir = channel(tmp_path)
    maildir.send(plain_alert(), ACCOUNT_MANAGER, KEY)
    name = file_name_for(KEY)
    os.rename(tmp_path / "mail" / "new" / name, tmp_path / "mail" / "cur" / f"{name}:2,S")

    assert maildir.confirm(KEY) is True
    maildir.send(plain_alert(), ACCOUNT_MANAGER, KEY)
    assert list((tmp_path / "mail" / "new").iterdir()) == []


def test_logs_where_the_file_is(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="alerts.maildir"):
        channel(tmp_path).send(plain_alert(), ACCOUNT_MANAGER, KEY)
    written = tmp_path / "mail" / "new" / file_name_for(KEY)
    assert [r.levelno for r in caplog.records] == [logging.INFO]
    assert str(written) in caplog.records[0].getMessage()


def test_a_file_in_the_way_fails_with_the_fix(tmp_path: Path) -> None:
    (tmp_path / "mail").write_text("not a directory")
    result = channel(tmp_path).send(plain_alert(), ACCOUNT_MANAGER, KEY)
    assert result.status is DeliveryStatus.FAILED
    assert result.error is not None and "write access" in result.error
    assert channel(tmp_path).confirm(KEY) is False


def test_describe_names_the_directory(tmp_path: Path) -> None:
    assert channel(tmp_path).describe() == f"maildir channel 'demo-mail' ({tmp_path / 'mail'})"
