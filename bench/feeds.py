"""Parsing throughput of the RSS connector over a directory of feed files (a corpus).

    python bench/feeds.py CORPUS_DIR [--repeat N]

Every file under CORPUS_DIR (recursively, `*.headers` excepted) goes through the connector's
parse path as if a server had sent it; a sibling `NAME.headers` file (JSON object) holds the
response headers it came with (Content-Type, Content-Location). Prints feeds/s, items/s, the
items produced, how many files were refused as not a feed (a typed PermanentError), and how
many raised anything else (a crash: a bug).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from connectors.base import ConnectorError
from connectors.rss import parse_feed


def corpus(directory: Path) -> list[tuple[Path, bytes, dict[str, str]]]:
    """Each feed file's path, bytes and response headers, in a stable order."""
    feeds = []
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        if path.suffix == ".headers":
            continue
        sidecar = path.with_name(path.name + ".headers")
        headers = json.loads(sidecar.read_text()) if sidecar.exists() else {}
        feeds.append((path, path.read_bytes(), headers))
    return feeds


def parse_one(content: bytes, headers: dict[str, str], url: str) -> int:
    """Items the connector reads from one response (older versions took no headers)."""
    try:
        return len(parse_feed(content, source_url=url, headers=headers))
    except TypeError:
        return len(parse_feed(content, source_url=url))


def run(feeds: list[tuple[Path, bytes, dict[str, str]]]) -> dict[str, Any]:
    """Parse every feed once; outcomes counted, crashes named."""
    outcome: Counter[str] = Counter()
    crashes: list[str] = []
    started = time.perf_counter()
    for path, content, headers in feeds:
        url = headers.get("X-Source-URL", "https://feeds.example.org/" + path.name)
        try:
            outcome["items"] += parse_one(content, headers, url)
            outcome["feeds read"] += 1
        except ConnectorError:
            outcome["refused (not a feed)"] += 1
        except Exception as error:  # a crash is what this counts
            outcome["crashes"] += 1
            crashes.append(f"{path.name}: {type(error).__name__}: {error}"[:200])
    return {"seconds": time.perf_counter() - started, "outcome": outcome, "crashes": crashes}


def main() -> None:
    """Parse the corpus `--repeat` times and print throughput and outcomes."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    feeds = corpus(args.corpus)
    results = [run(feeds) for _ in range(args.repeat)]
    best = min(results, key=lambda result: result["seconds"])
    seconds, outcome = best["seconds"], best["outcome"]
    print(f"{len(feeds)} files, {sum(len(c) for _, c, _ in feeds) / 1e6:.1f} MB")
    rates = f"{len(feeds) / seconds:.0f} feeds/s, {outcome['items'] / seconds:.0f} items/s"
    print(f"{seconds:.2f} s: {rates}")
    for key in ("items", "feeds read", "refused (not a feed)", "crashes"):
        print(f"{key}: {outcome[key]}")
    for line in best["crashes"][:20]:
        print("  crash:", line)
    sys.exit(0)


if __name__ == "__main__":
    main()
