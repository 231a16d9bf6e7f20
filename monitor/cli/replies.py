"""`due`, `respond` and `dismiss`: the 24-hour rule asked directly, and closing a reply window."""

from __future__ import annotations

import argparse
import sys

from monitor.calendar.clock import parse_received
from monitor.calendar.working_days import calendar_for, describe_due, due_at
from monitor.cli.common import (
    EXIT_FAILED,
    Commands,
    UsageError,
    add_command,
    config_from,
    current_user,
    database,
)
from monitor.replies import windows
from monitor.replies.windows import school_calendar
from monitor.storage.models import utcnow


def register(commands: Commands) -> None:
    """Add `due`, `respond` and `dismiss`."""
    due = add_command(commands, "due", cmd_due, "when a reply to an item received then is due")
    due.add_argument(
        "received", help="ISO-8601 instant, e.g. 2026-12-18T18:00 (London time if no offset)"
    )
    due.add_argument("--school", help="use this school's calendar from the config")
    due.add_argument(
        "--nation",
        choices=["england", "wales", "scotland", "northern-ireland"],
        help="use this nation's bank holidays (no config needed)",
    )
    due.add_argument(
        "--urgent",
        action="store_true",
        help="a safeguarding, threat or extremism item (calendar ignored)",
    )
    respond = add_command(commands, "respond", cmd_respond, "record that an item was answered")
    respond.add_argument("item", type=int, help="the item number shown in alerts and status")
    respond.add_argument("--note", help="what was done, for the record")
    respond.add_argument("--by", default=current_user(), help="who answered (default: you)")
    dismiss = add_command(commands, "dismiss", cmd_dismiss, "record that an item needs no reply")
    dismiss.add_argument("item", type=int, help="the item number shown in alerts and status")
    dismiss.add_argument("--reason", required=True, help="why no reply is needed")
    dismiss.add_argument("--by", default=current_user(), help="who decided (default: you)")


def cmd_due(args: argparse.Namespace) -> int:
    """Print when a reply to an item received at RECEIVED is due."""
    if args.nation and args.school:
        raise UsageError("give --school or --nation, not both")
    if args.nation:
        calendar = calendar_for(args.nation)
        hours = 24.0
    else:
        config = config_from(args)
        school = config.school(args.school) if args.school else config.schools[0]
        calendar, hours = school_calendar(school), school.reply_windows.hours
    try:
        received = parse_received(args.received)
    except ValueError as error:
        raise UsageError(str(error)) from None
    due = due_at(received, calendar, hours=hours, urgent=args.urgent)
    print(describe_due(received, due, calendar, hours=hours, urgent=args.urgent))
    return 0


def cmd_respond(args: argparse.Namespace) -> int:
    """Close an item's reply window as answered."""
    return _close_window(args, "answered", args.note)


def cmd_dismiss(args: argparse.Namespace) -> int:
    """Close an item's reply window as needing no reply."""
    return _close_window(args, "dismissed", args.reason)


def _close_window(args: argparse.Namespace, how: str, note: str | None) -> int:
    config = config_from(args)
    db = database(config, args.secrets)
    try:
        with db.session() as session:
            window = windows.close(session, args.item, how=how, by=args.by, note=note, now=utcnow())
            late = window.first_reply_at and window.first_reply_at > window.due_at
    except windows.WindowError as error:
        print(f"orm-monitor: {error}", file=sys.stderr)
        return EXIT_FAILED
    verdict = " (after its due time)" if late else ""
    print(f"item {args.item}: reply window closed as {how}{verdict}")
    return 0
