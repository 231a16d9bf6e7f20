"""What `run` needs before it starts, checked the same way by `check-config` and by `run`.

Every credential the config names, the pupil lists and their keys, the directories the service
writes, and the classifier's model files: a problem here would stop the daemon, so it stops
`check-config` first.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path

from pydantic import BaseModel
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from monitor.classify.encoder import ModelMissing, resolve
from monitor.classify.heads import SHIPPED_DIR
from monitor.config.problems import ConfigError, Problem
from monitor.config.schema import OrmConfig, SchoolConfig
from monitor.config.secrets import MissingSecret
from monitor.config.watchlist import WatchlistError, pupil_list

Secrets = Callable[[str], str]


def require_startable(config: OrmConfig, secrets: Secrets, source: str) -> None:
    """Raise ConfigError listing every reason `run` could not start with this config."""
    problems = startup_problems(config, secrets)
    if problems:
        raise ConfigError(source, problems)


def startup_problems(config: OrmConfig, secrets: Secrets) -> list[Problem]:
    """Every reason the daemon could not start: credentials, pupil lists, directories."""
    problems = missing_credentials(config, secrets)
    problems += _writable("service.state_dir", Path(config.service.state_dir))
    problems += _database_problems(config)
    for school in config.schools:
        problems += _pupil_list_problems(school, secrets)
    return problems + classifier_problems(config)


def classifier_problems(config: OrmConfig) -> list[Problem]:
    """The model files the configured profile loads: the encoder, any task models, the heads."""
    settings = config.classifier
    if settings.profile == "rules":
        return []
    wanted = [("classifier.model", settings.model)]
    wanted += [(f"classifier.models.{task}", name) for task, name in settings.models.items()]
    problems = []
    for path, model in wanted:
        try:
            resolve(model, config.service.models_dir)
        except ModelMissing as error:
            problems.append(Problem(path, str(error)))
    heads = Path(settings.heads).expanduser() if settings.heads else SHIPPED_DIR / settings.profile
    if not (heads / "manifest.json").is_file() or not (heads / "heads.npz").is_file():
        problems.append(
            Problem(
                "classifier.heads",
                f"{heads} holds no trained heads (heads.npz and manifest.json): point heads at"
                " the directory `python -m monitor.classify.train --out DIR` wrote, or leave it"
                " out for the shipped ones",
            )
        )
    return problems


def missing_credentials(config: OrmConfig, secrets: Secrets) -> list[Problem]:
    """Every credential the config names that the process cannot read."""
    problems = []
    for school in config.schools:
        path = f"schools[{school.id}]"
        problems += _channel_credentials(path, school.channels, secrets)
        for source in school.sources:
            for key, value in source.connector_settings().items():
                if key.endswith("_credential") and isinstance(value, str):
                    problems += _credential(f"{path}.sources[{source.id}].{key}", value, secrets)
    if config.trust is not None:
        problems += _channel_credentials("trust", config.trust.channels, secrets)
    for key in ("database_url_credential", "link_secret_credential"):
        name = getattr(config.service, key)
        if name:
            problems += _credential(f"service.{key}", name, secrets)
    return problems


def _channel_credentials(
    path: str, channels: Mapping[str, BaseModel], secrets: Secrets
) -> list[Problem]:
    problems = []
    for name, channel in channels.items():
        for key, value in channel.model_dump().items():
            if key.endswith("_credential") and value:
                problems += _credential(f"{path}.channels.{name}.{key}", value, secrets)
    return problems


def _credential(path: str, name: str, secrets: Secrets) -> list[Problem]:
    try:
        secrets(name)
    except MissingSecret as error:
        return [Problem(path, str(error))]
    return []


def _pupil_list_problems(school: SchoolConfig, secrets: Secrets) -> list[Problem]:
    path = f"schools[{school.id}]"
    if not school.pupil_name_hashes_file or not school.pupil_hash_key_credential:
        return []  # a list without a key credential is a reference problem, reported at load
    try:
        pupil_list(school, secrets)
    except MissingSecret as error:
        return [Problem(f"{path}.pupil_hash_key_credential", str(error))]
    except WatchlistError as error:
        return [Problem(f"{path}.pupil_name_hashes_file", str(error))]
    return []


def _database_problems(config: OrmConfig) -> list[Problem]:
    if config.service.database_url_credential:
        return []  # the URL is a secret: its credential is checked, its value never printed
    try:
        url = make_url(config.service.database_url)
    except ArgumentError:
        return [Problem("service.database_url", "not a database URL, e.g. sqlite:///path/to.db")]
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return []
    return _writable("service.database_url", Path(str(url.database)).parent)


def _writable(path: str, directory: Path) -> list[Problem]:
    """`directory` exists and this user may write in it, or may create it."""
    existing = directory.absolute()
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        return [Problem(path, f"{existing} is not a directory")]
    if not os.access(existing, os.W_OK | os.X_OK):
        where = directory if existing == directory.absolute() else existing
        return [
            Problem(
                path,
                f"{where} is not writable by this user (run check-config as the service's "
                "user, or give it the directory: systemd StateDirectory=)",
            )
        ]
    return []
