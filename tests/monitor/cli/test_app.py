"""The command line: every command the README lists exists, each group adds its own commands."""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from monitor.cli.app import COMMAND_GROUPS, main, parser

README = Path(__file__).resolve().parents[3] / "README.md"
DOCUMENTED = [
    line.split()
    for line in re.findall(
        r"^\| `orm-monitor ([a-z -]+?)(?: [A-Z\[-].*?)?` \|", README.read_text(), re.M
    )
]


def commands_of(top: argparse.ArgumentParser) -> set[str]:
    subparsers = next(a for a in top._actions if isinstance(a, argparse._SubParsersAction))
    return set(subparsers.choices)


def test_the_readme_lists_every_top_level_command_and_no_other() -> None:
    assert len(DOCUMENTED) == 15
    assert {words[0] for words in DOCUMENTED} == commands_of(parser())


@pytest.mark.parametrize("words", DOCUMENTED, ids=" ".join)
def test_each_documented_command_has_its_help(
    words: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as done:
        main([*words, "--help"])
    assert done.value.code == 0
    assert f"usage: orm-monitor {' '.join(words)}" in " ".join(capsys.readouterr().out.split())


def test_each_command_group_registers_its_own_commands() -> None:
    seen: list[str] = []
    for group in COMMAND_GROUPS:
        top = argparse.ArgumentParser(prog="orm-monitor")
        group.register(top.add_subparsers())
        added = commands_of(top)
        assert added, group.__name__
        seen += added
    assert sorted(seen) == sorted(commands_of(parser()))


def test_python_dash_m_monitor_cli_is_the_same_command() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "monitor.cli", "due", "2026-12-24T15:00", "--nation", "england"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout == (
        "received Thu 24 Dec 2026 15:00 GMT → due Tue 29 Dec 2026 15:00 GMT "
        "(24 h; Christmas Day, Saturday, Sunday, Boxing Day (observed) skipped)\n"
    )


def test_the_global_options_work_after_the_command_too(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text("[service\n", encoding="utf-8")
    assert main(["check-config", "--config", str(broken)]) == 2
    after = capsys.readouterr().err
    assert main(["--config", str(broken), "check-config"]) == 2
    assert str(broken) in after and capsys.readouterr().err == after
    state = str(tmp_path / "state")
    assert main(["check-config", "--demo", "--state-dir", state, "-v"]) == 0

    def parsed(*words: str) -> tuple[object, ...]:
        args = parser().parse_args(list(words))
        return args.config, args.demo, args.state_dir, args.verbose

    default = (None, False, Path("var"), False)
    assert parsed("db", "upgrade") == default
    before = parsed("--demo", "--state-dir", state, "-v", "db", "upgrade")
    after = parsed("db", "upgrade", "--demo", "--state-dir", state, "-v")
    assert before == after == (None, True, Path(state), True)
    assert parsed("--config", "a.toml", "status")[0] == Path("a.toml")
    assert parsed("--config", "a.toml", "status", "--config", "b.toml")[0] == Path("b.toml")


def test_under_systemd_each_log_record_is_one_line_with_its_syslog_priority(
    tmp_path: Path,
) -> None:
    import logging

    from monitor.cli.app import JournalFormatter

    formatter = JournalFormatter("%(levelname)s %(name)s: %(message)s")
    try:
        raise RuntimeError("database locked")
    except RuntimeError:
        failed = logging.LogRecord(
            "x", logging.ERROR, __file__, 1, "poll failed", None, sys.exc_info()
        )
    line = formatter.format(failed)
    assert line.startswith("<3>ERROR x: poll failed") and "\n" not in line
    assert "Traceback" in line and "RuntimeError: database locked" in line
    warning = logging.LogRecord("x", logging.WARNING, __file__, 1, "slow\nfeed", None, None)
    assert formatter.format(warning) == "<4>WARNING x: slow \u23ce feed"
    env = {**os.environ, "JOURNAL_STREAM": "8:12345"}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "monitor.cli",
            "--demo",
            "--state-dir",
            str(tmp_path),
            "poll",
            "demo-google-alerts",
            "--dry-run",
        ],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    logged = done.stderr.splitlines()
    assert logged and all(line.startswith("<6>INFO ") for line in logged)
