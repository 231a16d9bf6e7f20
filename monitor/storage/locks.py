"""One daemon per database: a lock held for the daemon's life, and one around migrations.

PostgreSQL: session-level advisory locks on a dedicated connection (the server frees them when the
process dies, `kill -9` included). SQLite: `flock` on a file beside the database (the kernel frees
it when the process dies; a lock file is never "stale").
"""

from __future__ import annotations

import fcntl
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC
from pathlib import Path

from sqlalchemy import Connection, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from monitor.storage.engine import LOCK_NAMESPACE, RUN_LOCK, DatabaseError, safe_url, sqlite_file

APPLICATION_NAME = "orm-monitor run"


class AlreadyRunning(DatabaseError):
    """Another `orm-monitor run` holds this database; the message names it and says what to do."""


def _holder_advice(holder: str, url: str) -> str:
    return (
        f"another orm-monitor run is already using the database {safe_url(url)} ({holder}); "
        "only one daemon may run per database: stop the other one first "
        "(`systemctl stop orm-monitor`), or give this one its own service.database_url"
    )


class InstanceLock:
    """The lock a daemon holds on its database from start to stop."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._file: int | None = None
        self._connection: Connection | None = None

    def acquire(self) -> InstanceLock:
        """Take the lock, or raise AlreadyRunning naming the process that has it."""
        path = sqlite_file(self.url)
        if path is not None:
            self._file = _flock_exclusive(path.with_name(path.name + ".lock"), self.url)
        elif make_url(self.url).get_backend_name() == "postgresql":
            self._connection = _advisory_lock(self.url)
        return self

    def release(self) -> None:
        """Give the lock back (dying does so too)."""
        if self._file is not None:
            os.close(self._file)  # closing the descriptor drops the flock
            self._file = None
        if self._connection is not None:
            engine = self._connection.engine
            self._connection.close()
            engine.dispose()
            self._connection = None


@contextmanager
def single_instance(url: str) -> Iterator[InstanceLock]:
    """Hold the daemon's lock on the database at `url` for the duration of the block."""
    lock = InstanceLock(url).acquire()
    try:
        yield lock
    finally:
        lock.release()


def _flock_exclusive(path: Path, url: str) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "a process"
        os.close(fd)
        raise AlreadyRunning(_holder_advice(f"{holder}; lock file {path}", url)) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()}\n".encode(), 0)
    return fd


def _advisory_lock(url: str) -> Connection:
    name = f"{APPLICATION_NAME} pid {os.getpid()} on {socket.gethostname()}"[:63]
    engine = create_engine(url, poolclass=NullPool, connect_args={"application_name": name})
    try:
        connection = engine.connect()
        taken = connection.execute(
            text("SELECT pg_try_advisory_lock(:ns, :key)"), {"ns": LOCK_NAMESPACE, "key": RUN_LOCK}
        ).scalar()
        connection.commit()  # session-level: the lock outlives the transaction
    except DBAPIError as error:
        engine.dispose()
        raise DatabaseError(
            f"cannot open the database at {safe_url(url)}: {error.orig} "
            "(check service.database_url and that the server is running)"
        ) from None
    if not taken:
        holder = _advisory_holder(connection)
        connection.close()
        engine.dispose()
        raise AlreadyRunning(_holder_advice(holder, url))
    return connection


def _advisory_holder(connection: Connection) -> str:
    row = connection.execute(
        text(
            "SELECT a.pid, a.application_name, a.client_addr, a.backend_start "
            "FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
            "WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2 "
            "AND l.classid = CAST(:ns AS oid) AND l.objid = CAST(:key AS oid) "
            "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        ),
        {"ns": LOCK_NAMESPACE, "key": RUN_LOCK},
    ).first()
    if row is None:
        return "a process that has just stopped: try again"
    who = row.application_name or "a client"
    where = f" from {row.client_addr}" if row.client_addr else ""
    since = (
        row.backend_start.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
        if row.backend_start
        else "?"
    )
    return f"{who}{where}, server pid {row.pid}, connected since {since}"
