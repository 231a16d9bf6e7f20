"""Writing what connectors found: schools and accounts from config, items with their evidence."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors.base import Item, canonical_json, payload_sha256
from monitor.config.schema import OrmConfig
from monitor.storage import models

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IngestCounts:
    """What one batch did to the items table."""

    new: int = 0
    edited: int = 0
    unchanged: int = 0
    deleted: int = 0
    changed_ids: tuple[int, ...] = ()


def sync_config(session: Session, config: OrmConfig) -> None:
    """Make the schools and accounts tables match the config (nothing is ever deleted)."""
    tenants = [(s.id, s.name) for s in config.schools]
    if config.trust is not None:
        tenants.append((config.trust.id, config.trust.name))  # the trust digest's outbox rows
    for tenant_id, name in tenants:
        row = session.get(models.School, tenant_id) or models.School(id=tenant_id)
        row.name = name
        session.add(row)
    session.flush()
    for school, source in config.sources():
        account = session.get(models.Account, source.id)
        if account is not None and account.school_id != school.id:
            raise ValueError(
                f"source {source.id!r} belonged to school {account.school_id!r}; "
                "give the moved source a new id so that its history stays with its school"
            )
        account = account or models.Account(id=source.id, school_id=school.id)
        account.platform, account.name, account.lead = source.type, source.display_name, source.lead
        session.add(account)


def content_hash(item: Item) -> str:
    """Hash of what staff see (text, title, URL, author): a change is an edit."""
    return payload_sha256([item.text, item.title, item.url, item.author.display_name])


def ingest(
    session: Session, source_id: str, school_id: str, items: Iterable[Item], now: datetime
) -> IngestCounts:
    """Store new items and new versions of edited ones; the unique key absorbs repeats.

    An item the platform reports deleted keeps its stored copy (the evidence) and is marked.
    """
    batch = {item.external_id: item for item in items}
    existing = _existing(session, source_id, list(batch))
    new = edited = deleted = 0
    changed: list[int] = []
    for external_id, item in batch.items():
        row = existing.get(external_id)
        if item.deleted:
            if row is not None and row.deleted_at is None:
                row.deleted_at = now
                deleted += 1
            continue
        if row is None:
            row = _insert(session, source_id, school_id, item, now)
            new += 1
        elif row.content_sha256 != content_hash(item):
            _new_version(session, row, item, now)
            edited += 1
        else:
            continue
        changed.append(row.id)
    unchanged = len(batch) - new - edited - deleted
    return IngestCounts(new, edited, unchanged, deleted, tuple(changed))


def _existing(session: Session, source_id: str, external_ids: list[str]) -> dict[str, models.Item]:
    rows: dict[str, models.Item] = {}
    for start in range(0, len(external_ids), 500):
        chunk = external_ids[start : start + 500]
        query = select(models.Item).where(
            models.Item.source_id == source_id, models.Item.external_id.in_(chunk)
        )
        rows.update({row.external_id: row for row in session.scalars(query)})
    return rows


def _insert(
    session: Session, source_id: str, school_id: str, item: Item, now: datetime
) -> models.Item:
    row = models.Item(
        source_id=source_id,
        school_id=school_id,
        external_id=item.external_id,
        first_seen_at=now,
        version=0,
        assessed_version=0,
    )
    session.add(row)
    _new_version(session, row, item, now)
    return row


def _new_version(session: Session, row: models.Item, item: Item, now: datetime) -> None:
    row.version = (row.version or 0) + 1
    row.account, row.kind, row.url = item.account, str(item.kind), item.url
    row.author_id, row.author_handle = item.author.id, item.author.handle
    row.author_name, row.by_school, row.title = item.author.display_name, item.by_school, item.title
    row.text, row.parent_id, row.thread_id = item.text, item.parent_id, item.thread_id
    row.rating, row.created_at, row.content_sha256 = (
        item.rating,
        item.created_at,
        content_hash(item),
    )
    session.flush()
    session.add(
        models.ItemVersion(
            item_id=row.id,
            version=row.version,
            text=item.text,
            seen_at=now,
            raw_json=canonical_json(item.raw),
            raw_sha256=payload_sha256(item.raw),
        )
    )
