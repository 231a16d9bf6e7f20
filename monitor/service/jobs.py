"""How the daemon runs a job: a database outage is one clear line, and stopping waits for jobs."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError

log = logging.getLogger(__name__)


def guarded(job: Callable[..., None], name: str) -> Callable[..., None]:
    """Run a job so that a database outage or a unique-key clash is one clear line (each named
    for what it is) and any other error a traceback."""

    def run(*args: object) -> None:
        try:
            job(*args)
        except IntegrityError as error:
            log.error(
                "%s: unique-key clash (%s): another process stored the same row first; this "
                "transaction was rolled back and the job runs again at its next turn. Is "
                "`orm-monitor poll` or a second daemon writing to this database?",
                name,
                _first_line(error),
            )
        except (OperationalError, InterfaceError) as error:
            log.error(
                "%s: database unavailable (%s); retrying at the next run. Check that the "
                "database server is up, or that no other process holds the SQLite file",
                name,
                _first_line(error),
            )
        except Exception:
            log.exception("%s: unexpected error; the service keeps running", name)

    return run


def _first_line(error: DBAPIError) -> str:
    return str(error.orig).splitlines()[0] if error.orig else str(error)


class InFlight:
    """Counts running jobs, so that stopping can wait for them without the scheduler's locks.

    APScheduler's `shutdown(wait=True)` holds its job-store lock while it waits, and a job that
    reschedules itself needs that lock: waiting here first avoids that deadlock.
    """

    def __init__(self) -> None:
        self._count = 0
        self._changed = threading.Condition()

    @contextmanager
    def job(self) -> Iterator[None]:
        """Count the job for as long as it runs."""
        with self._changed:
            self._count += 1
        try:
            yield
        finally:
            with self._changed:
                self._count -= 1
                self._changed.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no job runs; False if one still does after `timeout` seconds."""
        with self._changed:
            return self._changed.wait_for(lambda: self._count == 0, timeout)
