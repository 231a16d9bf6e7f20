"""What an alert about an item says: headline, the post, why it fired and what to do next."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from alerts.base import Alert, AlertItem
from monitor.classify.base import Assessment, Label, Severity
from monitor.config.schema import SchoolConfig, SourceConfig
from monitor.storage import models

ACTIONS: dict[Label, str] = {
    Label.SAFEGUARDING: (
        "Follow the school's safeguarding procedure now. Do not reply publicly or contact the "
        "author. A copy is kept as evidence; record the concern and the DSL decides next steps."
    ),
    Label.THREAT: (
        "Treat as a possible threat: the DSL and SLT decide whether to call the police (999 if "
        "there is immediate danger). Keep the evidence copy; do not engage with the author."
    ),
    Label.EXTREMISM: (
        "Prevent duty: the DSL considers a referral. Do not reply; report the post to the "
        "platform after the evidence copy is kept."
    ),
    Label.SEXUAL: "Report the post to the platform and hide it; the DSL reviews it first.",
    Label.PERSONAL_DATA: (
        "Personal data is exposed: ask the platform to remove it and tell the data protection "
        "lead, who decides whether it is a reportable breach (72 hours to the ICO)."
    ),
    Label.HARASSMENT: "Hide or report the post, support the person targeted, and inform SLT.",
    Label.HATE: "Report the post to the platform and hide it; inform SLT.",
    Label.DEFAMATION: "Do not reply publicly; SLT decides whether to seek advice.",
    Label.INSULT: "Hide the comment if the account allows it; no reply is needed.",
    Label.QUERY: "Reply within 24 hours (or the next working day), even if only to acknowledge.",
    Label.CRITICISM: "Acknowledge and offer to take the conversation to the complaints route.",
}

# The order in which labels decide the action: the most serious first.
PRIORITY = [
    Label.SAFEGUARDING,
    Label.THREAT,
    Label.EXTREMISM,
    Label.SEXUAL,
    Label.PERSONAL_DATA,
    Label.HARASSMENT,
    Label.HATE,
    Label.DEFAMATION,
    Label.INSULT,
    Label.QUERY,
    Label.CRITICISM,
]


def item_alert(
    school: SchoolConfig,
    source: SourceConfig,
    item: models.Item,
    assessment: Assessment,
    severity: Severity,
    labels: tuple[Label, ...],
    links: tuple[tuple[str, str], ...] = (),
) -> Alert:
    """The alert one recipient gets about one item, naming only the labels routed to them."""
    top = next((label for label in PRIORITY if label in labels), None)
    names = ", ".join(label.replace("_", " ") for label in labels)
    return Alert(
        kind="item",
        school_name=school.name,
        severity=str(severity),
        headline=f"{names} on {source.display_name}",
        items=(alert_item(source, item, assessment, labels),),
        summary=f"A {item.kind} about {school.name} was flagged as {names} (item {item.id}).",
        action=ACTIONS.get(top, "") if top else "",
        links=links,
    )


def alert_item(
    source: SourceConfig, item: models.Item, assessment: Assessment, labels: tuple[Label, ...]
) -> AlertItem:
    """The post as shown in an alert, with the rules and models that fired."""
    reasons = tuple(
        f"{s.label}: {s.rule}" + (f" ({s.evidence})" if s.evidence else "")
        for s in assessment.signals
        if s.label in labels
    )
    author = item.author_name or item.author_handle or item.author_id
    return AlertItem(
        text=item.text,
        url=item.url,
        author=author,
        platform=source.type,
        source_name=source.display_name,
        kind=item.kind,
        created_at=posted_at(item),
        labels=tuple(str(label) for label in labels),
        reasons=reasons,
    )


def posted_at(item: models.Item, timezone: str = "Europe/London") -> str | None:
    """When the post was published, as staff read times: local, e.g. "Mon 23 Nov 2026 08:01 GMT"."""
    if item.created_at is None:
        return None
    return item.created_at.astimezone(ZoneInfo(timezone)).strftime("%a %d %b %Y %H:%M %Z")


def window_item(item: models.Item) -> AlertItem:
    """The post a window is about, as an alert shows it."""
    return AlertItem(
        text=item.text,
        url=item.url,
        author=item.author_name or item.author_handle or item.author_id,
        platform="",
        source_name=item.source_id,
        kind=item.kind,
        created_at=posted_at(item),
    )
