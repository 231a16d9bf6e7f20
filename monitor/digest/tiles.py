"""The figures the digest leads with: five tiles, formatted once for every form it takes."""

from __future__ import annotations

from dataclasses import dataclass

from monitor.digest.figures import SchoolWeek, percent

FLAGGED_MEANS = (
    "Flagged means an item of severity high or critical (the items that open an incident), "
    "each counted once."
)
"""The digest's footnote on the one "flagged" figure (docs/digest.md says the same)."""


@dataclass(frozen=True)
class Tile:
    """One headline figure: `value` in large type, `name` under it, `detail` in small print."""

    key: str
    value: str
    name: str
    detail: str
    alarm: bool = False

    @property
    def line(self) -> str:
        """The tile as one line of text: `Items: 12 (+4 on last week)`."""
        return f"{self.name}: {self.value} ({self.detail})"


def tiles(s: SchoolWeek) -> tuple[Tile, ...]:
    """Items, flagged high/critical, replied in time, breaches and blind hours, in that order."""
    return (
        Tile("items", str(s.total.now), "Items", f"{s.total.delta} on last week"),
        _flagged(s),
        _replied(s),
        Tile(
            "breaches",
            str(len(s.replies.breaches)),
            "Breaches",
            "reply windows missed",
            alarm=bool(s.replies.breaches),
        ),
        _blind(s),
    )


def _flagged(s: SchoolWeek) -> Tile:
    table = s.labels
    detail = f"{table.critical} critical, {table.high} high"
    if s.open_incidents:
        detail += f"; {s.open_incidents} incident(s) open"
    alarm = bool(table.flagged or s.open_incidents)
    return Tile("flagged", str(table.flagged), "Flagged high/critical", detail, alarm=alarm)


def _replied(s: SchoolWeek) -> Tile:
    r = s.replies
    due = r.in_time + r.late + r.still_open_late
    if not due:
        return Tile("replied", "none due", "Replied in time", "no reply window was due")
    share = percent(r.share_in_time)
    return Tile("replied", f"{r.in_time} of {due}", "Replied in time", share, alarm=r.in_time < due)


def _blind(s: SchoolWeek) -> Tile:
    blind, total = len(s.blind_sources), len(s.coverage)
    if not total:
        detail = "no sources are configured"
    elif blind:
        detail = f"{blind} of {total} source(s) not fully seen"
    else:
        detail = f"all {total} source(s) seen all week"
    value = f"{s.blind_hours:.1f}"
    return Tile("blind", value, "Blind hours", detail, alarm=bool(blind) or not total)


def headline(s: SchoolWeek) -> str:
    """The week in one line (the Teams card): the tiles, or what a quiet week means."""
    blind = s.blind_sources
    if not s.coverage:
        return "No sources are configured: nothing about the school is being watched."
    if s.quiet:
        if blind:
            return f"Nothing seen, but {len(blind)} of {len(s.coverage)} source(s) were blind."
        return "Nothing seen; all sources healthy."
    return "; ".join(t.line for t in tiles(s)) + "."
