"""Ingest: each item once per source, edits as new versions, raw payloads kept with their hash."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select

from connectors.base import Author, Item, ItemKind, payload_sha256
from monitor.storage import ingest, models
from monitor.storage.engine import Database
from tests.support.config import build, raw_config, rss_source

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def _item(external_id: str, text: str = "hello", **raw: object) -> Item:
    return Item(
        external_id=external_id,
        kind=ItemKind.COMMENT,
        text=text,
        created_at=NOW,
        author=Author(display_name="Parent"),
        raw={"id": external_id, "text": text, **raw},
    )


def _setup(db: Database) -> None:
    config = build(raw_config(database_url=db.url, sources=[rss_source("https://e.org/f")]))
    with db.session() as session:
        ingest.sync_config(session, config)


def _count(db: Database, table: type[models.Base]) -> int:
    with db.session() as session:
        return session.scalar(select(func.count()).select_from(table)) or 0


def test_the_same_items_ingested_twice_are_stored_once(db: Database) -> None:
    _setup(db)
    batch = [_item("a"), _item("b"), _item("a")]
    with db.session() as session:
        first = ingest.ingest(session, "blog", "st-marys", batch, NOW)
    with db.session() as session:
        second = ingest.ingest(session, "blog", "st-marys", batch, NOW)
    assert (first.new, first.unchanged) == (2, 0)
    assert (second.new, second.edited, second.unchanged) == (0, 0, 2)
    assert _count(db, models.Item) == 2
    assert _count(db, models.ItemVersion) == 2


def test_an_edit_is_a_new_version_of_the_same_item_and_both_texts_are_kept(db: Database) -> None:
    _setup(db)
    with db.session() as session:
        ingest.ingest(session, "blog", "st-marys", [_item("a", "original")], NOW)
    with db.session() as session:
        counts = ingest.ingest(session, "blog", "st-marys", [_item("a", "edited")], NOW)
    assert counts.edited == 1
    with db.session() as session:
        item = session.scalars(select(models.Item)).one()
        assert (item.version, item.text, item.assessed_version) == (2, "edited", 0)
        assert [v.text for v in item.versions] == ["original", "edited"]


def test_a_change_only_in_platform_metadata_is_not_an_edit(db: Database) -> None:
    _setup(db)
    with db.session() as session:
        ingest.ingest(session, "blog", "st-marys", [_item("a", likes=1)], NOW)
    with db.session() as session:
        counts = ingest.ingest(session, "blog", "st-marys", [_item("a", likes=9)], NOW)
    assert counts.unchanged == 1


def test_raw_payload_is_kept_with_the_sha256_of_its_canonical_json(db: Database) -> None:
    _setup(db)
    item = _item("a", nested={"b": 2, "a": [1, "é"]})
    with db.session() as session:
        ingest.ingest(session, "blog", "st-marys", [item], NOW)
    with db.session() as session:
        version = session.scalars(select(models.ItemVersion)).one()
    assert version.raw_sha256 == payload_sha256(item.raw)
    assert version.raw_json.startswith('{"id":"a","nested":{"a":[1,"é"],"b":2}')


def test_the_same_external_id_in_two_sources_is_two_items(db: Database) -> None:
    config = build(
        raw_config(
            database_url=db.url,
            sources=[rss_source("https://e.org/1", "one"), rss_source("https://e.org/2", "two")],
        )
    )
    with db.session() as session:
        ingest.sync_config(session, config)
    with db.session() as session:
        ingest.ingest(session, "one", "st-marys", [_item("a")], NOW)
        ingest.ingest(session, "two", "st-marys", [_item("a")], NOW)
    assert _count(db, models.Item) == 2


def test_an_item_deleted_at_the_source_keeps_its_copy_and_is_marked(db: Database) -> None:
    _setup(db)
    with db.session() as session:
        ingest.ingest(session, "blog", "st-marys", [_item("a", "offending text")], NOW)
    gone = Item(external_id="a", kind=ItemKind.COMMENT, text="", created_at=NOW, deleted=True)
    never_seen = Item(external_id="b", kind=ItemKind.COMMENT, text="", created_at=NOW, deleted=True)
    with db.session() as session:
        counts = ingest.ingest(session, "blog", "st-marys", [gone, never_seen], NOW)
    assert (counts.deleted, counts.new, counts.unchanged) == (1, 0, 1)
    with db.session() as session:
        item = session.scalars(select(models.Item)).one()
        assert (item.text, item.deleted_at) == ("offending text", NOW)
