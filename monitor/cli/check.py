"""`check-config`: every problem in the config and its credentials; `--probe` tries each source."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Mapping

from pydantic import BaseModel

from connectors import default_registry
from connectors.base import ConnectorError, SourceUnavailable
from monitor.cli.common import EXIT_CONFIG, EXIT_FAILED, Commands, add_command, config_from
from monitor.config.loading import Problem
from monitor.config.schema import OrmConfig
from monitor.config.secrets import MissingSecret, read_secret
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
    """Validate the config (and credentials); with --probe, try every source once."""
    config = config_from(args)
    problems = missing_credentials(config, args.secrets)
    for problem in problems:
        print(problem, file=sys.stderr)
    sources = sum(1 for _ in config.sources())
    if problems:
        print(f"{len(problems)} problem(s)", file=sys.stderr)
        return EXIT_CONFIG
    print(f"config OK: {len(config.schools)} school(s), {sources} source(s)")
    return probe_sources(config, args.secrets) if args.probe else 0


def missing_credentials(
    config: OrmConfig, secrets: Callable[[str], str] = read_secret
) -> list[Problem]:
    """Every credential the config names that the process cannot read."""
    problems = []
    for i, school in enumerate(config.schools):
        problems += _channel_credentials(f"schools.{i}", school.channels, secrets)
        for j, source in enumerate(school.sources):
            for key, value in source.connector_settings().items():
                if key.endswith("_credential") and isinstance(value, str):
                    problems += _credential(f"schools.{i}.sources.{j}.{key}", value, secrets)
    if config.trust is not None:
        problems += _channel_credentials("trust", config.trust.channels, secrets)
    if config.service.database_url_credential:
        problems += _credential(
            "service.database_url_credential", config.service.database_url_credential, secrets
        )
    return problems


def _channel_credentials(
    path: str, channels: Mapping[str, BaseModel], secrets: Callable[[str], str]
) -> list[Problem]:
    problems = []
    for name, channel in channels.items():
        for key, value in channel.model_dump().items():
            if key.endswith("_credential") and value:
                problems += _credential(f"{path}.channels.{name}.{key}", value, secrets)
    return problems


def _credential(path: str, name: str, secrets: Callable[[str], str]) -> list[Problem]:
    try:
        secrets(name)
    except MissingSecret as error:
        return [Problem(path, str(error))]
    return []


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
