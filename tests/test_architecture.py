"""The shape of the code: dependencies point one way, and the core's rooms never import in a circle.

`make lint` checks the same rules as import-linter contracts (pyproject.toml); these tests say
them in plain words, name the chain of imports that breaks one, and make sure a new room of
the core cannot slip past the contracts by not being listed in them.
"""

from __future__ import annotations

import itertools
import re
import tomllib
from collections.abc import Iterable
from pathlib import Path

import grimp
import pytest

REPO = Path(__file__).resolve().parents[1]
CONTRACTS = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"][
    "importlinter"
]["contracts"]
BACK_IMPORT = re.compile(r"^\s*(from monitor\b|import monitor\b)", re.MULTILINE)


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph("monitor", "connectors", "alerts", cache_dir=None)


def rooms(graph: grimp.ImportGraph) -> list[str]:
    return sorted(graph.find_children("monitor"))


def room_edges(graph: grimp.ImportGraph) -> dict[str, set[str]]:
    """Which room imports which (any module of one importing any module of the other)."""
    names = rooms(graph)
    return {
        a: {
            b
            for b in names
            if a != b and graph.direct_import_exists(importer=a, imported=b, as_packages=True)
        }
        for a in names
    }


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One cycle in a directed graph, as the path that closes it, or None if it has none."""
    state: dict[str, str] = {}

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = "open"
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == "open":
                return [*path[path.index(nxt) :], nxt] if nxt in path else [node, nxt]
            if nxt not in state and (found := visit(nxt, [*path, nxt])):
                return found
        state[node] = "done"
        return None

    for start in sorted(edges):
        if start not in state and (found := visit(start, [start])):
            return found
    return None


def chains(graph: grimp.ImportGraph, cycle: Iterable[str]) -> list[str]:
    steps = list(cycle)
    lines = []
    for importer, imported in itertools.pairwise(steps):
        chain = graph.find_shortest_chain(importer=importer, imported=imported, as_packages=True)
        lines.append(" -> ".join(chain or (importer, imported)))
    return lines


def test_the_core_is_made_of_rooms_not_loose_modules(graph: grimp.ImportGraph) -> None:
    assert [
        m for m in rooms(graph) if not (REPO.joinpath(*m.split(".")) / "__init__.py").is_file()
    ] == []


def test_no_two_rooms_of_the_core_import_each_other_even_through_others(
    graph: grimp.ImportGraph,
) -> None:
    cycle = find_cycle(room_edges(graph))
    assert cycle is None, "rooms import in a circle:\n" + "\n".join(chains(graph, cycle or []))


def test_every_room_has_its_place_in_the_layers_contract(graph: grimp.ImportGraph) -> None:
    (layers,) = [c for c in CONTRACTS if c["type"] == "layers" and c["containers"] == ["monitor"]]
    placed = {name.strip() for layer in layers["layers"] for name in re.split(r"[|:]", layer)}
    assert {room.removeprefix("monitor.") for room in rooms(graph)} == placed


def test_connectors_and_alerts_import_nothing_from_the_core(graph: grimp.ImportGraph) -> None:
    for package in ("connectors", "alerts"):
        assert not graph.chain_exists(importer=package, imported="monitor", as_packages=True)
        for path in (REPO / package).rglob("*.py"):
            assert not BACK_IMPORT.search(path.read_text(encoding="utf-8")), path


def test_a_cycle_is_found_and_named_however_long() -> None:
    edges = {"cli": {"flow"}, "flow": {"replies"}, "replies": {"delivery"}, "delivery": {"flow"}}
    assert find_cycle(edges) == ["flow", "replies", "delivery", "flow"]
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None
