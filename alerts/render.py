"""Alert text for people: an email subject, a plain-text part and an Outlook-safe HTML part."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cache
from urllib.parse import urlsplit

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape

from alerts.base import Alert, AlertItem, Recipient

SUBJECT_MAX_CHARS = 200
# Cc: C0/C1 controls (CR, LF, tab, ESC...), Cf: format characters (bidi overrides, zero-width),
# Zl/Zp: U+2028/U+2029, Cs: lone surrogates (they cannot be encoded at all).
_CONTROL_CATEGORIES = {"Cc", "Cf", "Zl", "Zp", "Cs"}
_WHITESPACE_RUN = re.compile(r"\s+")
# Category Cc is exactly U+0000-001F and U+007F-009F; \t and \n stay in multi-line text.
_CONTROLS_BUT_LINE_BREAKS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# Invisible direction controls (embeddings, overrides, isolates, marks) can make a post read
# backwards or hide text in a body as in a header ("Trojan Source"); they are removed.
BIDI_CONTROLS = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_SEVERITY_COLOURS = {
    "critical": "#b91c1c",
    "high": "#c2410c",
    "medium": "#a16207",
    "low": "#1d4ed8",
    "info": "#4b5563",
}


@dataclass(frozen=True)
class RenderedEmail:
    """The three parts of an alert email."""

    subject: str
    text: str
    html: str


@dataclass(frozen=True)
class LinkView:
    """A link as shown to staff: `href` is set only for http(s) URLs."""

    label: str
    text: str
    href: str | None


@dataclass(frozen=True)
class ItemView:
    """One post, cleaned for display (still untrusted: templates escape it)."""

    platform: str
    source_name: str
    kind: str
    author: str
    created_at: str
    labels: str
    reasons: tuple[str, ...]
    text: str
    link: LinkView | None


def strip_controls(text: str) -> str:
    """One line safe for an email header: control/format characters become spaces, collapsed."""
    cleaned = "".join(" " if unicodedata.category(c) in _CONTROL_CATEGORIES else c for c in text)
    return _WHITESPACE_RUN.sub(" ", cleaned).strip()


def clean_text(text: str) -> str:
    """Multi-line untrusted text: line breaks kept as \\n; controls, bidi and lone surrogates go."""
    text = _fix_surrogates(text).replace("\r\n", "\n").replace("\r", "\n")
    text = text.replace("\u2028", "\n").replace("\u2029", "\n\n")
    return BIDI_CONTROLS.sub("", _CONTROLS_BUT_LINE_BREAKS.sub(" ", text))


def _fix_surrogates(text: str) -> str:
    # Pairs written as two code points are joined; a lone half becomes U+FFFD.
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def safe_link(url: str | None) -> str | None:
    """`url` if it is an absolute http(s) URL that may be made clickable, else None."""
    if not url or any(c.isspace() or unicodedata.category(c) == "Cc" for c in url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    return url if parts.scheme.lower() in ("http", "https") and parts.netloc else None


def shorten(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters with an ellipsis, never inside a character."""
    if len(text) <= limit:
        return text
    cut = max(limit - 1, 0)
    while cut > 0 and (_joins_previous(text[cut]) or text[cut - 1] == "\u200d"):
        cut -= 1
    return text[:cut] + "…"


def _joins_previous(char: str) -> bool:
    # Combining marks, zero-width joiners and variation selectors belong to the character before.
    return (
        bool(unicodedata.combining(char))
        or char in "\u200d\ufe0e\ufe0f"
        or ("\U0001f3fb" <= char <= "\U0001f3ff")
    )


def subject_for(alert: Alert) -> str:
    """The email subject, e.g. "[CRITICAL] St Mary's: threat on Facebook page"."""
    subject = f"[{alert.severity.upper()}] {alert.school_name}: {alert.headline}"
    return shorten(strip_controls(subject), SUBJECT_MAX_CHARS)


def link_view(url: str | None, label: str = "") -> LinkView | None:
    """How a URL is shown: a link for http(s), plain text for anything else, None if absent."""
    if not url:
        return None
    return LinkView(label=strip_controls(label), text=strip_controls(url), href=safe_link(url))


def item_view(item: AlertItem) -> ItemView:
    """The display form of one post."""
    return ItemView(
        platform=strip_controls(item.platform),
        source_name=strip_controls(item.source_name),
        kind=strip_controls(item.kind),
        author=strip_controls(item.author or "") or "unknown",
        created_at=strip_controls(item.created_at or ""),
        labels=", ".join(strip_controls(label) for label in item.labels),
        reasons=tuple(strip_controls(reason) for reason in item.reasons),
        text=clean_text(item.text),
        link=link_view(item.url),
    )


def _lines(text: str) -> Markup:
    # Outlook's Word engine ignores white-space:pre-wrap, so line breaks also become <br>.
    return Markup("<br>").join(escape(line) for line in text.split("\n"))


@cache
def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("alerts", "templates"),
        autoescape=select_autoescape(enabled_extensions=("html.j2", "html")),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["lines"] = _lines
    return env


def render_email(alert: Alert, recipient: Recipient) -> RenderedEmail:
    """Subject, plain text and HTML for one alert to one person (a built report as it is)."""
    if alert.report is not None:
        report = alert.report
        subject = shorten(strip_controls(report.subject), SUBJECT_MAX_CHARS)
        return RenderedEmail(subject=subject, text=report.text, html=report.html)
    subject = subject_for(alert)
    context = {
        "subject": subject,
        "severity": strip_controls(alert.severity).upper(),
        "colour": _SEVERITY_COLOURS.get(alert.severity.lower(), "#4b5563"),
        "school_name": strip_controls(alert.school_name),
        "headline": strip_controls(alert.headline),
        "summary": clean_text(alert.summary),
        "reply_status": strip_controls(alert.reply_status),
        "action": clean_text(alert.action),
        "items": [item_view(item) for item in alert.items],
        "extra_count": alert.extra_count,
        "links": [link_view(url, label) for label, url in alert.links if url],
        "recipient": strip_controls(recipient.name or recipient.address),
    }
    env = _environment()
    text = env.get_template("alert.txt.j2").render(context)
    html = env.get_template("alert.html.j2").render(context)
    return RenderedEmail(subject=subject, text=text, html=html)
