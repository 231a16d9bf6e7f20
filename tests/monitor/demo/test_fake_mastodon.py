"""The demo's fake Mastodon instance: a reply window opens, then closes by the school's reply."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from monitor.config.loading import load_demo_config
from monitor.config.secrets import MissingSecret, read_secret
from monitor.demo.fake_mastodon import FakeMastodon
from monitor.service.daemon import Service
from monitor.storage import models


@pytest.fixture
def fake() -> Iterator[FakeMastodon]:
    server = FakeMastodon().start()
    yield server
    server.stop()


def _window_of(service: Service, text: str) -> models.ReplyWindow | None:
    with service.db.session() as session:
        item = session.scalar(select(models.Item).where(models.Item.text.contains(text)))
        assert item is not None, f"no item containing {text!r}"
        return session.scalar(
            select(models.ReplyWindow).where(models.ReplyWindow.item_id == item.id)
        )


def test_the_schools_reply_on_the_next_poll_closes_the_window_by_itself(
    tmp_path: Path, fake: FakeMastodon
) -> None:
    config = load_demo_config(tmp_path, mastodon_url=fake.url)
    service = Service(config, secrets=fake.secrets(read_secret))
    try:
        service.prepare()
        first = service.pipeline.poll("demo-mastodon")
        assert first.error is None and first.counts.new == 2
        service.pipeline.assess_pending()
        question = _window_of(service, "Christmas fair still on")
        assert question is not None and question.status == "open"
        assert _window_of(service, "carol singers") is None  # a hashtag search result

        second = service.pipeline.poll("demo-mastodon")
        assert second.error is None and second.counts.new == 1
        service.pipeline.assess_pending()
        closed = _window_of(service, "Christmas fair still on")
        assert closed is not None and closed.status == "answered"
        assert closed.closed_by == "reply seen on demo-mastodon"
        assert closed.first_reply_at is not None
    finally:
        service.stop()


def test_a_wrong_token_is_refused_like_a_real_instance(fake: FakeMastodon) -> None:
    status, body = fake.answer("/api/v1/notifications", {}, "not-the-token")
    assert status == 401 and body == {"error": "The access token is invalid"}
    status, body = fake.answer("/api/v1/notifications", {}, fake.token)
    assert status == 200 and [n["type"] for n in body] == ["mention"]
    assert fake.answer("/api/v1/statuses/1", {}, fake.token)[0] == 404


def test_the_demo_token_is_known_only_to_the_demo(fake: FakeMastodon) -> None:
    read = fake.secrets(lambda name: read_secret(name, {}))
    assert read("DEMO_MASTODON_TOKEN") == fake.token
    with pytest.raises(MissingSecret):
        read("SMTP_PASSWORD")
