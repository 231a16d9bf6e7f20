"""What an alert about an item says: headline, the post, why it fired and what to do next."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from zoneinfo import ZoneInfo

from alerts.base import Alert, AlertItem
from monitor.classify.base import Assessment, Label, Severity, Signal
from monitor.classify.rules import LAYER as RULES_LAYER
from monitor.config.schema import SchoolConfig, SourceConfig
from monitor.delivery.reply_status import CRITICISM_ACTION, QUERY_ACTION
from monitor.storage import models

REVIEW_SHOWN = 20
"""Posts quoted in one morning review summary; the rest are counted."""

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
    Label.QUERY: QUERY_ACTION,
    Label.CRITICISM: CRITICISM_ACTION,
}
LABEL_PHRASES: dict[Label, str] = {
    Label.CRITICISM: "criticism",
    Label.QUERY: "a question",
    Label.PRAISE: "praise",
    Label.INSULT: "an insult",
    Label.HARASSMENT: "harassment",
    Label.THREAT: "a threat",
    Label.HATE: "hate",
    Label.SEXUAL: "sexual content",
    Label.SAFEGUARDING: "a safeguarding concern",
    Label.EXTREMISM: "extremism",
    Label.DEFAMATION: "an allegation against the school or its staff",
    Label.PERSONAL_DATA: "personal data",
    Label.SPAM: "spam",
}
LIST_NAMES = {
    "self_harm": "self-harm",
    "child_at_risk": "child-at-risk",
    "sexual": "sexual-content",
    "query": "question",
    "defamation": "allegation",
}
"""Lexicon files named as staff would name the word lists."""
PATTERN_NAMES = {
    "uk_phone": "a UK phone number",
    "email": "an email address",
    "uk_postcode": "a UK postcode",
    "question": "a question",
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
    reply_status: str = "",
) -> Alert:
    """The alert one recipient gets about one item, naming only the labels routed to them."""
    top = next((label for label in PRIORITY if label in labels), None)
    names = ", ".join(label.replace("_", " ") for label in labels)
    sure = confidence_text(assessment, labels)
    return Alert(
        kind="item",
        school_name=school.name,
        severity=str(severity),
        headline=f"{names} on {source.display_name}",
        items=(alert_item(source, item, assessment, labels),),
        summary=f"A {item.kind} about {school.name} was flagged as {names} (item {item.id});"
        f" confidence: {sure}.",
        reply_status=reply_status,
        action=ACTIONS.get(top, "") if top else "",
        links=links,
    )


def alert_item(
    source: SourceConfig, item: models.Item, assessment: Assessment, labels: tuple[Label, ...]
) -> AlertItem:
    """The post as shown in an alert, with the rules and models that fired."""
    reasons = tuple(describe_signal(s) for s in assessment.signals if s.label in labels)
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


def describe_signal(signal: Signal) -> str:
    """Why a label was raised, in plain words: how sure the model is, or which words matched."""
    if signal.layer != RULES_LAYER:
        return f"the model is {percent(signal.score)} sure this is {about(signal.label)}"
    said = _rule_reason(signal)
    return said if signal.confident else f"{said} (a weak sign on its own)"


def _rule_reason(signal: Signal) -> str:
    kind, _, name = signal.rule.partition(":")
    evidence = _quoted(signal.evidence)
    if kind == "lexicon":
        listed = LIST_NAMES.get(name, name.replace("_", " "))
        return f"the words {evidence} matched the {listed} list"
    if signal.rule == "watchlist:pupil":
        return "it names a pupil on the school's watch list"
    if kind == "watchlist":
        who = "a staff name" if name == "staff" else "the school's name"
        return f"the words {evidence} pair {who} with {about(signal.label)}"
    return f"it contains {PATTERN_NAMES.get(name, name.replace('_', ' '))} ({evidence})"


def _quoted(evidence: str) -> str:
    words = " ".join(evidence.split())
    return f"'{words[:80]}'" if words else "''"


def percent(score: float) -> str:
    """A probability as staff read it: `83 %`."""
    return f"{round(score * 100)} %"


def about(label: Label) -> str:
    """`a threat`, `a safeguarding concern`: a label as the end of "this is …"."""
    return LABEL_PHRASES.get(label, str(label).replace("_", " "))


def confidence_text(assessment: Assessment, labels: Sequence[Label]) -> str:
    """Each label's confidence: the model's probability, or the rule alone, and agreement."""
    parts = []
    for label in labels:
        layers = {s.layer for s in assessment.signals if s.label == label}
        model = max(
            (s.score for s in assessment.signals if s.label == label and s.layer != RULES_LAYER),
            default=None,
        )
        sure = percent(model) if model is not None else "keyword rule"
        agree = " (model and rules agree)" if len(layers) > 1 else ""
        parts.append(f"{label.replace('_', ' ')} {sure}{agree}")
    return ", ".join(parts)


def review_alert(
    school: SchoolConfig, held: Sequence[tuple[models.Review, models.Item]], at: datetime
) -> Alert:
    """The DSL's morning summary of posts held for review: what, how sure, how to correct."""
    by_item: dict[int, tuple[models.Item, list[models.Review]]] = {}
    for review, item in held:
        by_item.setdefault(item.id, (item, []))[1].append(review)
    shown = list(by_item.values())[:REVIEW_SHOWN]
    names = sorted({review.label.replace("_", " ") for review, _ in held})
    return Alert(
        kind="review_summary",
        school_name=school.name,
        severity="medium",
        headline=f"{len(by_item)} post(s) held for your review ({', '.join(names)})",
        items=tuple(_held_item(item, reviews) for item, reviews in shown),
        summary=(
            "The classifier raised these with too little confidence to page you; each was"
            f" held for review (as of {at:%a %d %b %H:%M})."
        ),
        action=(
            "Read each post. If it is a concern, follow the safeguarding procedure. If the"
            " classifier was wrong, record it so it learns: orm-monitor classifier correct ITEM"
            " --not LABEL --by NAME."
        ),
        extra_count=len(by_item) - len(shown),
    )


def _held_item(item: models.Item, reviews: Sequence[models.Review]) -> AlertItem:
    return replace(
        window_item(item),
        labels=tuple(review.label for review in reviews),
        reasons=tuple(
            f"item {item.id}: possibly {about(Label(review.label))}"
            f" ({percent(review.score)} sure), too unsure to page you"
            for review in reviews
        ),
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
