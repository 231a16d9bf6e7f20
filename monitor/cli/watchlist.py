"""`watchlist hash`: the DSL turns pupil names into the only form orm-monitor keeps, hashes."""

from __future__ import annotations

import argparse
import sys

from monitor.classify.rules import hash_name
from monitor.cli.common import Commands, add_actions, add_command


def register(commands: Commands) -> None:
    """Add `watchlist hash`."""
    group = add_command(commands, "watchlist", None, "pupil watch lists")
    hash_cmd = add_command(
        add_actions(group, "watch_command"),
        "hash",
        cmd_watchlist_hash,
        "read pupil names (one a line) on stdin, print their hashes",
    )
    hash_cmd.add_argument("--school", required=True, help="the school id (the hashes' salt)")


def cmd_watchlist_hash(args: argparse.Namespace) -> int:
    """Hash pupil names from stdin so that only hashes are ever stored."""
    for line in sys.stdin:
        if line.strip():
            print(hash_name(line, args.school))
    return 0
