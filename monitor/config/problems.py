"""Configuration problems and the key paths they name: ids, not positions."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Problem:
    """One configuration error with the key path it is about."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class ConfigError(Exception):
    """The configuration cannot be used; `problems` lists every reason."""

    def __init__(self, source: str, problems: list[Problem]) -> None:
        self.source = source
        self.problems = problems
        lines = "\n".join(f"  {p}" for p in problems)
        super().__init__(f"{source}: {len(problems)} problem(s) in the configuration:\n{lines}")


def key_path(raw: Any, loc: Sequence[int | str]) -> str:
    """`schools[st-marys].sources[fb-page].lead`: a location in the document, items by their id.

    A list item without an id keeps its position (`closures[2]`); the tag pydantic adds when it
    steps into a channel of a given type (`channels.teams.teams.webhook_url`) is left out.
    """
    parts: list[str] = []
    node = raw
    for part in loc:
        if isinstance(node, Mapping) and part not in node and node.get("type") == part:
            continue
        if isinstance(part, int):
            node = node[part] if isinstance(node, list) and 0 <= part < len(node) else None
            label = _item_id(node) or str(part)
            parts[-1:] = [f"{parts[-1] if parts else ''}[{label}]"]
        else:
            node = node.get(part) if isinstance(node, Mapping) else None
            parts.append(str(part))
    return ".".join(parts)


def _item_id(node: Any) -> str | None:
    ident = node.get("id") if isinstance(node, Mapping) else None
    return ident if isinstance(ident, str) and ident else None


def at(*parts: tuple[str, str] | str) -> str:
    """A key path from names and (list, id) pairs: `at(("schools", "st-marys"), "lead")`."""
    return ".".join(f"{p[0]}[{p[1]}]" if isinstance(p, tuple) else p for p in parts)
