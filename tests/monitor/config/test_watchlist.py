"""Pupil names are kept only as hashes keyed with a secret; old unkeyed lists are refused."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest
import tomli_w

from monitor.classify.base import Label
from monitor.classify.rules import RulesLayer, hash_name
from monitor.cli.app import main
from monitor.config.schema import SchoolConfig
from monitor.config.watchlist import WatchlistError, pupil_list, read_list, school_key
from monitor.flow.pipeline import watchlists_for
from tests.support.config import build, raw_config
from tests.support.secrets import secrets_from

KEY = "the school's pupil-name key, kept as a credential"
OTHER = "another school's key, also 32 characters or more"


def test_the_same_name_with_another_key_hashes_differently() -> None:
    mine = hash_name("Jane Doe", school_key(KEY, "st-marys"))
    assert mine != hash_name("Jane Doe", school_key(OTHER, "st-marys"))
    assert mine != hash_name("Jane Doe", school_key(KEY, "oak-primary"))
    unkeyed = "sha256:" + hashlib.sha256(b"st-marys:jane doe").hexdigest()  # the old format
    assert mine.removeprefix("hmac-sha256:") != unkeyed.removeprefix("sha256:")


def test_a_key_too_short_to_be_secret_is_refused() -> None:
    with pytest.raises(WatchlistError, match="at least 32"):
        school_key("password", "st-marys")


def hash_with_cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, names: str, key: str = KEY
) -> Path:
    listed = tmp_path / "pupils.txt"
    raw = raw_config(
        database_url="sqlite://",
        pupil_name_hashes_file=str(listed),
        pupil_hash_key_credential="PUPIL_HASH_KEY",
    )
    config = tmp_path / "config.toml"
    config.write_text(tomli_w.dumps(raw))
    monkeypatch.setenv("PUPIL_HASH_KEY", key)
    monkeypatch.setattr("sys.stdin", io.StringIO(names))
    out = io.StringIO()
    monkeypatch.setattr("sys.stdout", out)
    assert main(["--config", str(config), "watchlist", "hash", "--school", "st-marys"]) == 0
    listed.write_text(out.getvalue())
    return config


def test_a_list_made_with_the_cli_matches_in_posts_and_holds_no_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hash_with_cli(tmp_path, monkeypatch, "Jane Doe\nAmir Khan\n\nJane Doe\n")
    text = (tmp_path / "pupils.txt").read_text()
    assert text.startswith("# orm-monitor pupil-name hashes v2 (HMAC-SHA256) school=st-marys")
    assert len(text.splitlines()) == 3 and "jane" not in text.casefold()
    school = pupil_school(tmp_path)
    layer = RulesLayer(watchlists_for(school, secrets_from(PUPIL_HASH_KEY=KEY)))
    assert Label.PERSONAL_DATA in {s.label for s in layer.assess_text("saw jane doe's mum")}


def pupil_school(tmp_path: Path) -> SchoolConfig:
    raw = raw_config(
        database_url="sqlite://",
        pupil_name_hashes_file=str(tmp_path / "pupils.txt"),
        pupil_hash_key_credential="PUPIL_HASH_KEY",
    )
    return build(raw).school("st-marys")


def test_a_list_made_with_another_key_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hash_with_cli(tmp_path, monkeypatch, "Jane Doe\n", key=OTHER)
    with pytest.raises(WatchlistError, match=r"made with another key.*redo the list"):
        pupil_list(pupil_school(tmp_path), secrets_from(PUPIL_HASH_KEY=KEY))


def test_an_old_unkeyed_list_is_refused_saying_how_to_redo_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    old = tmp_path / "pupils.txt"
    old.write_text("sha256:" + hashlib.sha256(b"st-marys:jane doe").hexdigest() + "\n")
    with pytest.raises(WatchlistError) as caught:
        read_list(old, school_key(KEY, "st-marys"), "st-marys")
    assert "old format held unkeyed SHA-256 hashes" in str(caught.value)
    assert f"orm-monitor watchlist hash --school st-marys < names.txt > {old}" in str(caught.value)
    raw = raw_config(
        database_url=f"sqlite:///{tmp_path}/db.sqlite",
        pupil_name_hashes_file=str(old),
        pupil_hash_key_credential="PUPIL_HASH_KEY",
    )
    raw["service"]["state_dir"] = str(tmp_path)
    config = tmp_path / "config.toml"
    config.write_text(tomli_w.dumps(raw))
    monkeypatch.setenv("PUPIL_HASH_KEY", KEY)
    assert main(["--config", str(config), "check-config"]) == 2
    err = capsys.readouterr().err
    assert "schools[st-marys].pupil_name_hashes_file:" in err and "redo the list" in err


def test_a_pupil_list_without_a_key_credential_is_a_config_problem(tmp_path: Path) -> None:
    raw = raw_config(database_url="sqlite://", pupil_name_hashes_file=str(tmp_path / "p.txt"))
    with pytest.raises(Exception, match=r"schools\[st-marys\]\.pupil_hash_key_credential"):
        build(raw)
