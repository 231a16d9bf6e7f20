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

from monitor.service import Service
from tests.support.config import build, raw_config, rss_source
from tests.support.http import Recorded, Reply, local_server
from tests.support.smtp import smtp_server
from tests.support.world import rss_feed

SAMPLES = 10
INTERVAL_MINUTES = 0.05


def main() -> None:
    """Run the samples and print the medians."""
    entries: list[tuple[str, str]] = []
    fetched_at: dict[int, float] = {}

    def feed(request: Recorded) -> Reply:
        fetched_at.setdefault(len(entries), time.perf_counter())
        return Reply(200, rss_feed(*entries), {"Content-Type": "application/rss+xml"})

    with tempfile.TemporaryDirectory() as tmp, local_server() as feeds, smtp_server() as smtp:
        feeds.route("GET", "/feed.xml", feed)
        raw = raw_config(
            database_url=f"sqlite:///{tmp}/bench.db",
            sources=[rss_source(feeds.url("/feed.xml"), interval_minutes=INTERVAL_MINUTES)],
            channels={
                "email": {
                    "type": "smtp",
                    "host": smtp.host,
                    "port": smtp.port,
                    "security": "none",
                    "from_address": "alerts@school.example",
                }
            },
            routing={"threat": {"notify": ["apatel"]}},
        )
        raw["service"]["state_dir"] = tmp
        raw["alerts"]["interval_seconds"] = 60  # polls wake the dispatcher themselves
        service = Service(build(raw))
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
