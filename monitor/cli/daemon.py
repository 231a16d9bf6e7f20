"""`run`, `poll` and `status`: the daemon, one poll by hand, and what the service is doing."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable

from connectors import default_registry
from connectors.base import ConnectorError
from monitor.cli.common import (
    EXIT_FAILED,
    Commands,
    add_command,
    config_from,
    database,
    database_as_is,
    startable_config,
)
from monitor.config.schema import OrmConfig
from monitor.flow.pipeline import Pipeline, Preview
from monitor.service import status as status_report
from monitor.service.daemon import Service
from monitor.storage.engine import database_url
from monitor.storage.ingest import sync_config
from monitor.storage.locks import single_instance

log = logging.getLogger("orm_monitor")


def register(commands: Commands) -> None:
    """Add `run`, `poll` and `status`."""
    run = add_command(commands, "run", cmd_run, "run the daemon")
    run.add_argument(
        "--once", action="store_true", help="poll every source once, deliver, and exit"
    )
    poll = add_command(commands, "poll", cmd_poll, "poll one source now and print what it found")
    for polling in (run, poll):
        polling.set_defaults(polls=True)  # the demo starts its fake Mastodon instance for these
    poll.add_argument("source", help="the source id from the config")
    poll.add_argument("--dry-run", action="store_true", help="store nothing, alert nobody")
    add_command(commands, "status", cmd_status, "sources, outbox and reply windows")


def cmd_run(args: argparse.Namespace) -> int:
    """Run the daemon (or one round with --once); a second one on the same database refuses."""
    config = startable_config(args)  # the checks of check-config: OK there means it starts
    if args.demo:
        log.info("demo mode: alerts are written to %s", (args.state_dir / "mail").resolve())
    with single_instance(database_url(config, args.secrets)):  # one daemon per database
        service = Service(config, secrets=args.secrets)
        if args.once:
            service.run_once()
            service.stop()
        else:
            service.run_forever()
    return 0


def _pipeline(config: OrmConfig, secrets: Callable[[str], str]) -> Pipeline:
    db = database(config, secrets)
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
            return _dry_run(pipeline, args.source)
        return _poll(pipeline, args.source)
    except ConnectorError as error:
        print(f"{args.source}: {error.one_line()}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        pipeline.close()


def _dry_run(pipeline: Pipeline, source_id: str) -> int:
    previews = pipeline.preview(source_id)
    print(f"{source_id}: {len(previews)} item(s) fetched (dry run: nothing stored)")
    for preview in previews:
        print(describe_preview(preview))
    return 0


def _poll(pipeline: Pipeline, source_id: str) -> int:
    outcome = pipeline.poll(source_id)
    if outcome.error:
        print(f"{source_id}: {outcome.error}", file=sys.stderr)
        return EXIT_FAILED
    assessed = pipeline.assess_pending()
    print(
        f"{source_id}: {outcome.counts.new} new, {outcome.counts.edited} edited, "
        f"{outcome.counts.unchanged} unchanged; {assessed} classified "
        "(alerts are delivered by the running service)"
    )
    for found in status_report.classified(pipeline.db, outcome.counts.changed_ids):
        print(describe(found))
    return 0


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
    db = database_as_is(config, args.secrets)  # status only reads: it never migrates
    print(status_report.render(status_report.collect(db, config), config.service.timezone))
    return 0
