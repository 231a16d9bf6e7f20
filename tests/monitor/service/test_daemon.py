"""The daemon as systemd runs it: ready, watchdog, demo alerts in one poll, clean SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from email import message_from_bytes, policy
from pathlib import Path

import pytest

from monitor.cli.app import main
from monitor.service.daemon import Service
from monitor.service.sdnotify import Notifier


@contextmanager
def notify_socket(tmp_path: Path) -> Iterator[socket.socket]:
    """A datagram socket standing in for systemd's $NOTIFY_SOCKET."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(tmp_path / "notify"))
    sock.settimeout(0.2)
    try:
        yield sock
    finally:
        sock.close()


def _messages_until(sock: socket.socket, wanted: str, timeout: float) -> list[str]:
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            seen.append(sock.recv(4096).decode())
        except TimeoutError:
            continue
        if any(wanted in message for message in seen):
            return seen
    raise AssertionError(f"{wanted!r} never arrived; got {seen}")


def _mail(state: Path) -> list[Path]:
    folder = state / "mail" / "new"
    return sorted(folder.iterdir()) if folder.exists() else []


def _wait_for_mail(state: Path, count: int, timeout: float) -> list[Path]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(_mail(state)) >= count:
            return _mail(state)
        time.sleep(0.2)
    raise AssertionError(f"expected {count} alerts, found {len(_mail(state))}")


def test_the_demo_daemon_is_ready_feeds_the_watchdog_alerts_and_stops_cleanly(
    tmp_path: Path,
) -> None:
    state = tmp_path / "var"
    env = {**os.environ, "NOTIFY_SOCKET": str(tmp_path / "notify")}
    log_path = tmp_path / "daemon.log"  # a file, not a pipe: a full pipe would block the daemon
    with notify_socket(tmp_path) as sock, log_path.open("w") as log_file:
        daemon = subprocess.Popen(
            [sys.executable, "-m", "monitor.cli", "--demo", "--state-dir", str(state), "run"],
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            assert any("READY=1" in m for m in _messages_until(sock, "READY=1", 60))
            _messages_until(sock, "WATCHDOG=1", 30)
            alerts = _wait_for_mail(state, 5, 60)
            daemon.send_signal(signal.SIGTERM)
            assert daemon.wait(timeout=60) == 0
            _messages_until(sock, "STOPPING=1", 5)
        finally:
            if daemon.poll() is None:
                daemon.kill()
    log = log_path.read_text()
    assert "finishing the job in flight" in log and "orm-monitor stopped" in log
    subjects = [
        str(message_from_bytes(p.read_bytes(), policy=policy.default)["Subject"]).strip()
        for p in alerts
    ]
    assert any(s.startswith("[CRITICAL]") and "threat" in s for s in subjects)
    assert any("personal data" in s for s in subjects)


def test_the_notifier_is_silent_outside_systemd(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    notifier = Notifier()
    assert not notifier.enabled
    notifier.send(READY="1")  # nothing to talk to: must not raise


def test_run_without_a_config_says_how_to_get_one(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("ORM_MONITOR_CONFIG", raising=False)
    monkeypatch.setattr("monitor.cli.common.DEFAULT_CONFIG", Path("/nonexistent/config.toml"))
    assert main(["run"]) == 2  # a configuration problem, as check-config says
    assert (
        "pass --config FILE, set ORM_MONITOR_CONFIG, or try the bundled demo with --demo"
        in capsys.readouterr().err
    )


def test_status_lists_sources_outbox_and_windows(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--demo", "--state-dir", str(tmp_path), "run", "--once"]) == 0
    capsys.readouterr()
    assert main(["--demo", "--state-dir", str(tmp_path), "status"]) == 0
    out = capsys.readouterr().out
    assert "demo-blog-comments (st-marys): ok; 6 item(s)" in out
    assert "demo-google-alerts (st-marys): ok; 2 item(s)" in out
    assert "Outbox: 0 waiting" in out and "0 failed" in out
    assert "demo-mastodon (st-marys): ok; 2 item(s)" in out  # the fake instance of monitor.demo
    # The last blog comment (the office answered the rest) and the parent's Mastodon question;
    # the hashtag post was found by search and is owed no reply.
    assert "Open reply windows: 2" in out
    assert "after-school club" in out and "Christmas fair still on" in out
    # The demo's posts are dated just before its first run, so the windows have time left.
    assert out.count(" min left, due ") == 2 and "OVERDUE" not in out
    assert "carol singers" not in out


def test_watchlist_hash_without_the_schools_key_prints_nothing(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import io

    monkeypatch.delenv("ORM_MONITOR_CONFIG", raising=False)
    monkeypatch.setattr("monitor.cli.common.DEFAULT_CONFIG", Path("/nonexistent/config.toml"))
    monkeypatch.setattr("sys.stdin", io.StringIO("Amelia Jones\n\nOliver Smith\n"))
    # Hashes are keyed with the school's secret (named in its config): never unkeyed ones.
    assert main(["watchlist", "hash", "--school", "st-marys"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "pass --config FILE" in captured.err


def test_a_database_outage_in_a_job_is_one_clear_line_and_the_job_survives(
    caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    from monitor.service.jobs import guarded
    from tests.support.config import build, raw_config

    raw = raw_config(database_url="postgresql+psycopg://orm@127.0.0.1:9/none")
    raw["service"]["state_dir"] = str(tmp_path)
    config = build(raw)
    service = Service(config)
    guarded(service.tick_job, "watchdog tick")()
    errors = [r for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 1 and errors[0].exc_info is None
    assert errors[0].getMessage().startswith("watchdog tick: database unavailable (")
    assert "Check that the database server is up" in errors[0].getMessage()
    service.db.dispose()


def test_stopping_while_a_job_reschedules_itself_does_not_deadlock(tmp_path: Path) -> None:
    import threading

    from tests.support.config import build, raw_config

    raw = raw_config(database_url=f"sqlite:///{tmp_path / 'orm.db'}")
    raw["service"]["state_dir"] = str(tmp_path)
    service = Service(build(raw))
    service.prepare()
    running, release = threading.Event(), threading.Event()

    def slow_poll() -> None:  # a poll that finishes while the service is stopping
        running.set()
        release.wait(10)
        service.scheduler.modify_job("slow", next_run_time=None)

    service.scheduler.start()
    service.scheduler.add_job(service._counted(slow_poll, "slow"), "date", id="slow")
    assert running.wait(10)
    stopper = threading.Thread(target=service.stop)
    stopper.start()
    time.sleep(0.3)  # stop() is now waiting for the job
    release.set()
    stopper.join(15)
    assert not stopper.is_alive(), "stop() deadlocked with a job that touched the scheduler"
