"""The digest's charts as PNG images (matplotlib, no display needed), each with its alt text."""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from monitor.digest.figures import SchoolWeek, TrendWeek

INK, MUTED, ACCENT = "#1f2937", "#9ca3af", "#1d4ed8"
NEGATIVE, NEUTRAL, POSITIVE = "#b91c1c", "#d1d5db", "#15803d"
DPI = 110
CACHED_CHARTS = 256


@dataclass(frozen=True)
class Chart:
    """One image: a Content-ID-safe name, PNG bytes and a description for screen readers."""

    name: str
    png: bytes
    alt: str


def volume_chart(name: str, trend: Sequence[TrendWeek]) -> Chart:
    """Items per week over the trend, this week in the accent colour."""
    return Chart(name, *_volume(tuple(trend)))


def sentiment_chart(name: str, trend: Sequence[TrendWeek]) -> Chart:
    """Negative, neutral and positive items per week, stacked."""
    return Chart(name, *_sentiment(tuple(trend)))


# The Monday job draws each school's charts for its own digest and again for the trust's:
# the same figures give the same image, so it is drawn once.
@lru_cache(maxsize=CACHED_CHARTS)
def _volume(trend: tuple[TrendWeek, ...]) -> tuple[bytes, str]:
    figure, axes = _figure(2.1)
    colours = [MUTED] * (len(trend) - 1) + [ACCENT]
    bars = axes.bar([t.week for t in trend], [t.items for t in trend], color=colours)
    axes.bar_label(bars, fontsize=8, color=INK)
    _tidy(axes, "Items per week")
    counts = ", ".join(f"{t.week} {t.items}" for t in trend)
    return _png(figure), f"Items per week, oldest first: {counts}."


@lru_cache(maxsize=CACHED_CHARTS)
def _sentiment(trend: tuple[TrendWeek, ...]) -> tuple[bytes, str]:
    figure, axes = _figure(2.1)
    weeks = [t.week for t in trend]
    negative = [t.negative for t in trend]
    neutral = [t.neutral for t in trend]
    positive = [t.positive for t in trend]
    axes.bar(weeks, negative, color=NEGATIVE, label="negative")
    axes.bar(weeks, neutral, bottom=negative, color=NEUTRAL, label="neutral")
    tops = [n + m for n, m in zip(negative, neutral, strict=True)]
    axes.bar(weeks, positive, bottom=tops, color=POSITIVE, label="positive")
    axes.legend(fontsize=7, frameon=False, ncols=3, loc="upper left")
    _tidy(axes, "Sentiment per week")
    counts = "; ".join(
        f"{t.week} {t.negative} negative, {t.neutral} neutral, {t.positive} positive" for t in trend
    )
    return _png(figure), f"Sentiment per week, oldest first: {counts}."


def schools_chart(name: str, weeks: Sequence[SchoolWeek]) -> Chart:
    """Items and flagged items per school, side by side (the trust roll-up)."""
    figure, axes = _figure(max(1.6, 0.28 * len(weeks) + 0.8), left=0.3)
    names = [w.school_name for w in weeks][::-1]
    items = [w.total.now for w in weeks][::-1]
    flagged = [w.flagged_items for w in weeks][::-1]
    positions = range(len(names))
    axes.barh([p + 0.2 for p in positions], items, height=0.4, color=MUTED, label="items")
    axes.barh([p - 0.2 for p in positions], flagged, height=0.4, color=NEGATIVE, label="flagged")
    axes.set_yticks(list(positions), names, fontsize=7)
    axes.legend(fontsize=7, frameon=False, loc="lower right")
    _tidy(axes, "Items and flagged items per school", counts_on="x")
    counts = "; ".join(
        f"{w.school_name}: {w.total.now} items, {w.flagged_items} flagged" for w in weeks
    )
    return Chart(name, _png(figure), f"Items and flagged items per school: {counts}.")


def _figure(height: float, left: float = 0.06) -> tuple[Figure, Axes]:
    from matplotlib.figure import Figure  # matplotlib loads only when a digest is built

    figure = Figure(figsize=(6.4, height), dpi=DPI)
    # Fixed margins: a layout engine would measure every label first and double the time.
    figure.subplots_adjust(left=left, right=0.99, top=1 - 0.32 / height, bottom=0.28 / height)
    return figure, figure.subplots()


def _tidy(axes: Axes, title: str, counts_on: str = "y") -> None:
    from matplotlib.ticker import MaxNLocator

    (axes.yaxis if counts_on == "y" else axes.xaxis).set_major_locator(MaxNLocator(integer=True))
    axes.set_title(title, fontsize=9, color=INK, loc="left")
    axes.tick_params(labelsize=7, colors=INK)
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
    axes.margins(y=0.15)


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()
