"""The digest as people read it: one template for the email and the PDF, a text part, a card."""

from __future__ import annotations

import base64
import io
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from alerts.base import Alert
from alerts.render import safe_link, strip_controls
from monitor.digest.charts import Chart, schools_chart, sentiment_chart, volume_chart
from monitor.digest.figures import SchoolWeek, hours_text, percent
from monitor.digest.tiles import FLAGGED_MEANS, headline, tiles

log = logging.getLogger(__name__)

CID_DOMAIN = "orm-monitor"


class DigestError(RuntimeError):
    """The digest could not be built; the message says why and what to do."""


@dataclass(frozen=True)
class TrustView:
    """The roll-up's heading: the trust and the week."""

    name: str
    week: str
    span: str


@dataclass(frozen=True)
class DigestDocument:
    """A built digest: the email's parts, the PDF, the charts and the Teams card."""

    subject: str
    html: str
    text: str
    page: str
    pdf: bytes
    charts: tuple[Chart, ...]
    teams: Alert

    @property
    def email_charts(self) -> tuple[Chart, ...]:
        """The charts the email's HTML shows (a trust's email leaves school pages to the PDF)."""
        return tuple(c for c in self.charts if f"cid:{content_id(c)}" in self.html)


def content_id(chart: Chart) -> str:
    """The Content-ID an email's HTML names a chart by (without angle brackets)."""
    return f"chart-{chart.name}@{CID_DOMAIN}"


def charts_for(weeks: Sequence[SchoolWeek], trust: TrustView | None) -> tuple[Chart, ...]:
    """Each school's volume and sentiment charts (none for a quiet week), and the trust's."""
    charts = [schools_chart("schools", weeks)] if trust else []
    for index, week in enumerate(weeks):
        if not week.quiet:
            charts.append(volume_chart(f"volume-{index}", week.trend))
            charts.append(sentiment_chart(f"sentiment-{index}", week.trend))
    return tuple(charts)


def render(
    weeks: Sequence[SchoolWeek], trust: TrustView | None, built_at: datetime
) -> DigestDocument:
    """Build every form of the digest from the figures."""
    charts = charts_for(weeks, trust)
    by_name = {c.name: c for c in charts}
    title = strip_controls(trust.name if trust else weeks[0].school_name)
    span = trust.span if trust else weeks[0].span
    context: dict[str, Any] = {
        "title": title,
        "subject": f"Weekly ORM digest: {title}, {span}",
        "trust": trust,
        "schools": list(weeks),
        "charts": by_name,
        "generated": built_at.strftime("%a %d %b %Y %H:%M %Z"),
        "headline": headline,
        "tiles": tiles,
        "flagged_means": FLAGGED_MEANS,
        "percent": percent,
        "hours": hours_text,
        "safe_link": safe_link,
    }
    env = _environment()
    html_template = env.get_template("digest.html.j2")
    # A trust's email carries the comparison only: fifty school pages with a hundred charts
    # would not read well in a mail client and would pass Graph's 4 MB sendMail limit.
    email = html_template.render(
        context, pdf=False, pages=trust is None, image=lambda n: f"cid:{content_id(by_name[n])}"
    )
    inline = {"image": lambda n: _data_uri(by_name[n]), "pages": True}
    page = html_template.render(context, pdf=False, **inline)
    printable = html_template.render(context, pdf=True, **inline)
    return DigestDocument(
        subject=context["subject"],
        html=email,
        text=env.get_template("digest.txt.j2").render(context),
        page=page,
        pdf=to_pdf(printable),
        charts=charts,
        teams=teams_alert(weeks, trust, title, span),
    )


def teams_alert(
    weeks: Sequence[SchoolWeek], trust: TrustView | None, title: str, span: str
) -> Alert:
    """The short Teams card: the headline figures, one line per school."""
    lines = [f"{w.school_name}: {headline(w)}" if trust else headline(w) for w in weeks]
    return Alert(
        kind="digest",
        school_name=title,
        severity="info",
        headline=f"Weekly ORM digest, {span}",
        summary="\n".join(lines),
        action="The full digest, with charts and a PDF, is in senior leadership's email.",
    )


def to_pdf(html: str) -> bytes:
    """Lay out the printable HTML as an A4 PDF (xhtml2pdf: pure Python, no system libraries)."""
    from xhtml2pdf import pisa  # loaded only when a digest is built

    logging.getLogger("xhtml2pdf").setLevel(logging.ERROR)
    buffer = io.BytesIO()
    status = pisa.CreatePDF(html, dest=buffer, encoding="utf-8", link_callback=_local_only)
    if status.err:
        raise DigestError(f"the PDF could not be laid out ({status.err} error(s)); see the log")
    return buffer.getvalue()


def _local_only(uri: str, _relative: str) -> str:
    """Resources the PDF may load: our fonts and inline images, never the network."""
    if uri.startswith("font:"):
        return str(_font_dir() / uri.removeprefix("font:"))
    if uri.startswith("data:"):
        return uri
    log.debug("digest PDF: refused to load %r", uri)
    return ""


@cache
def _font_dir() -> Path:
    """DejaVu Sans as shipped with matplotlib: wide coverage (accents, Greek, Cyrillic, Arabic)."""
    import matplotlib

    return Path(matplotlib.get_data_path()) / "fonts" / "ttf"


def _data_uri(chart: Chart) -> str:
    return "data:image/png;base64," + base64.b64encode(chart.png).decode("ascii")


@cache
def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("monitor.digest", "templates"),
        autoescape=select_autoescape(enabled_extensions=("html.j2",)),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
