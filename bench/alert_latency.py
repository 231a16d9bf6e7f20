"""Time from a new feed entry to its alert landing in a real SMTP server (median of 10).

Runs the real daemon in-process against a feed on a local HTTP server and an aiosmtpd server,
with the source polled every 3 s. Prints two numbers per sample: end to end (entry published →
message accepted by the SMTP server, which includes waiting for the next poll) and processing
(the poll that fetched the entry → message accepted).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.http import Recorded, Reply
from tests.support.world import FEED_PATH, rss_feed, world

SAMPLES = 10
INTERVAL_MINUTES = 0.05


def main() -> None:
    """Run the samples and print the medians."""
    entries: list[tuple[str, str]] = []
    fetched_at: dict[int, float] = {}

    def feed(request: Recorded) -> Reply:
        fetched_at.setdefault(len(entries), time.perf_counter())
        return Reply(200, rss_feed(*entries), {"Content-Type": "application/rss+xml"})

    with tempfile.TemporaryDirectory() as tmp, world(Path(tmp), f"sqlite:///{tmp}/b.db") as w:
        w.feeds.route("GET", FEED_PATH, feed)
        w.raw["schools"][0]["sources"][0]["interval_minutes"] = INTERVAL_MINUTES
        w.raw["schools"][0]["routing"] = {"threat": {"notify": ["apatel"]}}
        w.raw["alerts"]["interval_seconds"] = 60  # polls wake the dispatcher themselves
        smtp = w.smtp
        service = w.service()
        service.start()
        end_to_end, processing = [], []
        try:
            time.sleep(1)
            for n in range(SAMPLES):
                before = len(smtp.messages)
                entries.append((f"g{n}", f"I will stab you after school, message {n}"))
                published = time.perf_counter()
                while len(smtp.messages) == before:
                    time.sleep(0.005)
                landed = time.perf_counter()
                end_to_end.append(landed - published)
                processing.append(landed - fetched_at[len(entries)])
                print(
                    f"sample {n + 1}: end to end {end_to_end[-1]:.3f} s, "
                    f"processing {processing[-1] * 1000:.1f} ms",
                    file=sys.stderr,
                )
        finally:
            service.stop()
    print(f"poll interval: {INTERVAL_MINUTES * 60:.0f} s")
    print(
        f"median end to end (entry published -> SMTP accepted): "
        f"{statistics.median(end_to_end):.3f} s"
    )
    print(
        f"median processing (poll -> SMTP accepted): {statistics.median(processing) * 1000:.1f} ms"
    )


if __name__ == "__main__":
    main()
