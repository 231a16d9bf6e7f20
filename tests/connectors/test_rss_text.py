"""Feed markup as plain text: linear in the input, capped per field, and the same text as before."""

from __future__ import annotations

import time

import pytest

from connectors.rss import parse_feed
from connectors.rss.text import (
    MARKUP_LIMIT,
    RUN_LIMIT,
    TEXT_LIMIT,
    TITLE_LIMIT,
    capped,
    html_to_text,
    trim_long_runs,
)

INLINE = "<b>word</b> "


def seconds(html: str) -> float:
    """How long html_to_text takes on `html`."""
    started = time.perf_counter()
    html_to_text(html)
    return time.perf_counter() - started


def test_sibling_inline_tags_take_linear_time() -> None:
    # Was quadratic: 64 KB took ~3 s and 128 KB ~12 s (9.6 s and 26 s on a busy machine).
    for size in (64 * 1024, 128 * 1024):
        assert seconds(INLINE * (size // len(INLINE))) < 1.0


def test_a_one_megabyte_title_of_markup_is_cut_before_it_is_cleaned() -> None:
    html = INLINE * (1024 * 1024 // len(INLINE))
    assert seconds(html) < 1.0
    text = html_to_text(html, TITLE_LIMIT)
    assert len(text) == TITLE_LIMIT and text.endswith("\u2026")
    assert text.startswith("word word")


def test_twenty_entries_with_one_megabyte_titles_parse_in_linear_time() -> None:
    # The bound (under 2 s) is measured by bench/giant_titles.py; this guards the order.
    title = "<![CDATA[" + INLINE * (1024 * 1024 // len(INLINE)) + "]]>"
    entries = "".join(
        f"<item><guid>giant-{n}</guid><title>{title}</title><description>d</description></item>"
        for n in range(20)
    )
    feed = f'<rss version="2.0"><channel><title>Giant</title>{entries}</channel></rss>'
    started = time.perf_counter()
    items = parse_feed(feed.encode(), source_url="https://feeds.example.org/feed")
    assert time.perf_counter() - started < 10.0  # measured ~0.4 s; minutes before
    assert len(items) == 20
    assert {len(item.title or "") for item in items} == {TITLE_LIMIT}


@pytest.mark.parametrize(
    "hostile",
    ["<a", "</", "<?", "<!", "< ", "<", "&#", "<div>"],
    ids=["open-tags", "end-tags", "processing", "declarations", "lt-space", "lt", "charref", "div"],
)
def test_no_run_of_broken_markup_is_slow(hostile: str) -> None:
    # Python's own html.parser takes minutes on 512 KB of "<a" (it rescans from each "<").
    assert seconds(hostile * (MARKUP_LIMIT // len(hostile))) < 1.5


def test_text_is_capped_per_field_with_an_ellipsis() -> None:
    long = "word " * TEXT_LIMIT
    for text in (html_to_text(long), html_to_text("<p>" + long + "</p>")):
        assert TEXT_LIMIT - 5 <= len(text) <= TEXT_LIMIT and text.endswith("word\u2026")
    assert capped("short", 10) == "short"
    assert capped("0123456789abc", 10) == "012345678\u2026"


@pytest.mark.parametrize(
    ("html", "text"),
    [
        ("<p>Anytown&#39;s <b>St</b>ory</p><div>next</div>", "Anytown's Story next"),
        ("one<br>two<br/>three<hr>four", "one two three four"),
        ("a < b &amp; c &lt;d&gt;", "a < b & c <d>"),
        ("keep<!-- a comment -->going", "keepgoing"),
        ("<SCRIPT type='x'>var a = '<p>';</SCRIPT >after", "after"),
        ("<template><p>hidden</p></template>shown", "shown"),
        ("<![CDATA[raw <b>text</b>]]> after", "raw <b>text</b> after"),
        ("<p>unterminated <a href='x", "unterminated"),
        ("<p>an unclosed <script>everything after is code", "an unclosed"),
        ("<!DOCTYPE html><html><body><h1>Title</h1></body></html>", "Title"),
    ],
)
def test_visible_text_of_markup(html: str, text: str) -> None:
    assert html_to_text(html) == text


def test_twenty_entries_with_one_megabyte_titles_of_escaped_markup_are_cut_before_parsing() -> None:
    # 22 s before: the XML parser makes one callback per entity of `&lt;b&gt;word&lt;/b&gt;`.
    escaped = INLINE.replace("<", "&lt;").replace(">", "&gt;") * (1024 * 1024 // len(INLINE))
    entries = "".join(
        f"<item><guid>esc-{n}</guid><title>{escaped}</title><description>d</description></item>"
        for n in range(20)
    )
    feed = f'<rss version="2.0"><channel><title>Giant</title>{entries}</channel></rss>'
    started = time.perf_counter()
    items = parse_feed(feed.encode(), source_url="https://feeds.example.org/feed")
    assert time.perf_counter() - started < 10.0  # ~1.3 s; bench/giant_titles.py measures it
    assert len(items) == 20
    assert {item.title for item in items} == {capped("word " * TITLE_LIMIT, TITLE_LIMIT)}


def test_a_long_run_is_cut_between_entities_and_characters_and_keeps_its_section_end() -> None:
    run = "é&amp;" * (RUN_LIMIT // 7 + 10)  # 7 bytes a unit: a little over the limit
    for wrapped, end in ((f"<![CDATA[{run}]]>", "]]>"), (f"<!-- {run} -->", "-->"), (run, "")):
        trimmed = trim_long_runs(f"<t>{wrapped}</t>".encode())
        assert len(trimmed) <= RUN_LIMIT + 100
        body = trimmed.decode("utf-8").removeprefix("<t>").removesuffix("</t>")  # no split é
        assert body.endswith(end)
        assert body.removesuffix(end).endswith(("é", "&amp;"))  # never half an entity


def test_a_short_or_utf16_document_reaches_the_parser_whole() -> None:
    short = b"<rss>" + b"x" * 1000 + b"</rss>"
    assert trim_long_runs(short) is short
    wide = ("<rss>" + "x" * (RUN_LIMIT * 2) + "</rss>").encode("utf-16")
    assert trim_long_runs(wide) is wide
