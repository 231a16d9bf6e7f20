"""Throughput of the default (rules) classifier on short and long school posts."""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from monitor.classify import build_classifier
from monitor.classify.base import Watchlists
from monitor.classify.rules import hash_name

SHORT = (
    "Does anyone know when the gates open? Mrs Patel was brilliant, thanks! "
    "Call 07700 900{n:03d} or I'll kill you"
)
LONG = ("The parents' evening was a shambles and nobody answered my emails. " * 9) + "{n}"


def posts_per_second(texts: list[str], watchlists: Watchlists) -> float:
    """Best of three runs over `texts`."""
    classifier = build_classifier(watchlists)
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        classifier.classify(texts)
        best = min(best, time.perf_counter() - started)
    return len(texts) / best


def main() -> None:
    """Print posts per second for each case."""
    started = time.perf_counter()
    build_classifier(Watchlists())
    print(f"first build (lexicons compiled): {time.perf_counter() - started:.2f} s")
    pupils = frozenset(hash_name(f"Pupil{n} Surname{n}", b"s") for n in range(500))
    school = Watchlists(
        school_names=("St Mary's",),
        staff_names=("Mrs Patel",),
        pupil_name_hashes=pupils,
        pupil_hash_key=b"s",
    )
    short = [SHORT.format(n=n % 1000) for n in range(1000)]
    long = [LONG.format(n=n) for n in range(200)]
    print(f"short posts, no watch lists: {posts_per_second(short, Watchlists()):,.0f} posts/s")
    print(f"short posts, 500 pupil hashes: {posts_per_second(short, school):,.0f} posts/s")
    print(f"~600-character posts: {posts_per_second(long, school):,.0f} posts/s")


if __name__ == "__main__":
    main()
