"""`db upgrade`: migrate the database (the daemon also does it on start)."""

from __future__ import annotations

import argparse

from monitor.cli.common import Commands, add_actions, add_command, config_from, database


def register(commands: Commands) -> None:
    """Add `db upgrade`."""
    actions = add_actions(add_command(commands, "db", None, "database maintenance"), "db_command")
    add_command(actions, "upgrade", cmd_db_upgrade, "migrate the database to the newest schema")


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    """Migrate the database."""
    database(config_from(args), args.secrets)
    print("database is at the newest schema")
    return 0
