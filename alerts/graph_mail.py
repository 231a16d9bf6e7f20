"""Alert emails through Microsoft Graph `sendMail` with app-only (client credentials) tokens.

msal needs an https authority: `authority.canonicalize()` rejects any other scheme, for the
authority and for the `token_endpoint` of the OpenID configuration, whatever
`validate_authority` / `instance_discovery` say. Those two are False so that msal only fetches
`{authority}/v2.0/.well-known/openid-configuration` and never asks login.microsoftonline.com's
instance-discovery about the host. msal's `http_client` is our httpx client behind a tiny
adapter (msal calls `get`/`post`/`close` and reads `status_code`, `text`, `headers`), so the
channel's timeout applies and tests can route https://127.0.0.1:PORT to a plain-http local
server with an httpx transport.
"""

from __future__ import annotations

import base64
import logging
from typing import Any, Literal
from urllib.parse import quote

import httpx
import msal
from msal.exceptions import MsalServiceError
from pydantic import Field

from alerts.base import (
    Alert,
    Attachment,
    Channel,
    ChannelSettings,
    CredentialName,
    DeliveryResult,
    Recipient,
    SecretReader,
    message_id_for,
)
from alerts.email_message import KEY_HEADER, domain_of
from alerts.render import render_email, shorten, strip_controls
from alerts.retry_after import retry_after

log = logging.getLogger(__name__)

GRAPH_SCOPE = "https://graph.microsoft.com/.default"
CREDENTIAL_FIX = (
    "create a new client secret for the app in Entra ID (App registrations → Certificates & "
    "secrets) and update the credential"
)
APP_FIX = (
    "check client_id and tenant_id, and that the app is registered and consented in that tenant"
)
PERMANENT_TOKEN_ERRORS = {
    "invalid_request",
    "invalid_scope",
    "invalid_grant",
    "unsupported_grant_type",
    "invalid_resource",
}


class GraphMailSettings(ChannelSettings):
    """Email through Microsoft Graph `sendMail` with app-only credentials."""

    type: Literal["graph_mail"]
    tenant_id: str
    client_id: str
    client_secret_credential: CredentialName
    sender: str
    authority_url: str = "https://login.microsoftonline.com"
    graph_url: str = "https://graph.microsoft.com/v1.0"
    timeout_seconds: float = Field(30, gt=0)


class _NotSent(Exception):
    """Stops a send early with the result to report."""

    def __init__(self, result: DeliveryResult) -> None:
        super().__init__(result.error)
        self.result = result


class _MsalHttpClient:
    """msal's http_client protocol over httpx (the channel owns the client, so close is a no-op)."""

    def __init__(self, client: httpx.Client, timeout: float) -> None:
        self._client = client
        self._timeout = timeout

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self._client.get(url, timeout=self._timeout, **kwargs)

    def post(self, url: str, data: Any = None, **kwargs: Any) -> httpx.Response:
        body = {"content": data} if isinstance(data, str | bytes) else {"data": data}
        return self._client.post(url, timeout=self._timeout, **body, **kwargs)

    def close(self) -> None:
        pass


def _graph_error(response: httpx.Response) -> str:
    """Graph's `error.code: error.message`, or the start of the body."""
    try:
        error = response.json().get("error", {})
        text = f"{error.get('code', '')}: {error.get('message', '')}"
    except (ValueError, AttributeError):
        text = response.text
    return shorten(strip_controls(text), 300) or "no details"


def _token_problem(result: dict[str, Any]) -> DeliveryResult:
    """A FAILED or RETRY result for msal's error dict."""
    code = str(result.get("error", "unknown_error"))
    detail = shorten(
        strip_controls(str(result.get("error_description", ""))).split(" Trace ID")[0], 300
    )
    if code == "invalid_client":
        return DeliveryResult.failed(
            f"Entra ID refused the client secret ({code}: {detail}); {CREDENTIAL_FIX}"
        )
    if code == "unauthorized_client":
        return DeliveryResult.failed(
            f"Entra ID does not know this app ({code}: {detail}); {APP_FIX}"
        )
    if code in PERMANENT_TOKEN_ERRORS:
        return DeliveryResult.failed(f"cannot get a Graph token ({code}: {detail}); {APP_FIX}")
    return DeliveryResult.retry(f"cannot get a Graph token now ({code}: {detail})")


class GraphMailChannel(Channel):
    """Sends as one mailbox (`sender`) with the application permission Mail.Send."""

    type = "graph_mail"

    def __init__(
        self,
        name: str,
        config: GraphMailSettings,
        secrets: SecretReader,
        client: httpx.Client | None = None,
    ) -> None:
        super().__init__(name)
        self._config = config
        self._secret = secrets(config.client_secret_credential)
        self._owns_client = client is None
        self._client = client or httpx.Client(timeout=config.timeout_seconds)
        self._msal: Any = None

    def send(self, alert: Alert, recipient: Recipient, idempotency_key: str) -> DeliveryResult:
        """POST /users/{sender}/sendMail; 202 delivered, 429/503 RETRY, 401 new token and RETRY."""
        message_id = self._message_id(idempotency_key)
        payload = self._payload(alert, recipient, idempotency_key, message_id)
        try:
            response = self._request("POST", "/sendMail", json=payload)
        except _NotSent as stop:
            return stop.result
        if response.is_success:
            return DeliveryResult.delivered(provider_message_id=message_id)
        return self._result_for(response)

    def confirm(self, idempotency_key: str) -> bool | None:
        """Whether Sent Items holds the message with this key's internetMessageId."""
        query = f"internetMessageId eq '{self._message_id(idempotency_key)}'"
        params = {"$filter": query, "$select": "id"}
        try:
            response = self._request("GET", "/mailFolders/sentitems/messages", params=params)
            return bool(response.json()["value"]) if response.status_code == 200 else None
        except (_NotSent, ValueError, KeyError, TypeError):
            return None

    def _message_id(self, idempotency_key: str) -> str:
        return message_id_for(idempotency_key, domain_of(self._config.sender))

    def _payload(
        self, alert: Alert, recipient: Recipient, key: str, message_id: str
    ) -> dict[str, Any]:
        rendered = render_email(alert, recipient)
        address: dict[str, str] = {"address": recipient.address}
        if recipient.name:
            address["name"] = strip_controls(recipient.name)
        message = {
            "subject": rendered.subject,
            "body": {"contentType": "HTML", "content": rendered.html},
            "toRecipients": [{"emailAddress": address}],
            "internetMessageId": message_id,
            "internetMessageHeaders": [{"name": KEY_HEADER, "value": strip_controls(key)}],
        }
        if alert.report is not None and alert.report.attachments:
            message["attachments"] = [_attachment(a) for a in alert.report.attachments]
        return {"message": message, "saveToSentItems": True}

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """A Graph call on the sender's mailbox; transport problems become _NotSent(RETRY)."""
        headers = {"Authorization": f"Bearer {self._token()}"}
        mailbox = quote(self._config.sender, safe="@")
        url = f"{self._config.graph_url.rstrip('/')}/users/{mailbox}{path}"
        try:
            response = self._client.request(
                method, url, headers=headers, timeout=self._config.timeout_seconds, **kwargs
            )
        except httpx.HTTPError as error:
            raise _NotSent(
                DeliveryResult.retry(f"cannot reach Graph: {type(error).__name__}")
            ) from None
        if response.status_code == 401:
            self._forget_token()
        return response

    def _result_for(self, response: httpx.Response) -> DeliveryResult:
        status, sender = response.status_code, self._config.sender
        detail = _graph_error(response)
        if status == 401:
            return DeliveryResult.retry(
                f"Graph rejected the access token (401: {detail}); "
                "a new token is requested on the next attempt"
            )
        if status == 429 or status >= 500:
            when = retry_after(response.headers.get("Retry-After"))
            return DeliveryResult.retry(f"Graph answered {status} ({detail})", when)
        if status == 403:
            return DeliveryResult.failed(
                f"the app lacks Mail.Send for mailbox {sender} (403: {detail}): grant it, and "
                "check the RBAC for Applications scope that limits which mailboxes it may use"
            )
        return DeliveryResult.failed(
            f"Graph refused to send as {sender} ({status}: {detail}); "
            "check that the sender mailbox exists and is licensed"
        )

    def _token(self) -> str:
        """An app-only Graph token; msal serves it from its cache until it nearly expires."""
        try:
            result = self._app().acquire_token_for_client(scopes=[GRAPH_SCOPE])
        except (httpx.HTTPError, MsalServiceError, ValueError) as error:
            raise _NotSent(
                DeliveryResult.retry(f"cannot get a Graph token now: {type(error).__name__}")
            ) from None
        if "access_token" not in result:
            raise _NotSent(_token_problem(result))
        return str(result["access_token"])

    def _app(self) -> Any:
        """The msal application, made on first use (making it fetches the OpenID configuration)."""
        if self._msal is None:
            self._msal = self._new_app()
        return self._msal

    def _new_app(self) -> Any:
        authority = f"{self._config.authority_url.rstrip('/')}/{self._config.tenant_id}"
        try:
            return msal.ConfidentialClientApplication(
                self._config.client_id,
                authority=authority,
                client_credential=self._secret,
                http_client=_MsalHttpClient(self._client, self._config.timeout_seconds),
                validate_authority=False,
                instance_discovery=False,
            )
        except ValueError as error:
            detail = shorten(strip_controls(str(error)), 300)
            raise _NotSent(
                DeliveryResult.failed(
                    f"Entra ID authority {authority} is unusable: check tenant_id and "
                    f"authority_url ({detail})"
                )
            ) from None
        except (httpx.HTTPError, MsalServiceError) as error:
            raise _NotSent(
                DeliveryResult.retry(f"cannot reach Entra ID: {type(error).__name__}")
            ) from None

    def _forget_token(self) -> None:
        """Drop cached access tokens so the next call asks Entra ID for a new one."""
        if self._msal is None:
            return
        cache = self._msal.token_cache
        for token in list(cache.search(msal.TokenCache.CredentialType.ACCESS_TOKEN)):
            cache.remove_at(token)

    def describe(self) -> str:
        """Sender and tenant; never the client secret."""
        sender, tenant = self._config.sender, self._config.tenant_id
        return f"graph_mail channel {self.name!r} (as {sender}, tenant {tenant})"

    def close(self) -> None:
        """Close the HTTP client if this channel made it."""
        if self._owns_client:
            self._client.close()


def _attachment(file: Attachment) -> dict[str, Any]:
    """A Graph fileAttachment; an inline image is named by its contentId in the HTML."""
    return {
        "@odata.type": "#microsoft.graph.fileAttachment",
        "name": file.filename,
        "contentType": file.content_type,
        "contentBytes": base64.b64encode(file.data).decode("ascii"),
        "isInline": file.inline,
        **({"contentId": file.content_id} if file.content_id else {}),
    }
