"""The Graph mail channel: msal's client-credentials flow and sendMail, against a local server."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from alerts.base import DeliveryStatus, message_id_for
from alerts.graph_mail import GraphMailChannel, GraphMailSettings
from tests.support.http import LocalServer, Recorded, Reply, local_server
from tests.support.sample_alerts import ACCOUNT_MANAGER, hostile_alert, plain_alert
from tests.support.secrets import secrets_from

TENANT = "7c0c36f5-af83-4c24-8844-9962e0163719"
CLIENT_ID = "2a4d6a0e-5b7e-4c57-9a53-1f1d5c3c9e11"
SECRET = "s3cr3t~value~never~logged"
SENDER = "alerts@stmarys.example.org"
KEY = "outbox:11:am"
SEND_PATH = f"/v1.0/users/{SENDER}/sendMail"
SENT_ITEMS_PATH = f"/v1.0/users/{SENDER}/mailFolders/sentitems/messages"
TOKEN_PATH = f"/{TENANT}/oauth2/v2.0/token"
DISCOVERY_PATH = f"/{TENANT}/v2.0/.well-known/openid-configuration"


class LoopbackHttps(httpx.BaseTransport):
    """Carries https://127.0.0.1:PORT requests to the plain-http local server.

    msal refuses any authority or token endpoint that is not https, so the test authority is
    https://127.0.0.1:PORT and this transport drops the TLS that a loopback test cannot have.
    """

    def __init__(self) -> None:
        self._inner = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.scheme == "https" and request.url.host == "127.0.0.1":
            request.url = request.url.copy_with(scheme="http")
        return self._inner.handle_request(request)

    def close(self) -> None:
        self._inner.close()


@dataclass
class EntraId:
    """The token endpoint's state: tokens handed out and what it should answer next."""

    issued: list[str] = field(default_factory=list)
    error: dict[str, str] | None = None

    def token(self, request: Recorded) -> Reply:
        if self.error is not None:
            return Reply(
                400 if self.error["error"] != "temporarily_unavailable" else 503, self.error
            )
        self.issued.append(f"token-{len(self.issued) + 1}")
        return Reply(
            200,
            {
                "token_type": "Bearer",
                "expires_in": 3599,
                "ext_expires_in": 3599,
                "access_token": self.issued[-1],
            },
        )


@dataclass
class Microsoft:
    """A local stand-in for login.microsoftonline.com and graph.microsoft.com."""

    server: LocalServer
    entra: EntraId

    @property
    def https_base(self) -> str:
        return self.server.base_url.replace("http://", "https://")

    def settings(self, **overrides: Any) -> GraphMailSettings:
        values = {
            "type": "graph_mail",
            "tenant_id": TENANT,
            "client_id": CLIENT_ID,
            "client_secret_credential": "GRAPH_SECRET",
            "sender": SENDER,
            "authority_url": self.https_base,
            "graph_url": self.server.url("/v1.0"),
            "timeout_seconds": 5,
        }
        return GraphMailSettings.model_validate({**values, **overrides})

    def channel(self, **overrides: Any) -> GraphMailChannel:
        client = httpx.Client(transport=LoopbackHttps())
        return GraphMailChannel(
            "school-graph",
            self.settings(**overrides),
            secrets_from(GRAPH_SECRET=SECRET),
            client=client,
        )

    def sends(self) -> list[Recorded]:
        return self.server.requests_to(SEND_PATH)


def openid_configuration(base: str) -> dict[str, Any]:
    return {
        "issuer": f"{base}/{TENANT}/v2.0",
        "authorization_endpoint": f"{base}/{TENANT}/oauth2/v2.0/authorize",
        "token_endpoint": f"{base}{TOKEN_PATH}",
        "token_endpoint_auth_methods_supported": ["client_secret_post"],
    }


@pytest.fixture
def microsoft() -> Iterator[Microsoft]:
    with local_server() as server:
        entra = EntraId()
        ms = Microsoft(server, entra)
        server.route("GET", DISCOVERY_PATH, Reply(200, openid_configuration(ms.https_base)))
        server.route("POST", TOKEN_PATH, entra.token)
        server.route("POST", SEND_PATH, Reply(202))
        yield ms


def test_sends_the_alert_as_html_with_a_client_credentials_token(microsoft: Microsoft) -> None:
    result = microsoft.channel().send(hostile_alert(), ACCOUNT_MANAGER, KEY)

    message_id = message_id_for(KEY, "stmarys.example.org")
    assert result.status is DeliveryStatus.DELIVERED
    assert result.provider_message_id == message_id
    (token_request,) = microsoft.server.requests_to(TOKEN_PATH)
    form = parse_qs(token_request.body.decode())
    assert form["grant_type"] == ["client_credentials"]
    assert form["client_id"] == [CLIENT_ID]
    assert form["scope"] == ["https://graph.microsoft.com/.default"]
    (send,) = microsoft.sends()
    assert send.headers["authorization"] == "Bearer token-1"
    body = send.json()
    assert body["saveToSentItems"] is True
    message = body["message"]
    assert message["subject"] == (
        "[CRITICAL] St Mary's <i>CE</i> **Primary**: hi Bcc: evil@example.com"
    )
    assert message["toRecipients"] == [
        {"emailAddress": {"address": "am@stmarys.example.org", "name": "Ann Manager"}}
    ]
    assert message["internetMessageId"] == message_id
    assert message["internetMessageHeaders"] == [{"name": "X-ORM-Monitor-Key", "value": KEY}]
    assert message["body"]["contentType"] == "HTML"
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in message["body"]["content"]
    assert "<script>" not in message["body"]["content"]


def test_the_token_is_reused_until_it_expires(microsoft: Microsoft) -> None:
    channel = microsoft.channel()
    channel.send(plain_alert(), ACCOUNT_MANAGER, KEY)
    channel.send(plain_alert(), ACCOUNT_MANAGER, "outbox:12:am")

    assert len(microsoft.server.requests_to(TOKEN_PATH)) == 1
    assert [r.headers["authorization"] for r in microsoft.sends()] == ["Bearer token-1"] * 2


def test_throttling_is_retried_after_the_time_graph_asks(microsoft: Microsoft) -> None:
    microsoft.server.route(
        "POST",
        SEND_PATH,
        Reply(
            429,
            {"error": {"code": "TooManyRequests", "message": "slow down"}},
            headers={"Retry-After": "30"},
        ),
    )
    before = datetime.now(UTC)
    result = microsoft.channel().send(plain_alert(), ACCOUNT_MANAGER, KEY)
    assert result.status is DeliveryStatus.RETRY
    assert result.error is not None and "429" in result.error and "TooManyRequests" in result.error
    assert result.retry_after is not None
    assert before + timedelta(seconds=29) <= result.retry_after
    assert result.retry_after <= datetime.now(UTC) + timedelta(seconds=31)


def test_service_unavailable_is_retried(microsoft: Microsoft) -> None:
    microsoft.server.route("POST", SEND_PATH, Reply(503, headers={"Retry-After": "5"}))
    result = microsoft.channel().send(plain_alert(), ACCOUNT_MANAGER, KEY)
    assert result.status is DeliveryStatus.RETRY and result.retry_after is not None


def test_a_rejected_token_is_dropped_and_a_new_one_used_next_time(microsoft: Microsoft) -> None:
    expired = Reply(401, {"error": {"code": "InvalidAuthenticationToken"}})
    microsoft.server.route("POST", SEND_PATH, [expired, Reply(202)])
    channel = microsoft.channel()

    first = channel.send(plain_alert(), ACCOUNT_MANAGER, KEY)
    second = channel.send(plain_alert(), ACCOUNT_MANAGER, KEY)

    assert first.status is DeliveryStatus.RETRY
    assert first.error is not None and "rejected the access token" in first.error
    assert second.status is DeliveryStatus.DELIVERED
    assert [r.headers["authorization"] for r in microsoft.sends()] == [
        "Bearer token-1",
        "Bearer token-2",
    ]


def test_missing_mail_send_permission_fails_with_the_fix(microsoft: Microsoft) -> None:
    microsoft.server.route(
        "POST",
        SEND_PATH,
        Reply(403, {"error": {"code": "ErrorAccessDenied", "message": "Access is denied."}}),
    )
    result = microsoft.channel().send(plain_alert(), ACCOUNT_MANAGER, KEY)
    assert result.status is DeliveryStatus.FAILED
    assert result.error is not None
    assert "Mail.Send" in result.error and "RBAC for Applications" in result.error
    assert "ErrorAccessDenied" in result.error


def test_an_unknown_sender_fails_naming_it(microsoft: Microsoft) -> None:
    microsoft.server.route(
        "POST",
        SEND_PATH,
        Reply(
            404,
            {"error": {"code": "ErrorInvalidUser", "message": "The requested user is invalid."}},
        ),
    )
    result = microsoft.channel().send(plain_alert(), ACCOUNT_MANAGER, KEY)
    assert result.status is DeliveryStatus.FAILED
    assert result.error is not None
    assert SENDER in result.error and "ErrorInvalidUser" in result.error


def test_a_wrong_client_secret_fails_with_the_fix_and_no_secret(microsoft: Microsoft) -> None:
    microsoft.entra.error = {
        "error": "invalid_client",
        "error_description": "AADSTS7000215: Invalid client secret provided. Trace ID: 1f2e",
    }
    channel = microsoft.channel()
    result = channel.send(plain_alert(), ACCOUNT_MANAGER, KEY)
    assert result.status is DeliveryStatus.FAILED
    assert result.error is not None
    assert "AADSTS7000215" in result.error and "new client secret" in result.error
    assert "Trace ID" not in result.error
    assert microsoft.sends() == []
    for text in (result.error, channel.describe()):
        assert SECRET not in text


def test_an_app_unknown_to_the_tenant_fails(microsoft: Microsoft) -> None:
    microsoft.entra.error = {"error": "unauthorized_client", "error_description": "AADSTS700016"}
    result = microsoft.channel().send(plain_alert(), ACCOUNT_MANAGER, KEY)
    assert result.status is DeliveryStatus.FAILED
    assert result.error is not None and "client_id and tenant_id" in result.error


def test_a_passing_token_error_is_retried(microsoft: Microsoft) -> None:
    microsoft.entra.error = {"error": "temporarily_unavailable", "error_description": "busy"}
    result = microsoft.channel().send(plain_alert(), ACCOUNT_MANAGER, KEY)
    assert result.status is DeliveryStatus.RETRY
    assert microsoft.sends() == []


def test_an_unknown_tenant_fails_naming_tenant_id(microsoft: Microsoft) -> None:
    microsoft.server.route("GET", DISCOVERY_PATH, Reply(400, {"error": "invalid_tenant"}))
    result = microsoft.channel().send(plain_alert(), ACCOUNT_MANAGER, KEY)
    assert result.status is DeliveryStatus.FAILED
    assert result.error is not None and "tenant_id" in result.error


def test_unreachable_entra_id_is_retried(microsoft: Microsoft) -> None:
    with local_server() as stopped:
        dead_authority = stopped.base_url.replace("http://", "https://")
    channel = microsoft.channel(authority_url=dead_authority)
    result = channel.send(plain_alert(), ACCOUNT_MANAGER, KEY)
    assert result.status is DeliveryStatus.RETRY
    assert result.error is not None and "ConnectError" in result.error


def test_unreachable_graph_is_retried(microsoft: Microsoft) -> None:
    with local_server() as stopped:
        dead_graph = stopped.url("/v1.0")
    result = microsoft.channel(graph_url=dead_graph).send(plain_alert(), ACCOUNT_MANAGER, KEY)
    assert result.status is DeliveryStatus.RETRY
    assert result.error is not None and "cannot reach Graph" in result.error


def test_confirm_finds_the_message_in_sent_items(microsoft: Microsoft) -> None:
    microsoft.server.route("GET", SENT_ITEMS_PATH, Reply(200, {"value": [{"id": "AAMkAD"}]}))
    assert microsoft.channel().confirm(KEY) is True
    (request,) = microsoft.server.requests_to(SENT_ITEMS_PATH)
    expected = f"internetMessageId eq '{message_id_for(KEY, 'stmarys.example.org')}'"
    assert request.query["$filter"] == [expected]
    assert request.query["$select"] == ["id"]
    assert request.headers["authorization"] == "Bearer token-1"


def test_confirm_says_false_when_sent_items_has_no_such_message(microsoft: Microsoft) -> None:
    microsoft.server.route("GET", SENT_ITEMS_PATH, Reply(200, {"value": []}))
    assert microsoft.channel().confirm(KEY) is False


def test_confirm_cannot_tell_when_graph_fails(microsoft: Microsoft) -> None:
    microsoft.server.route("GET", SENT_ITEMS_PATH, Reply(500, "oops"))
    assert microsoft.channel().confirm(KEY) is None


def test_describe_names_sender_and_tenant_only(microsoft: Microsoft) -> None:
    assert microsoft.channel().describe() == (
        f"graph_mail channel 'school-graph' (as {SENDER}, tenant {TENANT})"
    )
