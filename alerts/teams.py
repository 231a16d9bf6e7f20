"""Alerts to a Teams channel as an Adaptive Card, through a Workflows webhook.

A `TextBlock` renders Markdown and `{{DATE(...)}}` functions, so only our own fixed words go in
TextBlocks; everything from a post, a platform or the config goes in `RichTextBlock` → `TextRun`.
"""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx
from pydantic import Field

from alerts.base import (
    Alert,
    AlertItem,
    Channel,
    ChannelSettings,
    CredentialName,
    DeliveryResult,
    Recipient,
    SecretReader,
)
from alerts.render import clean_text, item_view, link_view, shorten, strip_controls
from alerts.retry_after import retry_after

log = logging.getLogger(__name__)

Json = dict[str, Any]

# Workflows rejects bodies over ~28 KB with 413; stay clear of the edge.
MAX_BODY_BYTES = 27_000
LINE_CHARS = 300
PARAGRAPH_CHARS = 2_000
POST_TEXT_CAPS = (None, 8_000, 4_000, 2_000, 1_000, 500, 200)
SHORTENED_NOTE = "\n[Shortened to fit in Teams: open the post to read it all.]"
_CONTAINER_STYLES = {"critical": "attention", "high": "warning", "medium": "warning"}


def _run(text: str, **style: Any) -> Json:
    return {"type": "TextRun", "text": text, **style}


def _rich(*runs: Json) -> Json:
    return {"type": "RichTextBlock", "inlines": list(runs)}


def _caption(text: str) -> Json:
    """Fixed text of ours only: a TextBlock interprets Markdown."""
    return {
        "type": "TextBlock",
        "text": text,
        "weight": "Bolder",
        "wrap": True,
        "spacing": "Medium",
    }


def _open_url(title: str, url: str) -> Json:
    return {"type": "Action.OpenUrl", "title": title, "url": url}


def _line(text: str) -> str:
    return shorten(strip_controls(text), LINE_CHARS)


def _header(alert: Alert) -> Json:
    severity = _line(alert.severity).upper()
    return {
        "type": "Container",
        "style": _CONTAINER_STYLES.get(alert.severity.lower(), "emphasis"),
        "items": [
            _rich(_run(severity, weight="Bolder"), _run(" · "), _run(_line(alert.school_name))),
            _rich(_run(_line(alert.headline), size="Large", weight="Bolder")),
        ],
    }


def _item_block(item: AlertItem) -> Json:
    view = item_view(item)
    where = " · ".join(p for p in (view.platform, view.source_name, view.kind) if p)
    byline = ["By ", _line(view.author)]
    if view.created_at:
        byline += [" · ", _line(view.created_at)]
    elements = [
        _rich(_run(_line(where) or "Post", weight="Bolder")),
        _rich(*(_run(text, isSubtle=True) for text in byline)),
    ]
    if view.labels:
        elements.append(_rich(_run("Labels: ", weight="Bolder"), _run(_line(view.labels))))
    elements += [_rich(_run("Why: ", weight="Bolder"), _run(_line(r))) for r in view.reasons]
    elements.append(_rich(_run(view.text)))
    if view.link and view.link.href:
        open_post = _open_url("Open the post", view.link.href)
        elements.append({"type": "ActionSet", "actions": [open_post]})
    elif view.link:
        elements.append(
            _rich(
                _run("Link (not a web address): ", isSubtle=True),
                _run(_line(view.link.text), isSubtle=True),
            )
        )
    return {"type": "Container", "separator": True, "spacing": "Medium", "items": elements}


def _body(alert: Alert) -> list[Json]:
    body = [_header(alert)]
    if alert.reply_status:
        body.append(_rich(_run(_line(alert.reply_status), weight="Bolder", color="Accent")))
    if alert.summary:
        body.append(_rich(_run(shorten(clean_text(alert.summary), PARAGRAPH_CHARS))))
    body += [_item_block(item) for item in alert.items]
    if alert.extra_count > 0:
        body.append(_caption(f"+{alert.extra_count} more not shown here"))
    if alert.action:
        action = shorten(clean_text(alert.action), PARAGRAPH_CHARS)
        body += [_caption("What to do"), _rich(_run(action))]
    for label, url in alert.links:
        link = link_view(url, label)
        if link and not link.href:
            body.append(
                _rich(
                    _run(f"{_line(link.label) or 'Link'} (not a web address): "),
                    _run(_line(link.text), isSubtle=True),
                )
            )
    return body


def _actions(alert: Alert) -> list[Json]:
    links = (link_view(url, label) for label, url in alert.links)
    return [
        _open_url(_line(link.label) or "Open", link.href) for link in links if link and link.href
    ]


def _message(alert: Alert) -> Json:
    card: Json = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": _body(alert),
    }
    actions = _actions(alert)
    if actions:
        card["actions"] = actions
    attachment = {
        "contentType": "application/vnd.microsoft.card.adaptive",
        "contentUrl": None,
        "content": card,
    }
    return {"type": "message", "attachments": [attachment]}


def encode(message: Json) -> bytes:
    """The exact bytes POSTed (and measured against the size limit)."""
    return json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _capped_posts(alert: Alert, cap: int | None) -> Alert:
    if cap is None:
        return alert
    return replace(alert, items=tuple(_capped_post(item, cap) for item in alert.items))


def _capped_post(item: AlertItem, cap: int) -> AlertItem:
    text = clean_text(item.text)
    return replace(item, text=shorten(text, cap) + SHORTENED_NOTE) if len(text) > cap else item


def _fits(message: Json) -> bool:
    return len(encode(message)) <= MAX_BODY_BYTES


def _first_items(alert: Alert, keep: int) -> Alert:
    """The first `keep` items; the others join the "+N more" count."""
    extra = alert.extra_count + len(alert.items) - keep
    return replace(alert, items=alert.items[:keep], extra_count=extra)


def _most_items_that_fit(alert: Alert) -> Alert | None:
    """`alert` with as many leading items as fit (binary search: the card grows with each)."""
    low, high = 0, len(alert.items)
    if not _fits(_message(_first_items(alert, low))):
        return None
    while low < high:
        middle = (low + high + 1) // 2
        if _fits(_message(_first_items(alert, middle))):
            low = middle
        else:
            high = middle - 1
    return _first_items(alert, low)


def _bare(alert: Alert) -> Alert:
    """Headline and counts only: what is left when nothing else fits."""
    return Alert(
        kind=alert.kind,
        school_name=alert.school_name,
        severity=alert.severity,
        headline=alert.headline,
        summary=shorten(alert.summary, 500),
        reply_status=alert.reply_status,
        extra_count=alert.extra_count + len(alert.items),
    )


def build_card(alert: Alert) -> Json:
    """The Workflows message body for `alert`, shrunk until it fits under MAX_BODY_BYTES.

    Post texts are cut shorter and shorter first; then trailing items are dropped into "+N more".
    """
    for cap in POST_TEXT_CAPS:
        message = _message(_capped_posts(alert, cap))
        if _fits(message):
            return message
    fewer = _most_items_that_fit(_capped_posts(alert, POST_TEXT_CAPS[-1]))
    return _message(fewer if fewer is not None else _bare(alert))


class TeamsSettings(ChannelSettings):
    """A Teams channel through a Workflows webhook (the URL is a secret)."""

    type: Literal["teams"]
    webhook_url_credential: CredentialName
    timeout_seconds: float = Field(30, gt=0)


def redact_url(url: str) -> str:
    """A URL safe to log: scheme and host only (webhook URLs carry their signature)."""
    scheme, _, rest = url.partition("://")
    host = rest.split("/", 1)[0].rsplit("@", 1)[-1]
    return f"{scheme}://{host}/…" if rest else "…"


class TeamsChannel(Channel):
    """A Teams channel behind a Workflows webhook URL (a secret: the URL carries a signature)."""

    type = "teams"
    delivers_to_people = False

    def __init__(
        self,
        name: str,
        config: TeamsSettings,
        secrets: SecretReader,
        client: httpx.Client | None = None,
    ) -> None:
        super().__init__(name)
        self._url = secrets(config.webhook_url_credential)
        self._timeout = config.timeout_seconds
        self._owns_client = client is None
        self._client = client or httpx.Client(timeout=self._timeout)

    def send(self, alert: Alert, recipient: Recipient, idempotency_key: str) -> DeliveryResult:
        """POST the card: 2xx delivered, 429/5xx/network RETRY, 413 and other 4xx FAILED."""
        body = encode(build_card(alert))
        try:
            response = self._client.post(
                self._url,
                content=body,
                timeout=self._timeout,
                headers={"Content-Type": "application/json; charset=utf-8"},
            )
        except httpx.TimeoutException:
            return DeliveryResult.retry(f"no answer from {self._where()} within {self._timeout:g}s")
        except httpx.HTTPError as error:
            return DeliveryResult.retry(f"cannot reach {self._where()}: {self._scrub(error)}")
        log.debug("%s: HTTP %s for %s bytes", self.describe(), response.status_code, len(body))
        return self._result_for(response)

    def _result_for(self, response: httpx.Response) -> DeliveryResult:
        status = response.status_code
        if response.is_success:  # Workflows answers 202 (or 200) when it accepts the card
            return DeliveryResult.delivered(response.headers.get("x-ms-workflow-run-id"))
        when = retry_after(response.headers.get("Retry-After"))
        if status == 429:
            return DeliveryResult.retry(f"Teams is rate-limiting {self._where()} (429)", when)
        if status >= 500:
            return DeliveryResult.retry(f"{self._where()} answered {status}", when)
        return DeliveryResult.failed(self._rejection(status, response))

    def _rejection(self, status: int, response: httpx.Response) -> str:
        detail = self._scrub(response.text)
        if status == 413:
            return f"card too large for Teams (413): {detail}"
        if status in (401, 403, 404):
            return (
                f"webhook URL rejected ({status}): recreate the workflow and update the "
                f"credential holding its URL; {detail}"
            )
        return f"{self._where()} rejected the card ({status}): {detail}"

    def _where(self) -> str:
        return f"Teams webhook {redact_url(self._url)}"

    def _scrub(self, text: object) -> str:
        """Error text with the webhook's path and query (its signature) removed."""
        message = str(text)
        parts = urlsplit(self._url)
        for signed_part in (self._url, parts.query, parts.path):
            if signed_part and signed_part != "/":
                message = message.replace(signed_part, "…")
        return shorten(strip_controls(message), LINE_CHARS) or "no details"

    def describe(self) -> str:
        """A log-safe description: the webhook's host only."""
        return f"teams channel {self.name!r} ({redact_url(self._url)})"

    def close(self) -> None:
        """Close the HTTP client if this channel made it."""
        if self._owns_client:
            self._client.close()
