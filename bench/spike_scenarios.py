"""How spike detection behaves on a normal busy week and on a crisis (the test's scenario).

Prints, for the 168 hourly checks of a normal week after a week of history, the highest
recent count and its ratio to the threshold; then each check during and after a burst of 40
negative items in two hours, and how many "possible crisis" alerts were queued.
"""

from __future__ import annotations

import random
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from monitor.flow.spikes import SpikeWatch
from monitor.storage.engine import Database
from monitor.storage.ingest import sync_config
from tests.monitor.flow.test_surges import _busy_hour, _insert, _spikes
from tests.support.clock import Clock
from tests.support.config import build, raw_config, rss_source


def main() -> None:
    """Run both scenarios and print what the checks saw."""
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite:///{tmp}/spikes.db")
        db.upgrade()
        config = build(raw_config(database_url=db.url, sources=[rss_source("https://e.org/f")]))
        with db.session() as session:
            sync_config(session, config)
        rng = random.Random(2026)
        start = datetime(2026, 11, 2, tzinfo=UTC)
        moments = []
        for hour in range(14 * 24):
            at = start + timedelta(hours=hour)
            moments += [
                at + timedelta(minutes=rng.randint(0, 59)) for _ in range(_busy_hour(at, rng))
            ]
        _insert(db, moments)
        print(f"two weeks of negative chatter: {len(moments)} items")
        clock = Clock(start + timedelta(days=7))
        watch = SpikeWatch(db, config, clock=clock)
        normal = []
        for _ in range(7 * 24):
            clock.advance(hours=1)
            normal.append(watch.check()["st-marys"])
        worst = max(normal, key=lambda v: v.recent / v.threshold)
        print(
            f"normal week: 168 checks, {sum(v.spike for v in normal)} above threshold, "
            f"{_spikes(db)} alerts; busiest 3 h: {worst.recent} items against a threshold "
            f"of {worst.threshold:.1f} (mean {worst.mean:.1f}, sd {worst.sd:.1f})"
        )
        burst = clock.now
        _insert(db, [burst + timedelta(minutes=3 * n) for n in range(40)])
        for hour in range(1, 13):
            clock.advance(hours=1)
            v = watch.check()["st-marys"]
            print(
                f"crisis +{hour:2d} h: recent {v.recent:3d}, threshold {v.threshold:5.1f}, "
                f"spike {v.spike!s:5}, alerts so far {_spikes(db)}"
            )
        db.dispose()


if __name__ == "__main__":
    main()
