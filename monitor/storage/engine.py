"""Engine, sessions and migrations: SQLite (WAL, synchronous=FULL) or PostgreSQL for trusts."""

from __future__ import annotations

import fcntl
import logging
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from monitor.config.schema import OrmConfig
from monitor.config.secrets import read_secret

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 15_000
LOCK_NAMESPACE = 7303789  # "orm" as an int4: the first key of every advisory lock we take
RUN_LOCK, MIGRATION_LOCK = 1, 2
"""Second keys: the running daemon (monitor.storage.locks), and a migration in progress."""


class DatabaseError(Exception):
    """The database cannot be opened or migrated; the message says what to do."""


def make_engine(url: str) -> Engine:
    """An engine for `url`; SQLite gets WAL, synchronous=FULL, a busy timeout and foreign keys."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True, future=True)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
    event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


class Database:
    """One engine and its session factory."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session whose transaction commits on success and rolls back on error."""
        with self._sessions() as session, session.begin():
            yield session

    def upgrade(self) -> None:
        """Migrate the schema to the newest revision."""
        try:
            # serialised, so that a second process waits and then finds the schema up to date
            with migration_lock(self.url), self.engine.begin() as connection:
                lock_migrations(connection)
                config = alembic_config(self.url)
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
        except DBAPIError as error:
            raise DatabaseError(
                f"cannot migrate the database at {safe_url(self.url)}: {error.orig} "
                "(check service.database_url, that the server is running and the file is writable)"
            ) from None

    def pending_migration(self) -> str | None:
        """Why the schema is not at the newest revision (None when it is); changes nothing."""
        from alembic.runtime.migration import MigrationContext
        from alembic.script import ScriptDirectory

        newest = set(ScriptDirectory.from_config(alembic_config(self.url)).get_heads())
        try:
            with self.engine.connect() as connection:
                current = set(MigrationContext.configure(connection).get_current_heads())
        except DBAPIError as error:
            raise DatabaseError(
                f"cannot read the database at {safe_url(self.url)}: {error.orig} "
                "(check service.database_url and that the server is running)"
            ) from None
        if current == newest:
            return None
        found = ", ".join(sorted(current)) or "empty"
        return f"it is at revision {found}, this version needs {', '.join(sorted(newest))}"

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()


def database_url(config: OrmConfig, secrets: Callable[[str], str] = read_secret) -> str:
    """The database URL: from its credential when the config names one."""
    credential = config.service.database_url_credential
    return secrets(credential) if credential else config.service.database_url


def alembic_config(url: str) -> AlembicConfig:
    """Alembic configuration pointing at the packaged migrations."""
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def sqlite_file(url: str) -> Path | None:
    """The database file of a SQLite URL; None for PostgreSQL or an in-memory database."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(str(parsed.database))


@contextmanager
def migration_lock(url: str) -> Iterator[None]:
    """On SQLite, a file lock beside the database around a whole migration (commit included);
    the kernel frees it if the process dies. Elsewhere nothing: see `lock_migrations`."""
    path = sqlite_file(url)
    if path is None:
        yield
        return
    fd = os.open(path.with_name(path.name + ".migrate.lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def lock_migrations(connection: Connection) -> None:
    """On PostgreSQL, an advisory lock held until the migrating transaction ends."""
    if connection.dialect.name == "postgresql":
        connection.execute(
            text("SELECT pg_advisory_xact_lock(:ns, :key)"),
            {"ns": LOCK_NAMESPACE, "key": MIGRATION_LOCK},
        )


def safe_url(url: str) -> str:
    """The database URL with any password hidden."""
    return make_url(url).render_as_string(hide_password=True)
