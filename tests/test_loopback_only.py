"""The suite's own guard: a test that tries to leave loopback fails instead of reaching out."""

from __future__ import annotations

import socket

import httpx
import pytest


def test_a_connection_to_a_non_loopback_address_is_refused() -> None:
    with pytest.raises(ConnectionRefusedError, match=r"tests may not reach 192\.0\.2\.1"):
        socket.create_connection(("192.0.2.1", 443), timeout=1)


def test_a_public_host_name_is_never_resolved() -> None:
    with pytest.raises(socket.gaierror, match=r"tests may not resolve huggingface\.co"):
        socket.getaddrinfo("huggingface.co", 443)
    with pytest.raises(httpx.ConnectError):
        httpx.get("https://graph.facebook.com/v25.0/me", timeout=1)


def test_loopback_stays_open() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        with socket.create_connection(server.getsockname(), timeout=1):
            pass
    assert socket.getaddrinfo("localhost", 80)
