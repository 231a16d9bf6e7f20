"""The demo's story happens just before its first run, on any day it is tried."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import feedparser
import pytest

from monitor.cli.app import main
from monitor.config.loading import load_demo_config
from monitor.demo.dates import STORY_TIME, demo_started_at, shift_dates

FIRST_RUN = datetime(2031, 3, 5, 10, 0, tzinfo=UTC)


def _entry_times(feed: Path) -> list[datetime]:
    parsed = feedparser.parse(feed.read_bytes())
    stamps = [entry.get("published_parsed") or entry.updated_parsed for entry in parsed.entries]
    return [datetime(*stamp[:6], tzinfo=UTC) for stamp in stamps]


def test_the_feeds_the_demo_polls_end_five_minutes_before_its_first_run(tmp_path: Path) -> None:
    config = load_demo_config(tmp_path, clock=lambda: FIRST_RUN)
    feeds = [
        Path(source.url.removeprefix("file://"))  # type: ignore[union-attr]
        for source in config.schools[0].sources
        if source.type == "rss"
    ]
    assert {feed.name for feed in feeds} == {"blog-comments.xml", "google-alerts.xml"}
    times = [when for feed in feeds for when in _entry_times(feed)]
    assert len(times) == 8
    assert max(times) == FIRST_RUN - timedelta(minutes=5)
    assert min(times) > FIRST_RUN - timedelta(hours=24)
    assert all(feed.parent == tmp_path / "demo-feeds" for feed in feeds)


def test_later_commands_keep_the_first_runs_dates(tmp_path: Path) -> None:
    first = demo_started_at(tmp_path, lambda: FIRST_RUN)
    later = demo_started_at(tmp_path, lambda: FIRST_RUN + timedelta(days=40))
    assert first == later == FIRST_RUN
    load_demo_config(tmp_path, clock=lambda: FIRST_RUN + timedelta(days=40))
    blog = _entry_times(tmp_path / "demo-feeds" / "blog-comments.xml")
    assert max(blog) == FIRST_RUN - timedelta(minutes=5)


def test_an_unreadable_start_date_starts_the_story_again(tmp_path: Path) -> None:
    (tmp_path / "demo-started-at").write_text("last Tuesday", encoding="utf-8")
    assert demo_started_at(tmp_path, lambda: FIRST_RUN) == FIRST_RUN
    assert demo_started_at(tmp_path, lambda: STORY_TIME) == FIRST_RUN


def test_rss_and_atom_dates_move_by_the_same_amount() -> None:
    rss = "<pubDate>Mon, 23 Nov 2026 07:45:00 +0000</pubDate><lastBuildDate>Mon, 23 Nov 2026"
    moved = shift_dates(rss + " 08:10:00 GMT</lastBuildDate>", timedelta(days=1, minutes=1))
    assert moved == (
        "<pubDate>Tue, 24 Nov 2026 07:46:00 +0000</pubDate>"
        "<lastBuildDate>Tue, 24 Nov 2026 08:11:00 +0000</lastBuildDate>"
    )
    atom = "<published>2026-11-22T18:30:00Z</published><updated>2026-11-22T18:30:00Z</updated>"
    assert shift_dates(atom, timedelta(hours=-19)) == (
        "<published>2026-11-21T23:30:00Z</published><updated>2026-11-21T23:30:00Z</updated>"
    )


def test_only_commands_that_poll_start_the_fake_mastodon_instance(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="monitor.demo")
    assert main(["--demo", "--state-dir", str(tmp_path), "check-config"]) == 0
    assert main(["--demo", "--state-dir", str(tmp_path), "db", "upgrade"]) == 0
    assert "fake Mastodon instance answers" not in caplog.text
    assert main(["--demo", "--state-dir", str(tmp_path), "poll", "demo-mastodon", "--dry-run"]) == 0
    assert "fake Mastodon instance answers" in caplog.text
