"""Items per second and peak memory of each classifier profile (rules, default, fast).

Each profile runs in its own process so that its peak resident memory is its own. The texts are
the TweetEval sentiment validation tweets when ../shared/data is present, else generated posts.
`--threads N` limits torch to N cores (the targets are stated for 2).
"""

from __future__ import annotations

import argparse
import csv
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DATA = ROOT.parent / "shared" / "data" / "classifier" / "sentiment_val.csv"
PROFILES = ("rules", "default", "fast")


def texts(limit: int) -> list[str]:
    """Realistic short posts: the sentiment validation tweets, or generated ones."""
    if DATA.is_file():
        with DATA.open(newline="", encoding="utf-8") as handle:
            return [row["text"] for row in csv.DictReader(handle)][:limit]
    return [f"Post {n}: the parents' evening was a shambles, nobody answered" for n in range(limit)]


def run_one(profile: str, count: int, batch: int, threads: int) -> dict[str, float | str]:
    """Classify `count` texts in batches as the pipeline does; return the figures."""
    import torch

    from monitor.classify import build_classifier, model_layer
    from monitor.classify.base import Watchlists
    from monitor.classify.settings import ClassifierConfig

    torch.set_num_threads(threads)
    started = time.perf_counter()
    classifier = build_classifier(Watchlists(), model_layer(ClassifierConfig(profile=profile)))
    loaded = time.perf_counter() - started
    posts = texts(count)
    classifier.classify(posts[:batch])  # warm-up
    started = time.perf_counter()
    for start in range(0, len(posts), batch):
        classifier.classify(posts[start : start + batch])
    elapsed = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "profile": profile,
        "items": len(posts),
        "items_per_s": round(len(posts) / elapsed, 1),
        "load_s": round(loaded, 2),
        "peak_rss_mib": round(peak, 1),
    }


def main() -> None:
    """Run every profile in a child process and print one line each."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--profile", choices=PROFILES, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.profile:
        print(json.dumps(run_one(args.profile, args.count, args.batch, args.threads)))
        return
    for profile in PROFILES:
        command = [sys.executable, __file__, "--profile", profile, "--count", str(args.count)]
        command += ["--batch", str(args.batch), "--threads", str(args.threads)]
        out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
        figures = json.loads(out.strip().splitlines()[-1])
        print(
            f"{profile:>7}: {figures['items_per_s']:>8,.1f} items/s over {figures['items']} posts,"
            f" peak RSS {figures['peak_rss_mib']:,.0f} MiB, model load {figures['load_s']} s"
        )


if __name__ == "__main__":
    main()
