"""The guarded transport against hostile local servers: caps, deadlines, redirect loops, memory."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pytest

from connectors.base import Connector, FetchResult, JSONValue, PermanentError, SourceUnavailable
from connectors.transport import (
    MB,
    GuardedSession,
    Limits,
    PollDeadlineExceeded,
    ResponseTooLarge,
    TooManyRedirects,
    guarded_client,
)
from tests.support.hostile import hostile_server
from tests.support.http import LocalServer, Reply, local_server

SMALL = Limits(max_bytes=1 * MB, deadline_seconds=2, max_redirects=5)
Get = Callable[[str], Any]


def _httpx(limits: Limits) -> Get:
    return guarded_client(limits).get


def _requests(limits: Limits) -> Get:
    return GuardedSession(limits).get


CLIENTS = pytest.mark.parametrize("client", [_httpx, _requests], ids=["httpx", "requests"])


@pytest.fixture(scope="module")
def hostile() -> Iterator[str]:
    with hostile_server() as base_url:
        yield base_url


@CLIENTS
def test_a_huge_body_stops_at_the_cap_with_a_typed_error(hostile: str, client: Any) -> None:
    with pytest.raises(ResponseTooLarge, match=r"127\.0\.0\.1: response larger than 1 MB"):
        client(SMALL)(f"{hostile}/huge")


@CLIENTS
def test_a_gzip_bomb_stops_at_the_cap_once_decompressed(hostile: str, client: Any) -> None:
    with pytest.raises(ResponseTooLarge, match="larger than 1 MB once decompressed") as caught:
        client(SMALL)(f"{hostile}/bomb")
    assert isinstance(caught.value, PermanentError)


@CLIENTS
def test_a_dripping_server_is_stopped_at_the_deadline(hostile: str, client: Any) -> None:
    started = time.monotonic()
    with pytest.raises(PollDeadlineExceeded, match="longer than its 2 s deadline") as caught:
        client(SMALL)(f"{hostile}/drip")
    assert 1.9 < time.monotonic() - started < 4
    assert isinstance(caught.value, SourceUnavailable)  # retried with backoff


@CLIENTS
def test_a_redirect_loop_is_a_typed_error(hostile: str, client: Any) -> None:
    with pytest.raises(TooManyRedirects, match=r"127\.0\.0\.1: more than 5 redirects"):
        client(SMALL)(f"{hostile}/loop")


@pytest.fixture
def server() -> Iterator[LocalServer]:
    with local_server() as running:
        yield running


@CLIENTS
def test_an_ordinary_gzip_answer_arrives_inflated(server: LocalServer, client: Any) -> None:
    body = json.dumps({"items": ["a" * 1000] * 100}).encode()
    server.route("GET", "/feed", Reply(200, gzip.compress(body), {"Content-Encoding": "gzip"}))
    response = client(SMALL)(server.url("/feed"))
    assert response.status_code == 200 and response.content == body
    assert response.json()["items"][0] == "a" * 1000


def test_the_final_url_after_redirects_is_kept(server: LocalServer) -> None:
    server.route("GET", "/old", Reply(301, b"", {"Location": "/new"}))
    server.route("GET", "/new", Reply(200, b"<rss/>"))
    response = guarded_client(SMALL).get(server.url("/old"), headers={"Accept": "*/*"})
    assert str(response.url) == server.url("/new") and response.content == b"<rss/>"


def test_a_body_just_under_the_cap_is_read_whole(server: LocalServer) -> None:
    server.route("GET", "/big", Reply(200, b"x" * (MB - 1)))
    assert len(guarded_client(SMALL).get(server.url("/big")).content) == MB - 1


class TwoRequests(Connector):
    """A connector whose poll makes two requests to one URL."""

    name = "two-requests"
    title = "two requests"

    class Config(Connector.Config):
        url: str

    settings: Config

    def fetch(self, state: Mapping[str, JSONValue]) -> FetchResult:
        client = guarded_client(self.limits)
        for _ in range(2):
            client.get(self.settings.url)
        return FetchResult((), {})


def test_every_request_of_one_poll_shares_the_sources_deadline(hostile: str) -> None:
    config = TwoRequests.Config(url=f"{hostile}/drip", poll_deadline_seconds=1.5)
    source = TwoRequests("slow", config, lambda name: "")
    started = time.monotonic()
    with pytest.raises(PollDeadlineExceeded, match=r"1\.5 s deadline"):
        source.fetch({})
    assert time.monotonic() - started < 3


def test_a_sources_limits_come_from_its_config() -> None:
    config = TwoRequests.Config(url="http://x", max_response_mb=2, poll_deadline_seconds=30)
    limits = TwoRequests("s", config, lambda name: "").limits
    assert limits == Limits(max_bytes=2 * MB, deadline_seconds=30, max_redirects=5)
    assert Limits.of(TwoRequests.Config(url="http://x")).cap() == "10 MB"


PEAK_RSS = """
import json, sys
from connectors.transport import Limits, guarded_client, GuardedSession
from connectors.base import ConnectorError
client = guarded_client(Limits()) if sys.argv[2] == "httpx" else GuardedSession(Limits())
try:
    client.get(sys.argv[1]); error = None
except ConnectorError as e:
    error = str(e)
# VmHWM, not ru_maxrss: Linux carries the forking parent's peak into ru_maxrss
hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM:")][0]
peak_mb = int(hwm.split()[1]) / 1024
print(json.dumps({"error": error, "peak_mb": peak_mb}))
"""


@pytest.mark.parametrize("case", ["huge", "bomb"])
@pytest.mark.parametrize("library", ["httpx", "requests"])
def test_a_poll_of_a_huge_or_bombed_answer_stays_under_300_mb(
    hostile: str, case: str, library: str
) -> None:
    run = subprocess.run(
        [sys.executable, "-c", PEAK_RSS, f"{hostile}/{case}", library],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    result = json.loads(run.stdout)
    assert "response larger than 10 MB" in result["error"]
    assert result["peak_mb"] < 300
