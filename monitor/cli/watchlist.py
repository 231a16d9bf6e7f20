"""`watchlist hash`: the DSL turns pupil names into keyed hashes, the only form kept."""

from __future__ import annotations

import argparse
import sys

from monitor.cli.common import Commands, UsageError, add_actions, add_command, config_from
from monitor.config.watchlist import WatchlistError, school_key, write_list


def register(commands: Commands) -> None:
    """Add `watchlist hash`."""
    group = add_command(commands, "watchlist", None, "pupil watch lists")
    hash_cmd = add_command(
        add_actions(group, "watch_command"),
        "hash",
        cmd_watchlist_hash,
        "read pupil names (one a line) on stdin, print the school's pupil list of keyed hashes",
    )
    hash_cmd.add_argument("--school", required=True, help="the school id from the config")


def cmd_watchlist_hash(args: argparse.Namespace) -> int:
    """Hash pupil names from stdin with the school's key, so that only hashes are ever stored."""
    school = config_from(args).school(args.school)
    credential = school.pupil_hash_key_credential
    if not credential:
        raise UsageError(
            f"school {school.id!r} has no pupil_hash_key_credential: make a key "
            "(openssl rand -base64 33), keep it as a credential and name it in the config "
            "(README, 'Pupil names')"
        )
    try:
        key = school_key(args.secrets(credential), school.id)
    except WatchlistError as error:
        raise UsageError(str(error)) from None
    for line in write_list(sys.stdin, key, school.id):
        print(line)
    return 0
