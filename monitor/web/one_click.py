"""The small web endpoint behind the one-click links in alerts.

A GET only shows what the link will do and a button: mail scanners (Outlook Safe Links, Gmail)
open every link in a message, so closing a window on GET would close it before anyone read
the alert. The POST from the button closes it, once.
"""

from __future__ import annotations

import html
import logging
import re
import threading
from collections.abc import Callable
from datetime import datetime
from email.message import Message
from http import HTTPStatus
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select

from alerts.render import clean_text
from monitor.replies import windows
from monitor.replies.links import LinkError, LinkSigner, WindowAction
from monitor.storage import models
from monitor.storage.engine import Database
from monitor.storage.models import utcnow
from monitor.web import item_actions
from monitor.web.http_server import BoundedHTTPServer, BufferedRequestHandler, Limits

log = logging.getLogger(__name__)

VERBS = {"answered": "I have replied", "dismissed": "No reply needed"}
PAGE = """<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1"><title>orm-monitor</title>
<style>body{{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem}}
blockquote{{border-left:4px solid #ccc;margin:1rem 0;padding:.5rem 1rem;white-space:pre-wrap}}
button{{font-size:1rem;padding:.6rem 1.2rem}}</style></head><body>{body}</body></html>"""


class WindowLinks:
    """What the endpoint does, apart from HTTP: read a link, show it, act on it once."""

    def __init__(
        self, db: Database, signer: LinkSigner, clock: Callable[[], datetime] = utcnow
    ) -> None:
        self.db, self.signer, self.clock = db, signer, clock

    def show(self, token: str) -> tuple[int, str]:
        """The confirmation page for a link."""
        try:
            action = self.signer.read(token)
        except LinkError as error:
            return HTTPStatus.BAD_REQUEST, _page(str(error))
        if action.item_id is not None:
            return self._show_item(token, action)
        with self.db.session() as session:
            window = session.get(models.ReplyWindow, action.window_id)
            item = session.get(models.Item, window.item_id) if window else None
            if window is None or item is None:
                return HTTPStatus.NOT_FOUND, _page("This reply window no longer exists.")
            if window.status != windows.OPEN:
                return HTTPStatus.CONFLICT, _page(f"Already closed ({window.status}).")
            verb = VERBS[action.action]
            return HTTPStatus.OK, _confirm(
                token, verb, "This closes the reply window for:", item.text
            )

    def act(self, token: str) -> tuple[int, str]:
        """Close the window the link names; a second use finds it closed."""
        try:
            action = self.signer.read(token)
        except LinkError as error:
            return HTTPStatus.BAD_REQUEST, _page(str(error))
        if action.item_id is not None:
            return self._act_item(action)
        with self.db.session() as session:
            item_id = session.scalar(
                select(models.ReplyWindow.item_id).where(models.ReplyWindow.id == action.window_id)
            )
            if item_id is None:
                return HTTPStatus.NOT_FOUND, _page("This reply window no longer exists.")
            try:
                windows.close(
                    session,
                    item_id,
                    how=action.action,
                    by="one-click link",
                    note=f"link {action.nonce}",
                    now=self.clock(),
                )
            except windows.WindowError as error:
                return HTTPStatus.CONFLICT, _page(str(error))
        return HTTPStatus.OK, _page(f"Done: recorded as “{VERBS[action.action]}”. Thank you.")

    def _show_item(self, token: str, action: WindowAction) -> tuple[int, str]:
        """The confirmation page for "Handled" or "Not a threat" on a serious item."""
        with self.db.session() as session:
            item = session.get(models.Item, action.item_id)
            if item is None:
                return HTTPStatus.NOT_FOUND, _page("This item no longer exists.")
            done = item_actions.already_done(session, action)
            if done is not None:
                return HTTPStatus.CONFLICT, _page(done)
            verb, explain = item_actions.verb(action), item_actions.what_it_does(action)
            return HTTPStatus.OK, _confirm(token, verb, explain, item.text)

    def _act_item(self, action: WindowAction) -> tuple[int, str]:
        """Record "Handled" or "Not a threat" once; a second use is refused."""
        with self.db.session() as session:
            if session.get(models.Item, action.item_id) is None:
                return HTTPStatus.NOT_FOUND, _page("This item no longer exists.")
            done = item_actions.already_done(session, action)
            if done is not None:
                return HTTPStatus.CONFLICT, _page(done)
            message = item_actions.perform(session, action, self.clock())
        return HTTPStatus.OK, _page(message)


def _page(message: str) -> str:
    return PAGE.format(body=f"<h1>orm-monitor</h1><p>{html.escape(message)}</p>")


def _confirm(token: str, verb: str, explain: str, text: str) -> str:
    body = (
        f"<h1>{html.escape(verb)}</h1><p>{html.escape(explain)}</p>"
        f"<blockquote>{html.escape(clean_text(text)[:1000])}</blockquote>"
        f'<form method="post" action="/w/{html.escape(token, quote=True)}">'
        f'<button type="submit">{html.escape(verb)}</button></form>'
    )
    return PAGE.format(body=body)


class WebServer:
    """Serves /w/<token> and /healthz on a loopback or LAN address in a background thread."""

    def __init__(self, links: WindowLinks, listen: str, limits: Limits | None = None) -> None:
        host, _, port = listen.rpartition(":")
        address = (host.strip("[]"), int(port))
        self._httpd = BoundedHTTPServer(address, _handler(links), limits or Limits())
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, args=(0.2,), name="web", daemon=True
        )

    @property
    def address(self) -> str:
        """host:port actually bound."""
        host, port = self._httpd.server_address[:2]
        return f"{host!s}:{port}"

    @property
    def threads(self) -> int:
        """Threads serving requests now (the one that reads them not counted)."""
        return self._httpd.handling

    def start(self) -> None:
        """Start serving."""
        self._thread.start()
        log.info("one-click links served on http://%s/", self.address)
        if self._httpd.server_address[0] in EVERY_INTERFACE:
            log.warning(
                "one-click links listen on every interface without TLS: put a reverse proxy"
                " with TLS in front of them and set service.public_url to its address"
            )

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._httpd.shutdown()
        self._httpd.server_close()


def _handler(links: WindowLinks) -> type[BufferedRequestHandler]:
    class Handler(BufferedRequestHandler):
        server_version = "orm-monitor"

        def do_GET(self) -> None:
            path = _path(self.path)
            if path == "/healthz":
                self._reply(HTTPStatus.OK, "ok", "text/plain")
            elif path.startswith("/w/"):
                self._reply(*links.show(path[3:]))
            else:
                self._reply(HTTPStatus.NOT_FOUND, _page("Not found."))

        def do_POST(self) -> None:
            path = _path(self.path)
            if not same_origin(self.headers):
                log.info("web: refused a POST from another site (%s)", _sender(self.headers))
                self._reply(HTTPStatus.FORBIDDEN, _page(FOREIGN))
            elif path.startswith("/w/"):
                self._reply(*links.act(path[3:]))
            else:
                self._reply(HTTPStatus.NOT_FOUND, _page("Not found."))

        def _reply(self, status: int, body: str, kind: str = "text/html") -> None:
            data = body.encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", f"{kind}; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", "no-store")
            # same-origin, not no-referrer: the button's POST then carries our Origin, not "null"
            self.send_header("Referrer-Policy", "same-origin")
            self.send_header("X-Frame-Options", "DENY")
            self.send_header("X-Content-Type-Options", "nosniff")
            self.send_header(
                "Content-Security-Policy",
                "default-src 'none'; style-src 'unsafe-inline'; form-action 'self';"
                " frame-ancestors 'none'",
            )
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("web: %s", LINK_TOKEN.sub("/w/<token>", format % args))  # at any level

    return Handler


EVERY_INTERFACE = ("0.0.0.0", "::")  # noqa: S104 - compared with, to warn
"""Addresses that listen on every interface."""
LINK_TOKEN = re.compile(r"/w/[^\s?\"]+")
"""A link's token in a request line: never logged, whatever the level."""


def _path(target: str) -> str:
    """The request's path without the query mail systems add (`?utm_source=…`)."""
    return urlsplit(target).path


FOREIGN = "This button only works from the page its link opens: open the link from your alert."
DEFAULT_PORTS = {"http": 80, "https": 443}


def same_origin(headers: Message) -> bool:
    """Whether a POST comes from a page of this site (or from no browser page at all).

    Browsers always send Origin with a cross-site POST, so a missing one (with no Referer) is a
    script or an old client, which could send the request without a browser anyway. The site is
    the host the browser asked for (Host, or X-Forwarded-Host from a reverse proxy; a page on
    another site cannot set either), so the check holds behind a proxy at `service.public_url`.
    """
    sender = headers.get("Origin") or headers.get("Referer")
    if sender is None:
        return True
    scheme, name, port = _site(sender)
    if scheme not in DEFAULT_PORTS or not name:
        return False  # "null": a sandboxed or privacy-stripped page, never our own form
    allowed = {(name, port or DEFAULT_PORTS[scheme]), (name, None)}  # a proxy may drop the port
    return any(_site(f"//{host}")[1:] in allowed for host in _hosts(headers))


def _hosts(headers: Message) -> list[str]:
    """The host names the request was addressed to, by the browser or through a proxy."""
    names = [headers.get("Host", ""), *headers.get("X-Forwarded-Host", "").split(",")]
    return [name.strip() for name in names if name.strip()]


def _site(url: str) -> tuple[str, str, int | None]:
    """A URL's scheme, host name and port (None where it names none); empty if malformed."""
    try:
        parts = urlsplit(url)
        return (parts.scheme, parts.hostname or "", parts.port)
    except ValueError:
        return ("", "", None)


def _sender(headers: Message) -> str:
    """The site that sent a request, for the log: scheme and host only, never a path."""
    scheme, name, _ = _site(headers.get("Origin") or headers.get("Referer") or "")
    return f"{scheme}://{name}" if name else "null"
