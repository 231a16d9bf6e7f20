"""The posts the digest quotes: the most serious items and the week's praise, each text once."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor.calendar.clock import short_local
from monitor.classify.base import Label
from monitor.classify.rules import redact_pupil_names
from monitor.config.schema import SchoolConfig
from monitor.config.watchlist import PupilList, pupil_list
from monitor.digest.rows import RISK_LABELS, Row
from monitor.storage import models

EXCERPT_CHARS = 280


@dataclass(frozen=True)
class Excerpt:
    """A post quoted in the digest; `text` is None when it is held by the DSL.

    `also` names the other items of the week with the same text, quoted once here.
    """

    item_id: int
    severity: str
    labels: str
    source: str
    when: str
    author: str
    text: str | None
    url: str | None
    also: tuple[int, ...] = ()


@dataclass(frozen=True)
class Quotes:
    """The most serious items and the praise, as the digest quotes them."""

    top: tuple[Excerpt, ...]
    praise: tuple[Excerpt, ...]


def quotes(
    session: Session,
    school: SchoolConfig,
    week_rows: Sequence[Row],
    incident_rows: Sequence[Row],
    must_show: frozenset[int],
    zone: ZoneInfo,
) -> Quotes:
    """Flagged items and open incidents' items (worst first), then praise; each text once.

    Only flagged items and the items of incidents still open are "most serious"; the items in
    `must_show` (open critical incidents) are quoted even past `digest.top_items`.
    """
    serious = {r.id: r for r in [*incident_rows, *(r for r in week_rows if r.flagged)]}
    ranked = sorted(serious.values(), key=_worst_first)
    kind = [r for r in week_rows if _is_praise(r) and r.id not in serious]
    kind.sort(key=lambda r: (-(r.sentiment_score or 0), r.id))
    texts = _texts(session, [r.id for r in [*ranked, *kind]])
    settings = school.digest
    top = _pick(ranked, texts, settings.top_items, must_show)
    quoted = {_same(texts[r.id]) for r, _ in top}
    praise = [r for r in kind if _same(texts[r.id]) not in quoted]
    chosen = [*top, *_pick(praise, texts, settings.praise_quotes, frozenset())]
    excerpts = _excerpts(session, school, chosen, zone)
    return Quotes(top=excerpts[: len(top)], praise=excerpts[len(top) :])


def _worst_first(row: Row) -> tuple[int, float, int]:
    return (-row.severity, -row.score, row.id)


def _is_praise(row: Row) -> bool:
    return Label.PRAISE in row.labels and not RISK_LABELS.intersection(row.labels)


def _texts(session: Session, ids: list[int]) -> dict[int, str]:
    if not ids:
        return {}
    query = select(models.Item.id, models.Item.text).where(models.Item.id.in_(ids))
    return {row.id: row.text or "" for row in session.execute(query)}


def _same(text: str) -> str:
    """Texts that read the same (case and spacing aside) are one quote."""
    return " ".join(text.split()).casefold()


def _pick(
    rows: Sequence[Row], texts: dict[int, str], limit: int, must_show: frozenset[int]
) -> list[tuple[Row, tuple[int, ...]]]:
    """The first `limit` distinct texts in order (and every `must_show` item's), with twins."""
    groups: dict[str, list[Row]] = {}
    for row in rows:
        groups.setdefault(_same(texts[row.id]), []).append(row)
    return [
        (group[0], tuple(sorted(r.id for r in group[1:])))
        for index, group in enumerate(groups.values())
        if index < limit or any(r.id in must_show for r in group)
    ]


def _excerpts(
    session: Session,
    school: SchoolConfig,
    chosen: Sequence[tuple[Row, tuple[int, ...]]],
    zone: ZoneInfo,
) -> tuple[Excerpt, ...]:
    """The quoted posts: one read of the items and the watch list."""
    if not chosen:
        return ()
    wanted = select(models.Item).where(models.Item.id.in_([r.id for r, _ in chosen]))
    items = {i.id: i for i in session.scalars(wanted)}
    names = {s.id: s.display_name for s in school.sources}
    pupils = pupil_list(school)  # the service's credentials: $CREDENTIALS_DIRECTORY or env
    return tuple(
        _excerpt(school, row, also, items[row.id], names, pupils, zone) for row, also in chosen
    )


def _excerpt(
    school: SchoolConfig,
    row: Row,
    also: tuple[int, ...],
    item: models.Item,
    names: dict[str, str],
    pupils: PupilList,
    zone: ZoneInfo,
) -> Excerpt:
    held = row.held_by_dsl and not school.digest.show_sensitive_text
    text = None if held else _shorten(redact_pupil_names(item.text, pupils.hashes, pupils.key))
    author = item.author_name or item.author_handle or "unknown"
    when = item.created_at or item.first_seen_at
    return Excerpt(
        item_id=item.id,
        severity=str(row.severity),
        labels=", ".join(str(label) for label in row.labels) or "none",
        source=names.get(item.source_id, item.source_id),
        when=short_local(when, zone),
        author="(withheld)" if held else redact_pupil_names(author, pupils.hashes, pupils.key),
        text=text,
        url=None if held else item.url,
        also=also,
    )


def _shorten(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= EXCERPT_CHARS else flat[: EXCERPT_CHARS - 1].rstrip() + "…"
