"""Shared parts of the connector contract: network errors said in a few words."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Mapping

import httpx
import pytest
import requests

from connectors.base import AuthError, Connector, FetchResult, JSONValue, network_reason
from monitor.config.secrets import MissingSecret


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_refused_connection_through_requests_and_httpx_reads_the_same() -> None:
    url = f"http://127.0.0.1:{_closed_port()}/v25.0/1/feed?access_token=SECRET"
    with pytest.raises(requests.ConnectionError) as by_requests:
        requests.get(url, timeout=5)
    with pytest.raises(httpx.ConnectError) as by_httpx:
        httpx.get(url, timeout=5)
    assert network_reason(by_requests.value) == "connection refused"
    assert network_reason(by_httpx.value) == "connection refused"


def _wrapped(inner: BaseException) -> requests.ConnectionError:
    try:
        try:
            raise inner
        except OSError as error:
            raise requests.ConnectionError("HTTPSConnectionPool(host=...) ?token=SECRET") from error
    except requests.ConnectionError as outer:
        return outer


@pytest.mark.parametrize(
    "inner, reason",
    [
        (
            socket.gaierror(-2, "Name or service not known"),
            "the host name does not resolve (DNS, or no route to the internet)",
        ),
        (TimeoutError("timed out"), "timed out"),
        (ssl.SSLCertVerificationError(1, "certificate verify failed"), "TLS failed ("),
        (OSError(101, "Network is unreachable"), "network is unreachable"),
    ],
)
def test_the_innermost_cause_is_named_and_the_url_is_not(inner: OSError, reason: str) -> None:
    said = network_reason(_wrapped(inner))
    assert said.startswith(reason) and "SECRET" not in said


def test_an_error_without_a_network_cause_is_named_by_its_type() -> None:
    assert network_reason(ValueError("x")) == "ValueError"


class _Quiet(Connector):
    """A connector that only reads its credential."""

    name = "quiet"

    def fetch(self, state: Mapping[str, JSONValue]) -> FetchResult:
        return FetchResult((), {})


def _connector(secrets: dict[str, str]) -> _Quiet:
    def read(name: str) -> str:
        if name not in secrets:
            raise MissingSecret(f"credential {name!r} is not set: export {name}=...")
        return secrets[name]

    return _Quiet("quiet-1", _Quiet.Config(), read)


def test_a_credential_is_read_without_surrounding_whitespace() -> None:
    assert _connector({"TOKEN": " abc \n"}).credential("TOKEN", "X bearer token", "x.md") == "abc"


@pytest.mark.parametrize(
    ("secrets", "message"),
    [
        ({}, "the X bearer token credential TOKEN is not available"),
        ({"TOKEN": "  "}, "the X bearer token credential TOKEN is empty"),
    ],
)
def test_a_missing_or_empty_credential_stops_the_source_and_says_where_to_put_it(
    secrets: dict[str, str], message: str
) -> None:
    with pytest.raises(AuthError, match=message) as caught:
        _connector(secrets).credential("TOKEN", "X bearer token", "docs/connectors/x.md")
    assert caught.value.fix.startswith(
        "store the X bearer token as credential TOKEN (see docs/connectors/x.md)"
    )
