"""The demo's story happens just before its first run, whatever the day.

The bundled feeds are written as of `STORY_TIME`. The first demo command records when it ran
(`demo-started-at` in the state dir); every later one reuses that moment, so the demo's items
keep their ids and dates, and a reply window opened on the first run counts down from then.
The feeds the demo polls are copies under the state dir with every date moved by the same amount.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path

log = logging.getLogger(__name__)

BUNDLED_FEEDS = Path(__file__).parent / "feeds"
STORY_TIME = datetime(2026, 11, 23, 8, 20, tzinfo=UTC)
"""The moment the bundled feeds were written for: their newest item is five minutes older."""
STARTED_FILE = "demo-started-at"
FEEDS_DIR = "demo-feeds"

RFC822_DATE = re.compile(r"(<(pubDate|lastBuildDate)>)([^<]+)(</\2>)")
ISO_DATE = re.compile(r"(<(published|updated)>)([^<]+)(</\2>)")


def demo_started_at(state_dir: Path, clock: Callable[[], datetime]) -> datetime:
    """When the demo first ran in `state_dir` (recorded now if this is the first time)."""
    path = state_dir / STARTED_FILE
    try:
        return datetime.fromisoformat(path.read_text(encoding="utf-8").strip())
    except FileNotFoundError:
        pass
    except ValueError:
        log.warning("demo: %s is not a date; the demo starts its story again from now", path)
    started = clock().astimezone(UTC).replace(microsecond=0)
    _write(path, started.isoformat())
    return started


def dated_feeds(state_dir: Path, started: datetime) -> Path:
    """The bundled feeds with their dates moved to just before `started`; returns their folder."""
    shift = started - STORY_TIME
    folder = state_dir / FEEDS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    for feed in sorted(BUNDLED_FEEDS.glob("*.xml")):
        _write(folder / feed.name, shift_dates(feed.read_text(encoding="utf-8"), shift))
    return folder


def shift_dates(feed: str, shift: timedelta) -> str:
    """An RSS or Atom document with every item and feed date moved by `shift`."""

    def rfc822(match: re.Match[str]) -> str:
        moved = parsedate_to_datetime(match.group(3)) + shift
        return f"{match.group(1)}{format_datetime(moved.astimezone(UTC))}{match.group(4)}"

    def iso(match: re.Match[str]) -> str:
        moved = datetime.fromisoformat(match.group(3)) + shift
        return f"{match.group(1)}{moved.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}{match.group(4)}"

    return ISO_DATE.sub(iso, RFC822_DATE.sub(rfc822, feed))


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)
