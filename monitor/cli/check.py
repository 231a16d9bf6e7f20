"""`check-config`: every problem in the config and its credentials; `--probe` tries each source."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from connectors import default_registry
from connectors.base import ConnectorError, SourceUnavailable
from monitor.cli.common import EXIT_FAILED, Commands, add_command, startable_config
from monitor.config.schema import OrmConfig
from monitor.config.secrets import read_secret
from monitor.flow.pipeline import Pipeline
from monitor.storage.engine import Database

UNREACHABLE_FIX = (
    "check that this server reaches the address (DNS, firewall, web proxy) and try again;"
    " the daemon retries it with backoff"
)


def register(commands: Commands) -> None:
    """Add `check-config`."""
    check = add_command(commands, "check-config", cmd_check_config, "validate the config")
    check.add_argument("--probe", action="store_true", help="make one real request per source")


def cmd_check_config(args: argparse.Namespace) -> int:
    """Validate the config and all that `run` needs to start; with --probe, try every source."""
    config = startable_config(args)
    sources = sum(1 for _ in config.sources())
    print(f"config OK: {len(config.schools)} school(s), {sources} source(s)")
    return probe_sources(config, args.secrets) if args.probe else 0


def probe_sources(config: OrmConfig, secrets: Callable[[str], str] = read_secret) -> int:
    """One real request per enabled source, one line each; non-zero if any failed."""
    pipeline = Pipeline(Database("sqlite://"), config, default_registry(), secrets=secrets)
    failures = 0
    for _, source in config.sources():
        try:
            line = f"ok    {source.id}: {pipeline.connector(source.id).probe()}"
        except SourceUnavailable as error:
            failures += 1  # the daemon retries; someone running a probe wants to know what to do
            line = f"FAIL  {source.id}: {error} (fix: {UNREACHABLE_FIX})"
        except ConnectorError as error:
            failures += 1
            line = f"FAIL  {source.id}: {error.one_line()}"
        print(line)
    pipeline.close()
    return EXIT_FAILED if failures else 0
