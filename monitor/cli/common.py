"""What every command shares: the configuration it runs on, the database, exit codes, errors."""

from __future__ import annotations

import argparse
import logging
import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeAlias

from sqlalchemy.engine import make_url

from monitor.config.loading import load_config, load_demo_config
from monitor.config.problems import ConfigError, Problem
from monitor.config.schema import OrmConfig
from monitor.config.secrets import read_secret
from monitor.config.startup import require_startable
from monitor.demo.dates import demo_started_at
from monitor.demo.fake_mastodon import FakeMastodon, demo_secrets
from monitor.storage.engine import Database, database_url

DEFAULT_CONFIG = Path("/etc/orm-monitor/config.toml")
EXIT_FAILED = 1
"""A runtime failure: a source unreachable, a database error, nothing to do."""
EXIT_CONFIG = 2
"""A configuration error (or a command line that cannot be carried out as written)."""

Commands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"
"""The `add_subparsers()` group a command joins."""
Handler = Callable[[argparse.Namespace], int]


class UsageError(Exception):
    """A problem the user fixes by changing the command line or the environment."""


def global_options(*, top: bool = False) -> argparse.ArgumentParser:
    """The options every command takes, before or after its name (`check-config --config x`).

    Only the top-level parser sets their defaults; a (sub)command's parser leaves an option it
    was not given alone (SUPPRESS), so one given before the command keeps its value.
    """

    def given(value: object) -> object:
        return value if top else argparse.SUPPRESS

    options = argparse.ArgumentParser(add_help=False)
    options.add_argument(
        "--config",
        type=Path,
        default=given(None),
        help=f"config file (default: $ORM_MONITOR_CONFIG, then {DEFAULT_CONFIG})",
    )
    options.add_argument(
        "--demo",
        action="store_true",
        default=given(False),
        help="use the embedded demo config (bundled feeds, SQLite and mail in ./var)",
    )
    options.add_argument(
        "--state-dir",
        type=Path,
        default=given(Path("var")),
        help="where the demo keeps its database and mail (default: ./var)",
    )
    options.add_argument(
        "-v", "--verbose", action="store_true", default=given(False), help="debug logging"
    )
    return options


def add_command(
    group: Commands, name: str, handler: Handler | None, help_text: str
) -> argparse.ArgumentParser:
    """A (sub)command whose `handler(args)` runs it; None for a group of actions."""
    command: argparse.ArgumentParser = group.add_parser(
        name, help=help_text, description=help_text, parents=[global_options()]
    )
    command.set_defaults(handler=handler)
    return command


def add_actions(command: argparse.ArgumentParser, dest: str) -> Commands:
    """The actions of a command group (`db upgrade`, `classifier eval`, …): one is required."""
    return command.add_subparsers(dest=dest, required=True, metavar="ACTION")


def config_from(args: argparse.Namespace) -> OrmConfig:
    """The config named on the command line, in the environment, or the default path."""
    config = _load(args)
    if not args.verbose:
        logging.getLogger().setLevel(config.service.log_level)
    return config


def config_if_any(args: argparse.Namespace) -> OrmConfig | None:
    """The config, when one is named or installed; None where the command can do without."""
    named = args.demo or args.config or os.environ.get("ORM_MONITOR_CONFIG")
    return config_from(args) if named or DEFAULT_CONFIG.exists() else None


def _load(args: argparse.Namespace) -> OrmConfig:
    if args.demo:
        return _demo_config(args)
    path = _config_path(args)
    if path is None:
        raise ConfigError(
            "orm-monitor",
            [
                Problem(
                    "",
                    f"no configuration at {DEFAULT_CONFIG}: pass --config FILE, set "
                    "ORM_MONITOR_CONFIG, or try the bundled demo with --demo",
                )
            ],
        )
    return load_config(path)


def _config_path(args: argparse.Namespace) -> Path | None:
    named = args.config or os.environ.get("ORM_MONITOR_CONFIG")
    if named:
        return Path(named)
    return DEFAULT_CONFIG if DEFAULT_CONFIG.exists() else None


def config_name(args: argparse.Namespace) -> str:
    """How messages name the config in use: its path, or the embedded demo."""
    return "embedded demo config" if args.demo else str(_config_path(args) or DEFAULT_CONFIG)


def startable_config(args: argparse.Namespace) -> OrmConfig:
    """The config, with all that `run` needs to start checked (what `check-config` checks)."""
    config = config_from(args)
    require_startable(config, args.secrets, config_name(args))
    return config


NOT_POLLED = "the demo's fake Mastodon instance runs only for commands that poll"


def _demo_config(args: argparse.Namespace) -> OrmConfig:
    """The embedded demo; its fake Mastodon instance starts only for a command that polls."""
    state_dir = args.state_dir.resolve()
    if not (getattr(args, "polls", False) or getattr(args, "probe", False)):
        args.secrets = demo_secrets(NOT_POLLED, read_secret)
        return load_demo_config(state_dir)
    started = demo_started_at(state_dir, lambda: datetime.now(UTC))
    args.fake_api = FakeMastodon(clock=lambda: started).start()
    args.secrets = args.fake_api.secrets(read_secret)
    return load_demo_config(state_dir, mastodon_url=args.fake_api.url)


def database(config: OrmConfig, secrets: Callable[[str], str]) -> Database:
    """The service's database, migrated (its URL may come from a credential)."""
    db = Database(database_url(config, secrets))
    db.upgrade()
    return db


def database_as_is(config: OrmConfig, secrets: Callable[[str], str]) -> Database:
    """The service's database for a command that only reads: never created nor migrated."""
    url = database_url(config, secrets)
    parsed = make_url(url)
    file = parsed.database if parsed.get_backend_name() == "sqlite" else None
    if file not in (None, "", ":memory:") and not Path(str(file)).exists():
        raise UsageError(
            f"there is no database at {file} yet: start the service or run `orm-monitor db upgrade`"
        )
    db = Database(url)
    pending = db.pending_migration()
    if pending is not None:
        db.dispose()
        raise UsageError(f"the database needs `orm-monitor db upgrade`: {pending}")
    return db


def current_user() -> str:
    """Who is running the command (the person behind sudo, if any): the default `--by`."""
    return os.environ.get("SUDO_USER") or os.environ.get("USER") or "unknown"
