"""Hostile servers against one real poll: behaviour, time and peak memory per case.

Each case is one Mastodon source (default limits) polled in a fresh subprocess against a
local server that sends a 200 MB body, a gzip bomb (1 GiB inflated), a byte a second, or a
redirect loop. `--tree DIR` polls with the code of another checkout (e.g. an older commit
in a git worktree) to compare before and after.

    .venv/bin/python bench/hostile.py [--tree /tmp/old14] [--kill-after 90]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.hostile import hostile_server  # noqa: E402

CASES = {
    "huge": "200 MB body",
    "bomb": "gzip bomb (1 GiB inflated)",
    "drip": "drip (1 byte/s)",
    "loop": "redirect loop",
}

POLL = """
import json, sys, time
from connectors.mastodon import MastodonConnector
config = MastodonConnector.Config(
    api_base_url=sys.argv[1], account_id="1", access_token_credential="T"
)
source = MastodonConnector("bench", config, lambda name: "token")
started = time.monotonic()
try:
    result = source.fetch({})
    outcome = f"{len(result.items)} items"
except Exception as error:
    outcome = f"{type(error).__name__}: {str(error)[:90]}"
# VmHWM, not ru_maxrss: Linux carries the forking parent's peak into ru_maxrss
hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM:")][0]
peak = int(hwm.split()[1]) / 1024
print(json.dumps({"outcome": outcome, "seconds": time.monotonic() - started, "peak_mb": peak}))
"""


def run_case(tree: Path, mode: str, kill_after: float) -> dict[str, object]:
    """Poll once against a server misbehaving as `mode`, in a subprocess on `tree`'s code."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    with hostile_server(mode) as base_url:
        started = time.monotonic()
        try:
            done = subprocess.run(
                [sys.executable, "-c", POLL, base_url],
                cwd=tree,
                env=env,
                capture_output=True,
                text=True,
                timeout=kill_after,
            )
        except subprocess.TimeoutExpired:
            return {
                "outcome": f"still polling after {kill_after:g} s (killed)",
                "seconds": time.monotonic() - started,
                "peak_mb": None,
            }
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["?"])[-1]
        return {
            "outcome": f"process died ({done.returncode}): {last[:80]}",
            "seconds": time.monotonic() - started,
            "peak_mb": None,
        }
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    """Run every case and print a table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", type=Path, default=ROOT, help="checkout whose code polls")
    parser.add_argument("--kill-after", type=float, default=90, help="seconds before a kill")
    args = parser.parse_args()
    print(f"code: {args.tree}")
    print(f"{'case':28} {'time s':>7} {'peak MB':>8}  behaviour")
    for mode, title in CASES.items():
        row = run_case(args.tree.resolve(), mode, args.kill_after)
        peak = row["peak_mb"]
        peak_text = f"{peak:8.0f}" if isinstance(peak, float | int) else f"{'-':>8}"
        print(f"{title:28} {row['seconds']:7.1f} {peak_text}  {row['outcome']}", flush=True)


if __name__ == "__main__":
    main()
