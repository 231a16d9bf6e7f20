"""Resident memory of the demo daemon once it has polled, alerted and gone idle."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

IDLE_SECONDS = 20


def rss_mib(pid: int) -> float:
    """VmRSS of a process in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def main() -> None:
    """Start the demo daemon, wait for its alerts, let it idle, print its memory."""
    with tempfile.TemporaryDirectory() as tmp:
        daemon = subprocess.Popen(
            [sys.executable, "-m", "monitor.cli", "--demo", "--state-dir", tmp, "run"],
            stderr=subprocess.DEVNULL,
        )
        try:
            mail = Path(tmp) / "mail" / "new"
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and not (mail.exists() and any(mail.iterdir())):
                time.sleep(0.2)
            alerts = len(list(mail.iterdir())) if mail.exists() else 0
            time.sleep(IDLE_SECONDS)
            print(f"alerts written by the demo: {alerts}")
            print(f"resident memory after {IDLE_SECONDS} s idle: {rss_mib(daemon.pid):.1f} MiB")
        finally:
            daemon.terminate()
            daemon.wait(timeout=60)


if __name__ == "__main__":
    main()
