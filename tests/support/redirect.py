"""Send a client library's requests for a real API host to a LocalServer instead.

For libraries with a hard-coded base URL (tweepy, facebook-sdk): the request is intercepted
at the HTTP boundary — the `requests` transport — and everything above it runs for real.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter

from tests.support.http import LocalServer


class ToLocalServer(HTTPAdapter):
    """A transport adapter that rewrites scheme://host to the local server's address."""

    def __init__(self, server: LocalServer) -> None:
        super().__init__()
        self.server = server

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        """Forward the request to the local server, keeping path, query, headers and body."""
        parts = urlsplit(request.url or "")
        local = urlsplit(self.server.base_url)
        request.url = urlunsplit((local.scheme, local.netloc, parts.path, parts.query, ""))
        return super().send(request, **kwargs)


@contextmanager
def redirect_hosts(server: LocalServer, *hosts: str) -> Iterator[None]:
    """While active, every new requests.Session sends https://HOST/... to `server`."""
    original = requests.Session.__init__

    def init(self: requests.Session, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        for host in hosts:
            self.mount(f"https://{host}/", ToLocalServer(server))

    requests.Session.__init__ = init  # type: ignore[method-assign]
    try:
        yield
    finally:
        requests.Session.__init__ = original  # type: ignore[method-assign]
