"""Parsing RSS and Atom: every readable entry comes through, whatever else the feed holds."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

import pytest

from connectors.base import PermanentError
from connectors.rss import parse_feed, read_feed
from connectors.rss.entries import ID_LIMIT

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "rss"
FEED_URL = "https://feeds.example.org/news/feed.xml"


def rss(*items: str, title: str = "Anytown Echo") -> bytes:
    """An RSS 2.0 document with these <item> bodies."""
    body = "".join(f"<item>{item}</item>" for item in items)
    return f'<rss version="2.0"><channel><title>{title}</title>{body}</channel></rss>'.encode()


def test_a_malformed_link_blanks_that_link_and_the_rest_of_the_feed_comes_through() -> None:
    content = rss(
        "<guid>good-1</guid><title>First</title><link>https://news.example/1</link>",
        "<guid>bad</guid><title>Broken</title><link>http://[::1/broken</link>",
        "<guid>good-2</guid><title>Second</title><link>https://news.example/2</link>",
    )
    reading = read_feed(content, source_url=FEED_URL)
    assert [item.external_id for item in reading.items] == ["good-1", "bad", "good-2"]
    assert [item.url for item in reading.items] == [
        "https://news.example/1",
        None,
        "https://news.example/2",
    ]
    assert reading.items[1].title == "Broken"
    [problem] = reading.problems
    assert (problem.entry, problem.field) == ("bad", "link")
    assert "blanked" in problem.describe()


def test_a_link_that_is_not_a_web_address_is_blanked() -> None:
    content = rss("<guid>js</guid><title>Click</title><link>javascript:alert(1)</link>")
    reading = read_feed(content, source_url=FEED_URL)
    assert reading.items[0].url is None
    assert reading.problems[0].field == "link"


def test_a_comment_with_a_malformed_link_keeps_its_text_without_a_thread() -> None:
    content = rss(
        "<guid>https://blog.example/?p=1#comment-9</guid><link>http://[::1/broken</link>"
        "<description>Lovely concert</description>",
        title="Comments on: Summer concert",
    )
    [item] = parse_feed(content, source_url=FEED_URL)
    assert item.text == "Lovely concert" and item.url is None and item.parent_id is None


def test_description_only_items_get_a_stable_id_from_their_date_and_text() -> None:
    content = rss(
        "<description>School closed today: snow</description>"
        "<pubDate>Mon, 12 Jan 2026 07:00:00 GMT</pubDate>",
        "<description>School closed today: snow</description>"
        "<pubDate>Tue, 13 Jan 2026 07:00:00 GMT</pubDate>",
        "<description>&lt;p&gt;Sports day moved to &lt;b&gt;Friday&lt;/b&gt;&lt;/p&gt;"
        "</description>",
    )
    items = parse_feed(content, source_url=FEED_URL)
    assert [item.text for item in items] == [
        "School closed today: snow",
        "School closed today: snow",
        "Sports day moved to Friday",
    ]
    basis = "description\n\nSports day moved to Friday"
    assert items[2].external_id == "sha256:" + hashlib.sha256(basis.encode()).hexdigest()
    assert len({item.external_id for item in items}) == 3  # the same notice on two days is two
    again = parse_feed(content, source_url=FEED_URL)
    assert [item.external_id for item in again] == [item.external_id for item in items]


def test_a_notices_feed_of_descriptions_only_loses_none_of_them() -> None:
    content = (FIXTURES / "description_only.xml").read_bytes()
    first, second = parse_feed(content, source_url=FEED_URL)
    assert first.text.startswith("Church Street will be closed") and first.created_at is None
    assert second.text == "The school crossing patrol returns on Monday."
    assert second.created_at == datetime(2026, 5, 11, 6, 30, tzinfo=UTC)
    assert first.title is None and first.url is None
    assert {first.external_id[:7], second.external_id[:7]} == {"sha256:"}


def test_ids_of_entries_with_a_link_or_title_are_unchanged() -> None:
    # Items stored before description-only items were read keep their ids.
    content = rss("<title>Holiday club</title><link>https://news.example/h</link>")
    basis = "https://news.example/h\nHoliday club"
    [item] = parse_feed(content, source_url=FEED_URL)
    assert item.external_id == "sha256:" + hashlib.sha256(basis.encode()).hexdigest()


def test_an_empty_item_is_still_left_out() -> None:
    assert parse_feed(rss("<description>  </description>", ""), source_url=FEED_URL) == ()


def test_atom_0_3_created_dates_are_read_when_there_is_no_issued_date() -> None:
    content = (
        b'<feed version="0.3" xmlns="http://purl.org/atom/ns#"><title>Old blog</title>'
        b"<entry><id>tag:a</id><title>A</title><created>2004-01-02T03:04:05Z</created>"
        b"<modified>2005-06-07T08:09:10Z</modified></entry>"
        b"<entry><id>tag:b</id><title>B</title><created>2004-01-02T04:04:05+01:00</created>"
        b"</entry></feed>"
    )
    first, second = parse_feed(content, source_url=FEED_URL)
    assert first.created_at == datetime(2004, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert second.created_at == datetime(2004, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_relative_links_resolve_against_the_feeds_address() -> None:
    content = rss("<guid>r</guid><title>R</title><link>/relative/link</link>")
    [item] = parse_feed(content, source_url=FEED_URL)
    assert item.url == "https://feeds.example.org/relative/link"


def test_relative_links_resolve_against_content_location_and_xml_base() -> None:
    content = (FIXTURES / "relative_links.xml").read_bytes()
    headers = {"Content-Location": "/moved/feed.xml"}
    plain, based = parse_feed(content, source_url=FEED_URL, headers=headers)
    assert plain.url == "https://feeds.example.org/moved/articles/1"
    assert based.url == "https://www.example.sch.uk/news/2"


@pytest.mark.parametrize(
    ("charset", "text"),
    [("iso-8859-15", "caf\u00e9 \u20ac5"), ("koi8-r", "\u0448\u043a\u043e\u043b\u0430")],
)
def test_the_http_charset_decodes_a_feed_that_declares_none(charset: str, text: str) -> None:
    content = rss(f"<guid>c</guid><title>{text}</title>").decode().encode(charset)
    headers = {"Content-Type": f"application/rss+xml; charset={charset}"}
    [item] = parse_feed(content, source_url=FEED_URL, headers=headers)
    assert item.title == text


def test_a_body_that_names_a_local_file_is_not_read_as_that_file(tmp_path: Path) -> None:
    local = tmp_path / "feed.xml"
    local.write_bytes(rss("<guid>local</guid><title>Local secret</title>"))
    with pytest.raises(PermanentError, match="is not an RSS or Atom feed"):
        parse_feed(str(local).encode(), source_url=FEED_URL)


def test_ids_too_long_to_store_are_hashed_and_authors_are_capped() -> None:
    guid = "https://news.example/" + "x" * 600
    content = rss(f"<guid>{guid}</guid><title>T</title><author>{'A' * 500}</author>")
    [item] = parse_feed(content, source_url=FEED_URL)
    assert item.external_id == "sha256:" + hashlib.sha256(guid.encode()).hexdigest()
    assert len(item.external_id) < ID_LIMIT
    assert len(item.author.display_name or "") == 300
