"""Two dispatchers on one outbox: a claim is re-checked right before each send (fencing), so an
alert whose claim ran out and was taken over is sent by one of them only."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from monitor.delivery.channels import ChannelCache
from monitor.delivery.dispatcher import Dispatcher
from monitor.delivery.journal import SentJournal
from monitor.storage import models
from monitor.storage.engine import Database
from tests.monitor.delivery.test_dispatcher import _queue, _rows
from tests.support.clock import Clock
from tests.support.config import raw_config
from tests.support.http import local_server
from tests.support.postgres import empty_database_url  # noqa: F401 - the `url` fixture
from tests.support.slow_smtp import SlowSmtpServer, slow_smtp_server
from tests.support.world import World

LEASE = 10  # alerts.lease_seconds, its smallest allowed value


@contextmanager
def slow_world(tmp_path: Path, url: str) -> Iterator[World]:
    """A config whose email channel is an SMTP sink taking 0.5 s per message."""
    with local_server() as feeds, slow_smtp_server(0.5) as smtp:
        raw = raw_config(
            database_url=url,
            channels={
                "email": {
                    "type": "smtp",
                    "host": smtp.host,
                    "port": smtp.port,
                    "security": "none",
                    "from_address": "alerts@school.example",
                }
            },
        )
        raw["service"]["state_dir"] = str(tmp_path / "state")
        raw["alerts"]["lease_seconds"] = LEASE
        yield World(feeds, smtp, raw, tmp_path / "config.toml", tmp_path / "state")


def _dispatcher(w: World, db: Database, name: str, clock: Clock | None = None) -> Dispatcher:
    journal = SentJournal(w.state_dir / f"{name}-journal.tsv")  # separate hosts, separate journals
    if clock is None:
        return Dispatcher(db, w.config, ChannelCache().get, journal)
    return Dispatcher(db, w.config, ChannelCache().get, journal, clock=clock)


def _sink(w: World) -> SlowSmtpServer:
    assert isinstance(w.smtp, SlowSmtpServer)
    return w.smtp


def test_a_dispatcher_whose_claims_were_taken_over_sends_none_of_them(
    tmp_path: Path, url: str
) -> None:
    clock = Clock()
    with slow_world(tmp_path, url) as w:
        first, second = Database(url), Database(url)
        first.upgrade()
        addresses = [f"lead{i}@school.example" for i in range(4)]
        _queue(w, first, *addresses)
        slow = _dispatcher(w, first, "slow", clock)
        other = _dispatcher(w, second, "other", clock)
        calls: list[int] = []

        def meanwhile() -> bool:  # asked before claiming, then before each send
            if len(calls) == 1:  # after claiming, before the first send: the lease runs out
                clock.advance(LEASE + 1)
                assert other.run_once().delivered == len(addresses)
            calls.append(1)
            return False

        report = slow.run_once(stop=meanwhile)
        assert (report.delivered, report.taken_over) == (0, len(addresses))
        assert sorted(_sink(w).message_ids().values()) == [1] * len(addresses)
        assert {row.status for row in _rows(first)} == {"delivered"}
        first.dispose()
        second.dispose()


def test_a_claim_within_its_lease_is_left_alone_when_another_daemon_starts(
    tmp_path: Path, url: str
) -> None:
    with slow_world(tmp_path, url) as w:
        db = Database(url)
        db.upgrade()
        _queue(w, db, "dsl@school.example")
        with db.session() as session:  # as a dispatcher elsewhere holds it while it sends
            row = session.scalars(select(models.OutboxMessage)).one()
            row.status, row.attempts, row.claim_token = "sending", 1, "someone-else"
            row.claimed_until = models.utcnow() + timedelta(seconds=LEASE)
        service = w.service()
        service.prepare()
        assert service.dispatcher.run_once().delivered == 0
        row = _rows(db)[0]
        assert (row.status, row.claim_token) == ("sending", "someone-else")
        assert _sink(w).messages == []
        service.stop()
        db.dispose()


def _drain(dispatcher: Dispatcher, done: threading.Event, deadline: float) -> None:
    while not done.is_set() and time.monotonic() < deadline:
        dispatcher.run_once()
        time.sleep(0.2)


def test_two_dispatchers_racing_with_a_short_lease_deliver_every_alert_exactly_once(
    tmp_path: Path, url: str
) -> None:
    with slow_world(tmp_path, url) as w:
        dbs = [Database(url), Database(url)]
        dbs[0].upgrade()
        count = 30  # 15 s of sending for one dispatcher: longer than the 10 s lease
        _queue(w, dbs[0], *[f"lead{i}@school.example" for i in range(count)])
        done, deadline = threading.Event(), time.monotonic() + 90
        workers = [
            threading.Thread(target=_drain, args=(_dispatcher(w, db, f"d{n}"), done, deadline))
            for n, db in enumerate(dbs)
        ]
        workers[0].start()
        time.sleep(1)  # the first claims the whole batch; the second finds its lease run out
        workers[1].start()
        while time.monotonic() < deadline and any(r.status != "delivered" for r in _rows(dbs[0])):
            time.sleep(0.5)
        time.sleep(2 * LEASE / 10)  # anything still in flight arrives
        done.set()
        for worker in workers:
            worker.join(30)
        sent = _sink(w).message_ids()
        assert len(sent) == count and max(sent.values()) == 1, sent.most_common(3)
        assert {row.status for row in _rows(dbs[0])} == {"delivered"}
        for db in dbs:
            db.dispose()
