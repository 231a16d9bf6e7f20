"""Rendering alert emails: a safe subject, escaped HTML that reads well in Outlook, plain text."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from alerts.base import Alert, AlertItem
from alerts.render import (
    SUBJECT_MAX_CHARS,
    clean_text,
    render_email,
    safe_link,
    shorten,
    strip_controls,
    subject_for,
)
from tests.support.sample_alerts import ACCOUNT_MANAGER, hostile_alert, plain_alert


def test_subject_names_severity_school_and_headline() -> None:
    assert subject_for(plain_alert()) == "[LOW] St Mary's: query on Facebook page"


@pytest.mark.parametrize(
    "control", ["\r\n", "\r", "\n", "\t", "\x00", "\x1b", "\x85", "\u2028", "\u2029", "\u202e"]
)
def test_strip_controls_turns_every_control_character_into_one_space(control: str) -> None:
    assert strip_controls(f"hi{control}Bcc: evil@example.com") == "hi Bcc: evil@example.com"


def test_strip_controls_collapses_runs_and_trims() -> None:
    assert strip_controls("  a \r\n\r\n\t b  ") == "a b"


def test_subject_with_crlf_injection_is_one_line() -> None:
    subject = subject_for(hostile_alert())
    assert "\r" not in subject and "\n" not in subject
    assert subject.endswith("hi Bcc: evil@example.com")


def test_long_subject_is_capped_with_an_ellipsis() -> None:
    alert = replace(plain_alert(), headline="word " * 200)
    subject = subject_for(alert)
    assert len(subject) == SUBJECT_MAX_CHARS
    assert subject.endswith("…")


def test_shorten_does_not_split_an_emoji_sequence() -> None:
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467"
    text = "ab" + family + "cd"
    assert shorten(text, 5) == "ab…"
    assert shorten("abc", 5) == "abc"


def test_clean_text_keeps_line_breaks_and_drops_lone_surrogates() -> None:
    assert clean_text("a\r\nb\rc\u2028d\x1be") == "a\nb\nc\nd e"
    cleaned = clean_text("x\ud83dy")
    assert cleaned == "x\ufffdy"
    cleaned.encode("utf-8")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://example.org/a?b=1", "https://example.org/a?b=1"),
        ("HTTP://example.org/", "HTTP://example.org/"),
        ("javascript:alert(1)", None),
        ("JaVaScRiPt:alert(1)", None),
        ("data:text/html,<script>", None),
        ("//example.org/no-scheme", None),
        ("https:///no-host", None),
        ("https://exa mple.org/", None),
        ("https://example.org/\nBcc:", None),
        (None, None),
        ("", None),
    ],
)
def test_only_http_and_https_urls_become_links(url: str | None, expected: str | None) -> None:
    assert safe_link(url) == expected


def test_html_escapes_the_post_text_and_every_untrusted_field() -> None:
    html = render_email(hostile_alert(), ACCOUNT_MANAGER).html
    assert "<script>" not in html
    assert "<img" not in html
    assert "<b>" not in html and "<i>CE</i>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=&#34;alert(2)&#34;&gt;" in html
    assert "St Mary&#39;s &lt;i&gt;CE&lt;/i&gt; **Primary**" in html


def test_html_keeps_the_post_line_breaks() -> None:
    html = render_email(plain_alert(), ACCOUNT_MANAGER).html
    assert "Is the school open tomorrow?<br>The gate was locked." in html
    assert "white-space:pre-wrap" in html


def test_html_links_only_http_urls_and_shows_others_as_text() -> None:
    html = render_email(hostile_alert(), ACCOUNT_MANAGER).html
    hrefs = re.findall(r'href="([^"]*)"', html)
    assert hrefs == ["https://orm.example.org/items/1"]
    assert "javascript:alert(3)" in html
    assert "javascript:x()" in html


def test_html_shows_item_details_reasons_action_links_and_more_count() -> None:
    html = render_email(hostile_alert(), ACCOUNT_MANAGER).html
    for expected in (
        "facebook",
        "Main page _italic_",
        "comment",
        "**Mallory**",
        "2026-03-02T08:15:00Z",
        "threat",
        "lexicon threats: &#39;burn the school&#39;",
        "One post needs the DSL.",
        "Tell the DSL today.",
        "Open dashboard",
        "+2 more",
    ):
        assert expected in html, expected


def test_html_is_self_contained_for_outlook() -> None:
    html = render_email(plain_alert(), ACCOUNT_MANAGER).html
    assert "<table" in html
    assert "<style" not in html and "<link" not in html and "<script" not in html
    assert '<a href="https://www.facebook.com/stmarys/posts/1"' in html


def test_plain_text_has_the_same_content_unescaped() -> None:
    text = render_email(hostile_alert(), ACCOUNT_MANAGER).text
    assert "<script>alert(1)</script>" in text
    for expected in (
        "CRITICAL",
        "facebook",
        "Main page _italic_",
        "**Mallory**",
        "Labels: threat",
        "Why: lexicon threats: 'burn the school'",
        "Link (not a web address): javascript:alert(3)",
        "+2 more",
        "Tell the DSL today.",
        "Open dashboard: https://orm.example.org/items/1",
        "Bad (not a web address): javascript:x()",
    ):
        assert expected in text, expected


def test_plain_text_keeps_post_lines_indented() -> None:
    text = render_email(plain_alert(), ACCOUNT_MANAGER).text
    assert "    Is the school open tomorrow?\n    The gate was locked." in text
    assert "Link: https://www.facebook.com/stmarys/posts/1" in text


def test_no_more_line_without_extra_items() -> None:
    rendered = render_email(plain_alert(), ACCOUNT_MANAGER)
    assert "more not shown" not in rendered.text
    assert "more not shown" not in rendered.html


def test_an_alert_with_no_items_still_renders() -> None:
    alert = Alert(kind="digest", school_name="St Mary's", severity="info", headline="all quiet")
    rendered = render_email(alert, ACCOUNT_MANAGER)
    assert rendered.subject == "[INFO] St Mary's: all quiet"
    assert "all quiet" in rendered.text and "all quiet" in rendered.html


def test_unknown_author_is_said_so() -> None:
    alert = replace(plain_alert(), items=(AlertItem(text="hello"),))
    assert "By: unknown" in render_email(alert, ACCOUNT_MANAGER).text


DUE = "Reply by Mon 23 Nov, 18:00 (London time) — 23 h 40 min left"
BIDI = "\u202e\u202a\u202b\u202c\u202d\u2066\u2067\u2068\u2069\u200e\u200f\u061c"


def test_the_reply_due_time_and_time_left_are_in_the_text_and_the_html() -> None:
    email = render_email(replace(plain_alert(), reply_status=DUE), ACCOUNT_MANAGER)
    assert f">> {DUE}" in email.text
    assert email.text.index(DUE) < email.text.index("A parent asked a question.")
    assert DUE in email.html


def test_an_alert_that_owes_no_reply_says_nothing_about_one() -> None:
    email = render_email(plain_alert(), ACCOUNT_MANAGER)
    assert "Reply by" not in email.text and ">>" not in email.text


def test_direction_controls_are_removed_from_bodies_not_only_headers() -> None:
    item = replace(plain_alert().items[0], text=f"fine{BIDI}gpj.exe", reasons=(f"why{BIDI}",))
    alert = replace(
        plain_alert(),
        items=(item,),
        summary=f"sum{BIDI}mary",
        action=f"act{BIDI}ion",
        reply_status=f"due{BIDI}",
    )
    email = render_email(alert, ACCOUNT_MANAGER)
    for part in (email.text, email.html):
        assert not any(control in part for control in BIDI)
        assert "finegpj.exe" in part and "summary" in part and "action" in part
