"""A clock that tests move by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class Clock:
    """Callable like `utcnow`; starts at `start` (default: a minute from real now)."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime.now(UTC) + timedelta(minutes=1)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float = 0, *, hours: float = 0) -> None:
        """Move forward."""
        self.now += timedelta(seconds=seconds, hours=hours)

    def set(self, moment: datetime) -> None:
        """Jump to `moment`."""
        self.now = moment
