"""`orm-monitor`: the daemon and the commands an IT lead and account manager use."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from pydantic import BaseModel

from connectors import default_registry
from connectors.base import ConnectorError, SourceUnavailable
from monitor.calendar.working_days import calendar_for, describe_due, due_at, parse_received
from monitor.classify.encoder import ModelMissing
from monitor.classify.rules import hash_name
from monitor.cli import classifier as cli_classifier
from monitor.cli import digest as cli_digest
from monitor.config.loading import ConfigError, Problem, load_config, load_demo_config
from monitor.config.schema import OrmConfig
from monitor.config.secrets import MissingSecret, read_secret
from monitor.corrections import retrain as learning
from monitor.demo.fake_mastodon import FakeMastodon
from monitor.flow.pipeline import Pipeline, Preview
from monitor.replies import windows
from monitor.replies.windows import school_calendar
from monitor.service import status as status_report
from monitor.service.daemon import Service
from monitor.storage.engine import Database, DatabaseError, database_url
from monitor.storage.ingest import sync_config
from monitor.storage.models import utcnow

log = logging.getLogger("orm_monitor")

DEFAULT_CONFIG = Path("/etc/orm-monitor/config.toml")
EXIT_CONFIG = 2
UNREACHABLE_FIX = (
    "check that this server reaches the address (DNS, firewall, web proxy) and try again;"
    " the daemon retries it with backoff"
)
EXIT_FAILED = 1


class UsageError(Exception):
    """A problem the user fixes by changing the command line or the environment."""


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `orm-monitor` command."""
    args = parser().parse_args(argv)
    setup_logging(args.verbose)
    try:
        return int(args.handler(args) or 0)
    except ConfigError as error:
        print(error, file=sys.stderr)
        return EXIT_CONFIG
    except (
        UsageError,
        cli_digest.DigestUsage,
        DatabaseError,
        MissingSecret,
        ModelMissing,
        KeyError,
    ) as error:
        message = error.args[0] if isinstance(error, KeyError) else error
        print(f"orm-monitor: {message}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        if args.fake_api is not None:
            args.fake_api.stop()


def parser() -> argparse.ArgumentParser:
    """The command-line interface."""
    top = argparse.ArgumentParser(prog="orm-monitor", description=__doc__)
    top.add_argument(
        "--config",
        type=Path,
        help=f"config file (default: $ORM_MONITOR_CONFIG, then {DEFAULT_CONFIG})",
    )
    top.add_argument(
        "--demo",
        action="store_true",
        help="use the embedded demo config (bundled feeds, SQLite and mail in ./var)",
    )
    top.add_argument(
        "--state-dir",
        type=Path,
        default=Path("var"),
        help="where the demo keeps its database and mail (default: ./var)",
    )
    top.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    top.set_defaults(secrets=read_secret, fake_api=None)
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _command(commands, "run", cmd_run, "run the daemon").add_argument(
        "--once", action="store_true", help="poll every source once, deliver, and exit"
    )
    poll = _command(commands, "poll", cmd_poll, "poll one source now and print what it found")
    poll.add_argument("source", help="the source id from the config")
    poll.add_argument("--dry-run", action="store_true", help="store nothing, alert nobody")
    _command(commands, "status", cmd_status, "sources, outbox and reply windows")
    due = _command(commands, "due", cmd_due, "when a reply to an item received then is due")
    due.add_argument(
        "received", help="ISO-8601 instant, e.g. 2026-12-18T18:00 (London time if no offset)"
    )
    due.add_argument("--school", help="use this school's calendar from the config")
    due.add_argument(
        "--nation",
        choices=["england", "wales", "scotland", "northern-ireland"],
        help="use this nation's bank holidays (no config needed)",
    )
    due.add_argument(
        "--urgent",
        action="store_true",
        help="a safeguarding, threat or extremism item (calendar ignored)",
    )
    respond = _command(commands, "respond", cmd_respond, "record that an item was answered")
    respond.add_argument("item", type=int, help="the item number shown in alerts and status")
    respond.add_argument("--note", help="what was done, for the record")
    respond.add_argument("--by", default=_user(), help="who answered (default: you)")
    dismiss = _command(commands, "dismiss", cmd_dismiss, "record that an item needs no reply")
    dismiss.add_argument("item", type=int, help="the item number shown in alerts and status")
    dismiss.add_argument("--reason", required=True, help="why no reply is needed")
    dismiss.add_argument("--by", default=_user(), help="who decided (default: you)")
    check = _command(commands, "check-config", cmd_check_config, "validate the config")
    check.add_argument("--probe", action="store_true", help="make one real request per source")
    db = _command(commands, "db", None, "database maintenance")
    db_commands = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    _command(db_commands, "upgrade", cmd_db_upgrade, "migrate the database to the newest schema")
    watch = _command(commands, "watchlist", None, "pupil watch lists")
    watch_commands = watch.add_subparsers(dest="watch_command", required=True, metavar="ACTION")
    hash_cmd = _command(
        watch_commands,
        "hash",
        cmd_watchlist_hash,
        "read pupil names (one a line) on stdin, print their hashes",
    )
    hash_cmd.add_argument("--school", required=True, help="the school id (the hashes' salt)")
    classify = _command(commands, "classifier", None, "classifier tools")
    classify_commands = classify.add_subparsers(
        dest="classify_command", required=True, metavar="ACTION"
    )
    cli_classifier.add_eval_arguments(
        _command(classify_commands, "eval", cmd_classifier_eval, cli_classifier.SUMMARY)
    )
    learning.add_arguments(
        _command(classify_commands, "correct", cmd_correct, "record what the classifier got wrong"),
        _command(classify_commands, "train", cmd_train, "refit a school's heads from corrections"),
    )
    cli_digest.add_digest_arguments(_command(commands, "digest", cmd_digest, cli_digest.SUMMARY))
    incident = _command(commands, "incident", None, "the case log of serious items")
    incident_commands = incident.add_subparsers(
        dest="incident_command", required=True, metavar="ACTION"
    )
    cli_digest.add_incident_arguments(
        _command(incident_commands, "close", cmd_incident_close, "close an incident with a note"),
        _user(),
    )
    models = _command(commands, "models", None, "classifier models")
    models_commands = models.add_subparsers(dest="models_command", required=True, metavar="ACTION")
    cli_classifier.add_pull_arguments(
        _command(models_commands, "pull", cmd_models_pull, cli_classifier.PULL_SUMMARY)
    )
    return top


def _command(
    group: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    handler: Callable[[argparse.Namespace], int] | None,
    help_text: str,
) -> argparse.ArgumentParser:
    command = group.add_parser(name, help=help_text, description=help_text)
    command.set_defaults(handler=handler)
    return command


def setup_logging(verbose: bool) -> None:
    """Log to stderr; under systemd the journal adds the timestamps."""
    fmt = "%(levelname)s %(name)s: %(message)s"
    if "JOURNAL_STREAM" not in os.environ:
        fmt = "%(asctime)s " + fmt
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, format=fmt)
    for noisy in ("apscheduler", "httpx", "httpcore", "alembic", "msal"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def config_from(args: argparse.Namespace) -> OrmConfig:
    """The config named on the command line, in the environment, or the default path."""
    config = _load(args)
    if not args.verbose:
        logging.getLogger().setLevel(config.service.log_level)
    return config


def _load(args: argparse.Namespace) -> OrmConfig:
    if args.demo:
        args.fake_api = FakeMastodon().start()
        args.secrets = args.fake_api.secrets(read_secret)
        return load_demo_config(args.state_dir.resolve(), mastodon_url=args.fake_api.url)
    path = args.config or os.environ.get("ORM_MONITOR_CONFIG")
    if path is None and DEFAULT_CONFIG.exists():
        path = DEFAULT_CONFIG
    if path is None:
        raise UsageError(
            "no configuration: pass --config FILE, set ORM_MONITOR_CONFIG, "
            "or try the bundled demo with --demo"
        )
    return load_config(path)


def cmd_run(args: argparse.Namespace) -> int:
    """Run the daemon (or one round with --once)."""
    config = config_from(args)
    if args.demo:
        log.info("demo mode: alerts are written to %s", (args.state_dir / "mail").resolve())
    service = Service(config, secrets=args.secrets)
    if args.once:
        service.run_once()
        service.stop()
    else:
        service.run_forever()
    return 0


def _pipeline(config: OrmConfig, secrets: Callable[[str], str]) -> Pipeline:
    db = _database(config, secrets)
    with db.session() as session:
        sync_config(session, config)
    return Pipeline(db, config, default_registry(), secrets=secrets)


def cmd_poll(args: argparse.Namespace) -> int:
    """Poll one source and print each item with its labels."""
    config = config_from(args)
    config.source(args.source)
    pipeline = _pipeline(config, args.secrets)
    try:
        if args.dry_run:
            previews = pipeline.preview(args.source)
            print(f"{args.source}: {len(previews)} item(s) fetched (dry run: nothing stored)")
            for preview in previews:
                print(describe_preview(preview))
            return 0
        outcome = pipeline.poll(args.source)
        if outcome.error:
            print(f"{args.source}: {outcome.error}", file=sys.stderr)
            return EXIT_FAILED
        assessed = pipeline.assess_pending()
        print(
            f"{args.source}: {outcome.counts.new} new, {outcome.counts.edited} edited, "
            f"{outcome.counts.unchanged} unchanged; {assessed} classified "
            "(alerts are delivered by the running service)"
        )
        for found in status_report.classified(pipeline.db, outcome.counts.changed_ids):
            print(describe(found))
        return 0
    except ConnectorError as error:
        print(f"{args.source}: {error.one_line()}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        pipeline.close()


def describe_preview(preview: Preview) -> str:
    """One fetched item, its labels and who would be told, for the terminal."""
    item, decision = preview.item, preview.decision
    who = sorted({d.recipient.name or d.recipient.address for d in decision.destinations})
    return describe(
        status_report.Classified(
            severity=str(decision.severity),
            labels=[str(label) for label in decision.labels],
            recipients=who,
            kind=str(item.kind),
            external_id=item.external_id,
            url=item.url,
            text=item.text,
        )
    )


def describe(found: status_report.Classified) -> str:
    """One item with its severity, labels and recipients, in three lines."""
    text = " ".join(found.text.split())
    excerpt = text[:117] + "…" if len(text) > 120 else text
    labels = ", ".join(found.labels) or "no labels"
    who = ", ".join(found.recipients) or "nobody"
    return (
        f"- [{found.severity}] {labels} → {who}\n"
        f"  {found.kind} {found.external_id[:60]} {found.url or ''}\n  {excerpt!r}"
    )


def cmd_status(args: argparse.Namespace) -> int:
    """Print each source's health, the outbox and open windows."""
    config = config_from(args)
    db = _database(config, args.secrets)
    print(status_report.render(status_report.collect(db, config), config.service.timezone))
    return 0


def _user() -> str:
    return os.environ.get("SUDO_USER") or os.environ.get("USER") or "unknown"


def cmd_due(args: argparse.Namespace) -> int:
    """Print when a reply to an item received at RECEIVED is due."""
    if args.nation and args.school:
        raise UsageError("give --school or --nation, not both")
    if args.nation:
        calendar = calendar_for(args.nation)
        hours = 24.0
    else:
        config = config_from(args)
        school = config.school(args.school) if args.school else config.schools[0]
        calendar, hours = school_calendar(school), school.reply_windows.hours
    try:
        received = parse_received(args.received)
    except ValueError as error:
        raise UsageError(str(error)) from None
    due = due_at(received, calendar, hours=hours, urgent=args.urgent)
    print(describe_due(received, due, calendar, hours=hours, urgent=args.urgent))
    return 0


def cmd_respond(args: argparse.Namespace) -> int:
    """Close an item's reply window as answered."""
    return _close_window(args, "answered", args.note)


def cmd_dismiss(args: argparse.Namespace) -> int:
    """Close an item's reply window as needing no reply."""
    return _close_window(args, "dismissed", args.reason)


def _close_window(args: argparse.Namespace, how: str, note: str | None) -> int:
    config = config_from(args)
    db = _database(config, args.secrets)
    try:
        with db.session() as session:
            window = windows.close(session, args.item, how=how, by=args.by, note=note, now=utcnow())
            late = window.first_reply_at and window.first_reply_at > window.due_at
    except windows.WindowError as error:
        print(f"orm-monitor: {error}", file=sys.stderr)
        return EXIT_FAILED
    verdict = " (after its due time)" if late else ""
    print(f"item {args.item}: reply window closed as {how}{verdict}")
    return 0


def cmd_check_config(args: argparse.Namespace) -> int:
    """Validate the config (and credentials); with --probe, try every source once."""
    config = config_from(args)
    problems = missing_credentials(config, args.secrets)
    for problem in problems:
        print(problem, file=sys.stderr)
    sources = sum(1 for _ in config.sources())
    if problems:
        print(f"{len(problems)} problem(s)", file=sys.stderr)
        return EXIT_CONFIG
    print(f"config OK: {len(config.schools)} school(s), {sources} source(s)")
    return probe_sources(config, args.secrets) if args.probe else 0


def missing_credentials(
    config: OrmConfig, secrets: Callable[[str], str] = read_secret
) -> list[Problem]:
    """Every credential the config names that the process cannot read."""
    problems = []
    for i, school in enumerate(config.schools):
        problems += _channel_credentials(f"schools.{i}", school.channels, secrets)
        for j, source in enumerate(school.sources):
            for key, value in source.connector_settings().items():
                if key.endswith("_credential") and isinstance(value, str):
                    problems += _credential(f"schools.{i}.sources.{j}.{key}", value, secrets)
    if config.trust is not None:
        problems += _channel_credentials("trust", config.trust.channels, secrets)
    if config.service.database_url_credential:
        problems += _credential(
            "service.database_url_credential", config.service.database_url_credential, secrets
        )
    return problems


def _channel_credentials(
    path: str, channels: Mapping[str, BaseModel], secrets: Callable[[str], str]
) -> list[Problem]:
    problems = []
    for name, channel in channels.items():
        for key, value in channel.model_dump().items():
            if key.endswith("_credential") and value:
                problems += _credential(f"{path}.channels.{name}.{key}", value, secrets)
    return problems


def _credential(path: str, name: str, secrets: Callable[[str], str]) -> list[Problem]:
    try:
        secrets(name)
    except MissingSecret as error:
        return [Problem(path, str(error))]
    return []


def probe_sources(config: OrmConfig, secrets: Callable[[str], str] = read_secret) -> int:
    """One real request per enabled source, one line each; non-zero if any failed."""
    pipeline = Pipeline(Database("sqlite://"), config, default_registry(), secrets=secrets)
    failures = 0
    for _, source in config.sources():
        try:
            line = f"ok    {source.id}: {pipeline.connector(source.id).probe()}"
        except SourceUnavailable as error:
            failures += 1  # the daemon retries; someone running a probe wants to know what to do
            line = f"FAIL  {source.id}: {error} (fix: {UNREACHABLE_FIX})"
        except ConnectorError as error:
            failures += 1
            line = f"FAIL  {source.id}: {error.one_line()}"
        print(line)
    pipeline.close()
    return EXIT_FAILED if failures else 0


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    """Migrate the database."""
    config = config_from(args)
    _database(config, args.secrets)
    print("database is at the newest schema")
    return 0


def cmd_watchlist_hash(args: argparse.Namespace) -> int:
    """Hash pupil names from stdin so that only hashes are ever stored."""
    for line in sys.stdin:
        if line.strip():
            print(hash_name(line, args.school))
    return 0


def cmd_correct(args: argparse.Namespace) -> int:
    """Record corrections to an item's classification (see `classifier correct --help`)."""
    config = config_from(args)
    return learning.cmd_correct(args, _database(config, args.secrets), config)


def cmd_train(args: argparse.Namespace) -> int:
    """Refit a school's heads from its corrections (see `classifier train --help`)."""
    config = config_from(args)
    return learning.cmd_train(args, _database(config, args.secrets), config)


def _database(config: OrmConfig, secrets: Callable[[str], str]) -> Database:
    """The service's database, migrated (its URL may come from a credential)."""
    db = Database(database_url(config, secrets))
    db.upgrade()
    return db


def cmd_models_pull(args: argparse.Namespace) -> int:
    """Download a Hugging Face model for the classifier (see `models pull --help`)."""
    return cli_classifier.cmd_models_pull(args, config_from)


def cmd_classifier_eval(args: argparse.Namespace) -> int:
    """Score a school's classifier on a labelled CSV (see `classifier eval --help`)."""
    return cli_classifier.cmd_classifier_eval(args, config_from)


def cmd_digest(args: argparse.Namespace) -> int:
    """Build the weekly digest (see `digest --help`)."""
    config = config_from(args)
    return cli_digest.cmd_digest(args, config, _database(config, args.secrets))


def cmd_incident_close(args: argparse.Namespace) -> int:
    """Close an incident with a note."""
    config = config_from(args)
    return cli_digest.cmd_incident_close(args, _database(config, args.secrets))


if __name__ == "__main__":
    sys.exit(main())
