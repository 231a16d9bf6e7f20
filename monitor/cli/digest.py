"""`orm-monitor digest` and `orm-monitor incident close`: SLT's weekly report and the case log."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from monitor.cli.common import (
    EXIT_FAILED,
    Commands,
    UsageError,
    add_actions,
    add_command,
    config_from,
    current_user,
    database,
)
from monitor.config.schema import OrmConfig
from monitor.delivery.channels import ChannelCache
from monitor.delivery.dispatcher import Dispatcher
from monitor.delivery.journal import SentJournal
from monitor.digest.delivery import build, queue
from monitor.digest.render import DigestDocument
from monitor.digest.week import Week
from monitor.flow.incidents import IncidentError, close_incident
from monitor.storage.engine import Database
from monitor.storage.ingest import sync_config
from monitor.storage.models import utcnow

SUMMARY = "build the weekly ORM digest (PDF, HTML or text) and optionally send it"
EPILOG = """\
The week is an ISO week in UK time (Monday to Sunday); the default is last week. With
--school naming the trust's id ([trust] in the config), the trust's roll-up is built.
Without --out or --send, the text version is printed.

examples:
  orm-monitor digest --out digest.pdf
  orm-monitor digest --school st-marys --week 2026-W47 --out digest.html
  orm-monitor digest --school st-marys --send      # email SLT now (once per week)
"""
FORMATS = {".pdf", ".html", ".htm", ".txt"}


def register(commands: Commands) -> None:
    """Add `digest` and `incident close`."""
    _digest_arguments(add_command(commands, "digest", cmd_digest, SUMMARY))
    incident = add_command(commands, "incident", None, "the case log of serious items")
    _incident_arguments(
        add_command(
            add_actions(incident, "incident_command"),
            "close",
            cmd_incident_close,
            "close an incident with a note",
        )
    )


def _digest_arguments(command: argparse.ArgumentParser) -> None:
    """The arguments and help of `digest`."""
    command.formatter_class = argparse.RawDescriptionHelpFormatter
    command.epilog = EPILOG
    command.add_argument("--school", help="school id, or the trust's id (default: the only school)")
    command.add_argument("--week", help="ISO week, e.g. 2026-W47 (default: last week)")
    command.add_argument("--out", type=Path, help="write the digest to FILE (.pdf, .html or .txt)")
    command.add_argument(
        "--send", action="store_true", help="queue it for its recipients and deliver now"
    )


def _incident_arguments(command: argparse.ArgumentParser) -> None:
    """The arguments of `incident close`."""
    command.add_argument("incident", type=int, help="the incident number shown in the digest")
    command.add_argument("--note", required=True, help="what was done (kept in the case log)")
    command.add_argument("--by", default=current_user(), help="who closed it (default: you)")


def cmd_digest(args: argparse.Namespace) -> int:
    """Build a digest, write it and/or send it."""
    config = config_from(args)
    db = database(config, args.secrets)
    if args.out is not None and args.out.suffix.lower() not in FORMATS:
        raise UsageError(f"cannot write {args.out}: name a .pdf, .html or .txt file")
    scope = scope_of(config, args.school)
    now = utcnow()
    week = _week(args.week, now, ZoneInfo(config.service.timezone))
    with db.session() as session:
        sync_config(session, config)
    print(f"building the digest for {scope}, week {week} ({week.span()})…", file=sys.stderr)
    started = time.perf_counter()
    with db.session() as session:
        document = build(session, config, scope, week, now)
    took = time.perf_counter() - started
    if args.out is not None:
        size = _write(args.out, document)
        print(f"wrote {args.out} ({size / 1024:.0f} KiB) in {took:.1f} s")
    if args.send:
        return _send(config, db, scope, week, document, now, args.secrets)
    if args.out is None:
        print(document.text)
    return 0


def scope_of(config: OrmConfig, school: str | None) -> str:
    """The school (or trust) a digest is for: the only school when none is named."""
    if school is not None:
        config.school(school)  # KeyError names the ones configured
        return school
    if len(config.schools) == 1 and config.trust is None:
        return config.schools[0].id
    known = [s.id for s in config.schools] + ([config.trust.id] if config.trust else [])
    raise UsageError(f"name the school with --school (one of: {', '.join(known)})")


def _week(text: str | None, now: datetime, zone: ZoneInfo) -> Week:
    if text is None:
        return Week.containing(now.astimezone(zone).date()).shifted(-1)
    try:
        return Week.parse(text)
    except ValueError as error:
        raise UsageError(str(error)) from None


def _write(path: Path, document: DigestDocument) -> int:
    suffix = path.suffix.lower()
    if suffix == ".pdf":
        data = document.pdf
    else:
        data = (document.text if suffix == ".txt" else document.page).encode("utf-8")
    try:
        path.write_bytes(data)
    except OSError as error:
        raise UsageError(f"cannot write {path}: {error.strerror}") from None
    return len(data)


def _send(
    config: OrmConfig,
    db: Database,
    scope: str,
    week: Week,
    document: DigestDocument,
    now: datetime,
    secrets: Callable[[str], str],
) -> int:
    tenant = config.school(scope)
    with db.session() as session:
        queued = queue(session, tenant, week, document, now)
    if queued.digest_id is None:
        when = queued.built_at.isoformat(timespec="minutes") if queued.built_at else "earlier"
        print(f"the digest for {scope}, {week} was already sent ({when}); not sent again")
        return 0
    channels = ChannelCache(secrets)
    journal = SentJournal.in_state_dir(config.service.state_dir)
    report = Dispatcher(db, config, channels.get, journal).run_once()
    channels.close()
    print(
        f"queued for {queued.messages} recipient(s); delivered {report.delivered}, "
        f"to retry {report.retried}, failed {report.failed}"
        + (" (the running service retries the rest)" if report.retried or report.failed else "")
    )
    return 0


def cmd_incident_close(args: argparse.Namespace) -> int:
    """Close an incident with a note."""
    db = database(config_from(args), args.secrets)
    try:
        with db.session() as session:
            incident = close_incident(session, args.incident, args.by, args.note, utcnow())
            summary = incident.summary
    except IncidentError as error:
        print(f"orm-monitor: {error}", file=sys.stderr)
        return EXIT_FAILED
    print(f"incident {args.incident} closed: {summary}")
    return 0
