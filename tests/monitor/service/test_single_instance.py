"""One daemon per database: a second `orm-monitor run` refuses to start and names the first;
the lock dies with its process; migrations by two processes at once both succeed."""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import tomli_w
from sqlalchemy import select

from monitor.service.jobs import guarded
from monitor.storage import models
from monitor.storage.engine import Database
from tests.monitor.delivery.test_fencing import slow_world
from tests.support.config import rss_source
from tests.support.postgres import empty_database_url  # noqa: F401 - the `url` fixture
from tests.support.slow_smtp import SlowSmtpServer
from tests.support.world import FEED_PATH, World

THREATS = [(f"t{i}", f"I will stab you after school, number {i}") for i in range(6)]
REFUSAL = "another orm-monitor run is already using the database"


def _cli(w: World, *args: str) -> list[str]:
    return [sys.executable, "-m", "monitor.cli", "--config", str(w.config_path), *args]


def _start(w: World, log: Path) -> subprocess.Popen[bytes]:
    w.config_path.write_text(tomli_w.dumps(w.raw), encoding="utf-8")
    with log.open("wb") as out:  # a file, not a pipe: a full pipe would block the daemon
        daemon = subprocess.Popen(_cli(w, "run"), stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while "orm-monitor started" not in log.read_text():
        assert daemon.poll() is None and time.monotonic() < deadline, log.read_text()
        time.sleep(0.2)
    return daemon


def _all_delivered(url: str, timeout: float) -> list[models.OutboxMessage]:
    db, deadline = Database(url), time.monotonic() + timeout
    try:
        while True:
            with db.session() as session:
                rows = list(session.scalars(select(models.OutboxMessage)))
            if rows and all(r.status == "delivered" for r in rows):
                return rows
            assert time.monotonic() < deadline, [(r.id, r.status) for r in rows]
            time.sleep(0.5)
    finally:
        db.dispose()


def test_a_second_daemon_on_the_same_database_refuses_to_start_and_names_the_first(
    tmp_path: Path, url: str
) -> None:
    with slow_world(tmp_path, url) as w:
        w.raw["schools"][0]["sources"] = [rss_source(w.feeds.url(FEED_PATH))]
        w.serve(*THREATS)
        first = _start(w, tmp_path / "first.log")
        try:
            second = subprocess.run(_cli(w, "run"), capture_output=True, text=True, timeout=60)
            assert second.returncode == 1
            refusal = second.stderr.strip().splitlines()[-1]
            assert REFUSAL in refusal and f"pid {first.pid} " in refusal, second.stderr
            assert "stop the other one first" in refusal
            status = subprocess.run(_cli(w, "status"), capture_output=True, text=True, timeout=60)
            assert status.returncode == 0, status.stderr  # reading needs no lock
            rows = _all_delivered(url, 60)
        finally:
            first.send_signal(signal.SIGKILL)  # the lock must die with its holder
            first.wait(30)
        assert isinstance(w.smtp, SlowSmtpServer)
        sent = w.smtp.message_ids()
        assert len(sent) == len(rows) and max(sent.values()) == 1
        third = _start(w, tmp_path / "third.log")
        third.send_signal(signal.SIGTERM)
        assert third.wait(60) == 0


def test_two_db_upgrades_of_an_empty_database_at_once_both_succeed(
    tmp_path: Path, url: str
) -> None:
    with slow_world(tmp_path, url) as w:
        w.config_path.write_text(tomli_w.dumps(w.raw), encoding="utf-8")
        for _ in range(3):
            upgrades = [
                subprocess.Popen(_cli(w, "db", "upgrade"), stderr=subprocess.PIPE, text=True)
                for _ in range(2)
            ]
            results = [(p.wait(120), p.stderr.read() if p.stderr else "") for p in upgrades]
            assert [code for code, _ in results] == [0, 0], results
            assert Database(url).pending_migration() is None


def test_a_unique_key_clash_is_logged_for_what_it_is_not_as_an_outage(
    caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    db = Database(f"sqlite:///{tmp_path / 'orm.db'}")
    db.upgrade()
    with db.session() as session:
        session.add(models.School(id="st-marys", name="St Mary's"))

    def store_the_same_school() -> None:  # as another process stored it a moment before
        with db.session() as session:
            session.add(models.School(id="st-marys", name="St Mary's"))

    with caplog.at_level(logging.ERROR):
        guarded(store_the_same_school, "poll blog")()
    (error,) = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert error.startswith("poll blog: unique-key clash (") and "UNIQUE" in error
    assert "database unavailable" not in error
    db.dispose()
