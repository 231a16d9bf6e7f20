"""Storage: migrations on both databases, SQLite's durability settings, UTC everywhere."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import inspect, select, text

from monitor.cli.app import main
from monitor.storage import models
from monitor.storage.engine import Database, DatabaseError

TABLES = {
    "schools",
    "accounts",
    "items",
    "item_versions",
    "assessments",
    "windows",
    "incidents",
    "outbox",
    "connector_state",
    "audit_log",
    "source_outages",
    "digests",
    "alembic_version",
}


def test_migrations_create_every_table_and_are_idempotent(db: Database) -> None:
    db.upgrade()
    assert set(inspect(db.engine).get_table_names()) >= TABLES


def test_sqlite_runs_in_wal_mode_with_full_sync_and_a_busy_timeout(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'x.db'}")
    with db.engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA synchronous")).scalar() == 2  # FULL
        assert connection.execute(text("PRAGMA busy_timeout")).scalar() == 15000
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1


def test_times_are_stored_in_utc_and_read_back_aware(db: Database) -> None:
    paris = timezone(timedelta(hours=1))
    with db.session() as session:
        session.add(
            models.School(id="s", name="S", created_at=datetime(2026, 3, 29, 2, 30, tzinfo=paris))
        )
    with db.session() as session:
        created = session.scalars(select(models.School.created_at)).one()
    assert created == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    assert created.utcoffset() == timedelta(0)


def test_naive_datetimes_are_refused(db: Database) -> None:
    with pytest.raises(Exception, match="naive datetime"), db.session() as session:
        session.add(models.School(id="s", name="S", created_at=datetime(2026, 1, 1)))
        session.flush()


def test_an_unwritable_database_gives_a_clear_error(tmp_path: Path) -> None:
    locked = tmp_path / "ro"
    locked.mkdir()
    (locked / "x.db").write_bytes(b"this is not a database")
    with pytest.raises(DatabaseError, match="cannot migrate the database"):
        Database(f"sqlite:///{locked / 'x.db'}").upgrade()


def test_db_upgrade_command_migrates_the_configured_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--demo", "--state-dir", str(tmp_path), "db", "upgrade"]) == 0
    assert "newest schema" in capsys.readouterr().out
    db = Database(f"sqlite:///{tmp_path / 'orm-monitor.db'}")
    assert set(inspect(db.engine).get_table_names()) >= TABLES


def test_status_never_creates_nor_migrates_the_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from alembic import command

    from monitor.storage.engine import alembic_config

    demo = ["--demo", "--state-dir", str(tmp_path)]
    file = tmp_path / "orm-monitor.db"
    assert main([*demo, "status"]) == 1
    assert f"there is no database at {file} yet" in capsys.readouterr().err
    assert not file.exists()
    url = f"sqlite:///{file}"
    command.upgrade(alembic_config(url), "0004")  # a database an older version left behind
    assert main([*demo, "status"]) == 1
    err = capsys.readouterr().err
    assert "the database needs `orm-monitor db upgrade`: it is at revision 0004" in err
    assert Database(url).pending_migration() is not None  # still at 0004
    assert main([*demo, "db", "upgrade"]) == 0
    assert main([*demo, "status"]) == 0
    assert Database(url).pending_migration() is None


def test_the_migrations_build_exactly_the_schema_the_models_describe(db: Database) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    with db.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), models.Base.metadata)
    assert differences == []
