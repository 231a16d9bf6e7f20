"""Four sources that drip until their poll deadline do not stop the other sources' polls."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from monitor.service.daemon import Service
from tests.connectors.test_mastodon import INSTANCE, OWN, SCHOOL_ID, serve_fixtures
from tests.support.config import build, raw_config
from tests.support.hostile import hostile_server
from tests.support.http import LocalServer, Reply, local_server

DEADLINE = 15


def mastodon(source_id: str, base_url: str) -> dict[str, Any]:
    """A Mastodon source on the instance at `base_url`, with a short poll deadline."""
    return {
        "id": source_id,
        "type": "mastodon",
        "name": source_id,
        "lead": "jsmith",
        "api_base_url": base_url,
        "account_id": SCHOOL_ID,
        "access_token_credential": "MASTODON_TOKEN",
        "poll_deadline_seconds": DEADLINE,
    }


@pytest.fixture
def instance() -> Iterator[LocalServer]:
    with local_server() as running:
        running.route("GET", INSTANCE, Reply(200, {}))
        serve_fixtures(running)
        yield running


def test_four_dripping_sources_leave_the_other_sources_polling(
    tmp_path: Path, instance: LocalServer
) -> None:
    with hostile_server("drip") as dripping:
        sources = [mastodon(f"slow-{n}", dripping) for n in range(4)]
        sources.append(mastodon("healthy", instance.base_url))  # first polled 8 s after start
        raw = raw_config(database_url=f"sqlite:///{tmp_path / 'orm.db'}", sources=sources)
        raw["service"]["state_dir"] = str(tmp_path)
        service = Service(build(raw), secrets=lambda name: "token")
        started = time.monotonic()
        service.start()
        try:
            while not instance.requests_to(OWN) and time.monotonic() - started < DEADLINE:
                time.sleep(0.2)
            polled_after = time.monotonic() - started
        finally:
            service.stop()
    # the four slow polls hold a worker each until their 15 s deadline: the healthy source
    # must not wait for them
    assert instance.requests_to(OWN), "the healthy source was never polled"
    assert polled_after < DEADLINE - 1
