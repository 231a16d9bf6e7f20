"""JSON Feed 1.0 and 1.1 (https://www.jsonfeed.org/version/1.1/) as items, from the spec's own
example and payloads shaped like a school blog's and a local paper's."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from connectors.base import ItemKind, PermanentError
from connectors.rss import RssConnector, parse_feed, read_feed
from connectors.rss.jsonfeed import is_json_feed

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "rss"
FEED_URL = "https://stmarys.example.sch.uk/feed.json"


def fixture(name: str) -> bytes:
    """The bytes of a feed under tests/fixtures/rss/."""
    return (FIXTURES / name).read_bytes()


def test_the_specs_example_feed_is_two_items() -> None:
    second, first = parse_feed(fixture("jsonfeed_1_1.json"), source_url=FEED_URL)
    assert (second.external_id, second.text, second.url) == (
        "2",
        "This is a second item.",
        "https://example.org/second-item",
    )
    assert (first.external_id, first.text) == ("1", "Hello, world!")
    assert {first.kind, second.kind} == {ItemKind.ARTICLE}
    assert first.raw == {
        "id": "1",
        "content_html": "<p>Hello, world!</p>",
        "url": "https://example.org/initial-post",
    }


def test_a_school_blog_feed_keeps_titles_dates_authors_and_comments() -> None:
    config = RssConnector.Config(url=FEED_URL, by_school_authors=["st mary's school office"])
    reading = read_feed(fixture("jsonfeed_school_blog.json"), source_url=FEED_URL, config=config)
    post, comment, summary_only, broken = reading.items
    assert post.url == "https://stmarys.example.sch.uk/2026/06/sports-day/"  # relative, resolved
    assert post.title == "Sports Day 2026" and post.author.display_name == "Ms Okafor"
    assert post.text == "Thank you to every family who came. Well done to Year 6!"
    assert post.created_at == datetime(2026, 6, 13, 14, 4, 11, tzinfo=UTC)
    assert comment.kind is ItemKind.COMMENT and comment.parent_id == post.url
    assert comment.text == "What a fantastic afternoon!"
    assert comment.created_at == datetime(2026, 6, 13, 16, 20, tzinfo=UTC)  # date_modified
    assert summary_only.text == "An item with only a summary."
    assert summary_only.author.display_name == "St Mary's School Office" and summary_only.by_school
    assert broken.url is None and broken.text == "Its link cannot be read, its text can."
    assert [(p.entry, p.field) for p in reading.problems] == [
        ("item #4", "item"),
        ("broken", "link"),
    ]


def test_version_1_0_numeric_ids_and_the_single_author_object() -> None:
    news, club = parse_feed(fixture("jsonfeed_1_0.json"), source_url=FEED_URL)
    assert (news.external_id, news.author.display_name) == ("1234567", "Sam Reporter")
    assert club.author.display_name == "Anytown Echo newsroom"  # the feed's author
    assert club.url == "https://www.example.org/holiday-club"  # external_url
    assert club.created_at == datetime(2026, 5, 11, 8, 0, tzinfo=UTC)


def test_items_without_an_id_get_a_stable_one_from_their_content() -> None:
    content = (
        b'{"version": "https://jsonfeed.org/version/1.1", "title": "t",'
        b' "items": [{"content_text": "x"}]}'
    )
    first = parse_feed(content, source_url=FEED_URL)[0].external_id
    assert (
        first.startswith("sha256:")
        and parse_feed(content, source_url=FEED_URL)[0].external_id == first
    )


@pytest.mark.parametrize(
    ("content_type", "start", "expected"),
    [
        ("application/feed+json", b"{}", True),
        ("application/json; charset=utf-8", b"[]", True),
        ("", b'\xef\xbb\xbf  {"version": "https://jsonfeed.org/version/1"}', True),
        ("application/rss+xml", b"<rss/>", False),
        ("", b'<rss version="2.0"/>', False),
    ],
)
def test_json_feeds_are_told_by_media_type_or_by_their_version_key(
    content_type: str, start: bytes, expected: bool
) -> None:
    assert is_json_feed(start, content_type) is expected


@pytest.mark.parametrize(
    "content",
    [
        b'{"status": "ok"}',
        b'{"version": "2.0", "items": []}',
        b"[1, 2]",
        b"{not json",
        b"[" * 100_000,
    ],
    ids=["no-version", "other-version", "array", "broken", "deeply-nested"],
)
def test_json_that_is_not_a_json_feed_is_a_permanent_error(content: bytes) -> None:
    with pytest.raises(PermanentError, match="not an RSS or Atom feed or a JSON Feed"):
        parse_feed(content, source_url=FEED_URL, headers={"Content-Type": "application/json"})
