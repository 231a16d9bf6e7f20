"""Feeds with giant titles: 20 entries with 1 MB of inline markup each, through the RSS parser.

    python bench/giant_titles.py

Target: under 2 s, in both forms: markup in CDATA, and markup written as entities (`&lt;b&gt;`),
whose runs of text are cut before the XML parser makes a callback per entity. Over HTTP such a
20 MB feed is refused by the default 10 MB cap before it is parsed at all.
"""

from __future__ import annotations

import html
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from connectors.rss import parse_feed

INLINE = "<b>word</b> "
MEGABYTE = 1024 * 1024


def feed(title: str) -> bytes:
    """An RSS document of 20 entries that all carry `title`."""
    entries = "".join(
        f"<item><guid>giant-{n}</guid><title>{title}</title><description>d</description></item>"
        for n in range(20)
    )
    return f'<rss version="2.0"><channel><title>Giant</title>{entries}</channel></rss>'.encode()


def seconds(document: bytes) -> float:
    """Time to parse one document (best of three)."""
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        parse_feed(document, source_url="https://feeds.example.org/feed")
        best = min(best, time.perf_counter() - started)
    return best


def main() -> None:
    """Print the parse time of each form."""
    markup = INLINE * (MEGABYTE // len(INLINE))
    cdata = seconds(feed(f"<![CDATA[{markup}]]>"))
    print(f"20 entries x 1 MB titles, CDATA markup: {cdata:.2f} s (target < 2 s)")
    escaped = seconds(feed(html.escape(markup, quote=False)))
    print(f"20 entries x 1 MB titles, entity-escaped markup: {escaped:.2f} s (target < 2 s)")


if __name__ == "__main__":
    main()
