"""Reading the config file: TOML into the models, every problem reported at once with its path."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from monitor.config.problems import ConfigError, Problem, key_path
from monitor.config.references import (
    check_references,
    check_trust,
    pydantic_problems,
    salvage_schools,
    salvage_trust,
    school_references,
    without_removed,
)
from monitor.config.schema import OrmConfig, SourceConfig
from monitor.demo.dates import dated_feeds, demo_started_at

__all__ = ["ConfigError", "Problem", "load_config", "load_demo_config", "parse_config"]

DEMO_DIR = Path(__file__).parent.parent / "demo"
SECRET_KEY = re.compile(
    r"(password|passwd|secret|token|api_?key|webhook(_url)?|app_password)$", re.IGNORECASE
)
MAX_CONFIG_BYTES = 4 * 1024 * 1024
COMMON_SOURCE_KEYS = frozenset(SourceConfig.model_fields)


def find_literal_secrets(raw: Any, path: tuple[int | str, ...] = ()) -> list[Problem]:
    """Keys that hold a secret written into the file, where only a credential name belongs."""
    problems: list[Problem] = []
    node: Any = raw
    for part in path:
        node = node[part]
    if isinstance(node, Mapping):
        for key, value in node.items():
            here = (*path, key)
            if isinstance(key, str) and SECRET_KEY.search(key) and not isinstance(value, Mapping):
                problems.append(Problem(key_path(raw, here), _secret_message(key)))
            else:
                problems.extend(find_literal_secrets(raw, here))
    elif isinstance(node, list):
        for index in range(len(node)):
            problems.extend(find_literal_secrets(raw, (*path, index)))
    return problems


def _secret_message(key: str) -> str:
    name = key.upper()
    return (
        f"secrets are never read from the config file; remove {key!r}, set "
        f'{key}_credential = "{name}" and put the value in the environment variable {name} '
        f"or the file $CREDENTIALS_DIRECTORY/{name} (systemd LoadCredential=)"
    )


def connector_problems(raw: Any) -> list[Problem]:
    """Each source's own keys against its type's Config model, whatever else is wrong."""
    from connectors import default_registry  # connectors import config models lazily

    registry = default_registry()
    problems: list[Problem] = []
    schools = raw.get("schools") if isinstance(raw, Mapping) else None
    for i, school in enumerate(schools if isinstance(schools, list) else []):
        sources = school.get("sources") if isinstance(school, Mapping) else None
        for j, source in enumerate(sources if isinstance(sources, list) else []):
            if isinstance(source, Mapping) and isinstance(source.get("type"), str):
                problems += _connector_problems(raw, ("schools", i, "sources", j), registry)
    return problems


def _connector_problems(raw: Any, loc: tuple[int | str, ...], registry: Any) -> list[Problem]:
    source = raw["schools"][loc[1]]["sources"][loc[3]]
    try:
        connector = registry.get(source["type"])
    except KeyError as error:
        return [Problem(key_path(raw, (*loc, "type")), str(error.args[0]))]
    own = {k: v for k, v in source.items() if k not in COMMON_SOURCE_KEYS}
    try:
        connector.Config.model_validate(own)
    except ValidationError as error:
        return pydantic_problems(raw, error, loc)
    return []


def parse_config(raw: Mapping[str, Any], source: str = "config") -> OrmConfig:
    """Validate a parsed TOML document; raise ConfigError listing every problem."""
    problems = find_literal_secrets(raw) + connector_problems(raw)
    try:
        config = OrmConfig.model_validate(raw)
    except ValidationError as error:
        problems += pydantic_problems(raw, error)
        removed: set[str] = set()
        schools = salvage_schools(raw, removed)
        trust = salvage_trust(raw, removed)
        references = school_references(schools)
        references += check_trust({s.id for s in schools}, trust) if trust else []
        problems += without_removed(references, removed)
        raise ConfigError(source, _without_follow_ons(problems)) from None
    problems += check_references(config)
    if problems:
        raise ConfigError(source, _without_follow_ons(problems))
    return config


def _without_follow_ons(problems: list[Problem]) -> list[Problem]:
    """Each problem once; a literal secret's key is not also unknown, nor its credential missing."""
    secrets = {p.path for p in problems if "secrets are never read" in p.message}
    follow_ons = secrets | {f"{path}_credential" for path in secrets}
    kept: dict[tuple[str, str], Problem] = {}
    for problem in problems:
        secret = "secrets are never read" in problem.message
        if secret or problem.path not in follow_ons:
            kept.setdefault((problem.path, problem.message), problem)
    return list(kept.values())


def load_config(path: str | Path) -> OrmConfig:
    """Read and validate a TOML config file; ConfigError says every problem, with its key path."""
    path = Path(path)
    return parse_config_text(read_text_file(path, str(path)), str(path))


def read_text_file(path: Path, source: str) -> str:
    """A UTF-8 text file (a byte-order mark is allowed); ConfigError says what is wrong."""
    try:
        with path.open("rb") as file:
            data = file.read(MAX_CONFIG_BYTES + 1)
    except OSError as error:
        fix = _read_fix(error)
        raise ConfigError(
            source, [Problem("", f"cannot read {path}: {error.strerror}{fix}")]
        ) from None
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError(source, [Problem("", f"larger than {MAX_CONFIG_BYTES} bytes")])
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        message = f"not UTF-8 text (byte {error.start}, line {line}): save the file as UTF-8"
        raise ConfigError(source, [Problem("", message)]) from None


def _read_fix(error: OSError) -> str:
    if isinstance(error, FileNotFoundError):
        return (
            "; pass --config FILE or set ORM_MONITOR_CONFIG, or copy config.example.toml "
            "there (README, 'Running under systemd')"
        )
    return ""


def parse_config_text(text: str, source: str) -> OrmConfig:
    """Validate TOML text; a syntax error is reported with its line and column."""
    try:
        raw = tomllib.loads(text.removeprefix("\ufeff"))
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(source, [Problem("", f"not valid TOML: {error}")]) from None
    return parse_config(raw, source)


def load_demo_config(
    state_dir: Path,
    mastodon_url: str = "http://127.0.0.1:9",
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> OrmConfig:
    """The embedded demo: bundled feeds, SQLite and a mail directory under `state_dir`.

    `mastodon_url` is where the demo's fake Mastodon instance answers (`monitor.demo`); the
    feeds are the bundled ones dated just before the demo's first run (`monitor.demo.dates`).
    """
    text = (DEMO_DIR / "demo.toml").read_text(encoding="utf-8")
    for placeholder, value in (
        ("@DEMO_FEEDS@", dated_feeds(state_dir, demo_started_at(state_dir, clock)).as_posix()),
        ("@STATE_DIR@", state_dir.as_posix()),
        ("@FAKE_MASTODON_URL@", mastodon_url),
    ):
        text = text.replace(placeholder, value)
    return parse_config_text(text, "embedded demo config")
