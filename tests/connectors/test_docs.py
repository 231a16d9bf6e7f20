"""The configuration shown in each connector's documentation is accepted as it stands."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from connectors import BUILTIN_CONNECTORS
from tests.support.config import build, raw_config

DOCS = Path(__file__).resolve().parents[2] / "docs" / "connectors"
TOML_BLOCK = re.compile(r"```toml\n(.*?)```", re.DOTALL)


def test_every_platform_connector_has_a_setup_guide() -> None:
    documented = {path.stem for path in DOCS.glob("*.md")}
    assert documented == set(BUILTIN_CONNECTORS) - {"rss"}  # rss: in README


@pytest.mark.parametrize("doc", sorted(DOCS.glob("*.md")), ids=lambda p: p.stem)
def test_the_documented_source_config_is_valid(doc: Path) -> None:
    blocks = [tomllib.loads(block) for block in TOML_BLOCK.findall(doc.read_text("utf-8"))]
    sources = [source for block in blocks for source in block.get("schools", {}).get("sources", [])]
    assert sources, f"{doc.name} shows no [[schools.sources]] example"
    for source in sources:
        source["lead"] = "jsmith"
        config = build(raw_config(database_url="sqlite://", sources=[source]))
        assert config.schools[0].sources[0].type == doc.stem
