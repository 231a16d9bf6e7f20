"""Who hears about an item: labels → people and Teams channels, from the school's config."""

from __future__ import annotations

from dataclasses import dataclass

from alerts.base import Recipient
from monitor.classify.base import DEFAULT_SEVERITY, Assessment, Label, Severity
from monitor.config.people import resolve
from monitor.config.schema import Person, SchoolConfig, SourceConfig, route_for, severity_for


@dataclass(frozen=True)
class Destination:
    """One recipient on one channel, and the labels that brought the alert to them."""

    channel: str
    recipient: Recipient
    labels: tuple[Label, ...]


@dataclass(frozen=True)
class RoutingDecision:
    """The severity of an item, everyone to tell now, and what the DSL reviews later."""

    severity: Severity
    labels: tuple[Label, ...]
    destinations: tuple[Destination, ...]
    review: tuple[Label, ...] = ()
    """Paging labels raised with too little confidence to page: held for the DSL's review."""


def decide(school: SchoolConfig, source: SourceConfig, assessment: Assessment) -> RoutingDecision:
    """Route an assessment: each person and channel once, with the labels that concern them.

    A paging label the classifier is not confident of alerts nobody now and sets no severity:
    it is held for review instead.
    """
    labels = sorted(assessment.labels, key=lambda lbl: list(Label).index(lbl))
    held = tuple(label for label in labels if label in assessment.held_for_review)
    severity = Severity.INFO
    wanted: dict[tuple[str, str], tuple[Recipient, list[Label]]] = {}
    for label in labels:
        if label in held:
            continue
        route = route_for(school, source, label)
        severity = max(severity, severity_for(route, label, DEFAULT_SEVERITY[label]))
        for channel, recipient in _targets(school, source, route.notify, route.teams):
            entry = wanted.setdefault((channel, recipient.address), (recipient, []))
            entry[1].append(label)
    destinations = tuple(
        Destination(channel, recipient, tuple(found))
        for (channel, _), (recipient, found) in wanted.items()
    )
    return RoutingDecision(severity, tuple(labels), destinations, held)


def _targets(
    school: SchoolConfig, source: SourceConfig, notify: list[str], teams: list[str]
) -> list[tuple[str, Recipient]]:
    targets = [(name, Recipient(address=name, name=f"Teams: {name}")) for name in teams]
    if school.email_channel is None:
        return targets
    for person in _people(school, source, notify):
        targets.append((school.email_channel, Recipient(address=person.email, name=person.name)))
    return targets


def _people(school: SchoolConfig, source: SourceConfig, notify: list[str]) -> list[Person]:
    people: list[Person] = []
    for who in notify:
        people += resolve(school, source, who)
    unique = {p.id: p for p in people}
    return list(unique.values())
