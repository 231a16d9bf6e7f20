"""The alert email as a MIME message, shared by the SMTP and Maildir channels."""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, parseaddr

from alerts.base import Alert, Attachment, Recipient, message_id_for
from alerts.render import render_email, strip_controls

KEY_HEADER = "X-ORM-Monitor-Key"


def domain_of(address: str) -> str:
    """The domain of an email address (or of a "Name <address>" header), for Message-IDs."""
    domain = parseaddr(address)[1].rpartition("@")[2]
    return strip_controls(domain).replace(" ", "") or "localhost"


def format_from(address: str, name: str = "") -> str:
    """A From header value: `Name <address>`, or the bare address without a name."""
    return formataddr((strip_controls(name), strip_controls(address)))


def build_email(
    alert: Alert,
    recipient: Recipient,
    key: str,
    from_header: str,
    now: datetime | None = None,
) -> EmailMessage:
    """multipart/alternative (text + HTML) with a Message-ID that is the same on every attempt."""
    rendered = render_email(alert, recipient)
    message = EmailMessage()
    message["From"] = from_header
    message["To"] = formataddr((strip_controls(recipient.name), strip_controls(recipient.address)))
    message["Subject"] = rendered.subject
    message["Date"] = format_datetime(now or datetime.now(UTC))
    message["Message-ID"] = message_id_for(key, domain_of(from_header))
    message[KEY_HEADER] = strip_controls(key)
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(rendered.text)
    message.add_alternative(rendered.html, subtype="html")
    if alert.report is not None:
        _attach(message, alert.report.attachments)
    return message


def _attach(message: EmailMessage, attachments: tuple[Attachment, ...]) -> None:
    """Inline images join the HTML part (multipart/related); files go after (multipart/mixed)."""
    html = message.get_body(preferencelist=("html",))
    for file in attachments:
        maintype, _, subtype = file.content_type.partition("/")
        if file.inline and html is not None:
            html.add_related(
                file.data,
                maintype,
                subtype,
                cid=f"<{file.content_id}>",
                filename=file.filename,
                disposition="inline",  # with a filename, the default would list it as a file
            )
    for file in attachments:
        maintype, _, subtype = file.content_type.partition("/")
        if not file.inline:
            message.add_attachment(file.data, maintype, subtype, filename=file.filename)
