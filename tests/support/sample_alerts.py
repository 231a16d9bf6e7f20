"""Alerts for channel tests: one whose every untrusted field is hostile, and an ordinary one."""

from __future__ import annotations

from alerts.base import Alert, AlertItem, Recipient

HOSTILE_TEXT = (
    "<script>alert(1)</script>\n"
    '<img src=x onerror="alert(2)">\n'
    "{{DATE(2026-01-01)}} **bold** [click](https://evil.example)"
)
INJECTED_HEADLINE = "hi\r\nBcc: evil@example.com"
ACCOUNT_MANAGER = Recipient(address="am@stmarys.example.org", name="Ann Manager")


def hostile_alert() -> Alert:
    """Markup, Markdown, card functions, a javascript: link and a header injection."""
    item = AlertItem(
        text=HOSTILE_TEXT,
        url="javascript:alert(3)",
        author="**Mallory** <b>{{DATE(2026-01-01)}}</b>",
        platform="facebook",
        source_name="Main page _italic_",
        kind="comment",
        created_at="2026-03-02T08:15:00Z",
        labels=("threat",),
        reasons=("lexicon threats: 'burn the school'",),
    )
    return Alert(
        kind="item",
        school_name="St Mary's <i>CE</i> **Primary**",
        severity="critical",
        headline=INJECTED_HEADLINE,
        items=(item,),
        summary="One post needs the DSL.",
        action="Tell the DSL today.",
        links=(("Open dashboard", "https://orm.example.org/items/1"), ("Bad", "javascript:x()")),
        extra_count=2,
    )


def plain_alert(text: str = "Is the school open tomorrow?\nThe gate was locked.") -> Alert:
    """An ordinary query with a clickable post link."""
    item = AlertItem(
        text=text,
        url="https://www.facebook.com/stmarys/posts/1",
        author="A Parent",
        platform="facebook",
        source_name="Main page",
        kind="comment",
        created_at="2026-03-02 08:15",
        labels=("query",),
        reasons=("keyword: open tomorrow",),
    )
    return Alert(
        kind="item",
        school_name="St Mary's",
        severity="low",
        headline="query on Facebook page",
        items=(item,),
        summary="A parent asked a question.",
        action="Reply within the reply window.",
        links=(("Open dashboard", "https://orm.example.org/items/2"),),
    )
