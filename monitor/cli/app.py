"""`orm-monitor`: the daemon and the commands an IT lead and account manager use."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from monitor.classify.encoder import ModelMissing
from monitor.cli import check, classifier, daemon, database, digest, models, replies, watchlist
from monitor.cli.common import EXIT_CONFIG, EXIT_FAILED, UsageError, global_options
from monitor.config.loading import ConfigError
from monitor.config.secrets import MissingSecret, read_secret
from monitor.storage.engine import DatabaseError

COMMAND_GROUPS = (daemon, replies, check, database, watchlist, classifier, digest, models)
"""Each module adds its own commands, in the order `--help` lists them."""


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `orm-monitor` command."""
    args = parser().parse_args(argv)
    setup_logging(args.verbose)
    try:
        return int(args.handler(args) or 0)
    except ConfigError as error:
        print(error, file=sys.stderr)
        return EXIT_CONFIG
    except (UsageError, DatabaseError, MissingSecret, ModelMissing, KeyError) as error:
        message = error.args[0] if isinstance(error, KeyError) else error
        print(f"orm-monitor: {message}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        if args.fake_api is not None:
            args.fake_api.stop()


def parser() -> argparse.ArgumentParser:
    """The command-line interface: the options every command takes, then each command group's."""
    top = argparse.ArgumentParser(
        prog="orm-monitor", description=__doc__, parents=[global_options(top=True)]
    )
    top.set_defaults(secrets=read_secret, fake_api=None)
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in COMMAND_GROUPS:
        group.register(commands)
    return top


def setup_logging(verbose: bool) -> None:
    """Log to stderr; under systemd each record is one journal entry with its priority."""
    if "JOURNAL_STREAM" in os.environ:
        handler = logging.StreamHandler()
        handler.setFormatter(JournalFormatter("%(levelname)s %(name)s: %(message)s"))
        logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, handlers=[handler])
    else:
        fmt = "%(asctime)s %(levelname)s %(name)s: %(message)s"
        logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, format=fmt)
    for noisy in ("apscheduler", "httpx", "httpcore", "alembic", "msal"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


SYSLOG_PRIORITY = {
    logging.CRITICAL: 2,
    logging.ERROR: 3,
    logging.WARNING: 4,
    logging.INFO: 6,
    logging.DEBUG: 7,
}
"""sd-daemon(3) priority prefixes, so that `journalctl -u orm-monitor -p err` shows errors."""


class JournalFormatter(logging.Formatter):
    """One line per record, prefixed `<N>` with its syslog priority; a traceback's lines are
    joined (journald would make each line an entry of its own, at the default priority)."""

    def format(self, record: logging.LogRecord) -> str:
        priority = next((p for level, p in SYSLOG_PRIORITY.items() if record.levelno >= level), 7)
        return f"<{priority}>" + super().format(record).replace("\n", " ⏎ ")


if __name__ == "__main__":
    sys.exit(main())
