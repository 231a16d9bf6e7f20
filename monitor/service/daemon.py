"""The daemon: APScheduler runs a job per source, the dispatcher, housekeeping and the watchdog."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import text

from connectors import default_registry
from connectors.base import Registry
from monitor.config.schema import OrmConfig
from monitor.config.secrets import read_secret
from monitor.delivery.channels import ChannelCache
from monitor.delivery.dispatcher import Dispatcher
from monitor.delivery.journal import SentJournal
from monitor.digest.delivery import DigestJob
from monitor.flow import health
from monitor.flow.pipeline import Pipeline
from monitor.flow.review import ReviewSummary
from monitor.flow.spikes import SpikeWatch
from monitor.replies.links import LinkSigner, link_secret
from monitor.replies.reminders import ReplyClock
from monitor.service.jobs import InFlight, guarded
from monitor.service.sdnotify import Notifier
from monitor.storage.engine import Database, database_url
from monitor.storage.ingest import sync_config
from monitor.storage.models import utcnow
from monitor.web.one_click import WebServer, WindowLinks

log = logging.getLogger(__name__)

MISFIRE_GRACE_SECONDS = 300
TICK = timedelta(seconds=10)
HOUSEKEEPING = timedelta(minutes=5)
REPLY_CLOCK = timedelta(seconds=60)
SPIKE_CHECK = timedelta(hours=1)
DIGEST_CHECK = timedelta(minutes=5)
NOW = timedelta(0)
PeriodicJob = tuple[str, str, Callable[[], None], timedelta, timedelta | None]
"""(job id, name in logs, the job, how often, first run after start; None: one period after)."""
STARTUP_SLACK = timedelta(minutes=10)
"""A source unpolled for two intervals plus this when the service starts was not watched."""
STOP_WAIT_SECONDS = 100
"""How long stopping waits for a running job (systemd's TimeoutStopSec is 120)."""


class Service:
    """Everything the daemon runs, wired to one configuration."""

    def __init__(
        self,
        config: OrmConfig,
        *,
        registry: Registry | None = None,
        secrets: Callable[[str], str] = read_secret,
        notifier: Notifier | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.config = config
        state_dir = Path(config.service.state_dir)
        self.db = Database(database_url(config, secrets))
        self.registry = registry or default_registry()
        secret = link_secret(state_dir, config.service.link_secret_credential, secrets)
        self.signer = LinkSigner(secret, config.service.link_valid_days)
        self.reply_clock = ReplyClock(self.db, config, self.signer, clock=clock)
        self.spikes = SpikeWatch(self.db, config, clock=clock)
        self.reviews = ReviewSummary(self.db, config, clock=clock)
        self.digests = DigestJob(self.db, config, clock=clock)
        self.pipeline = Pipeline(
            self.db,
            config,
            self.registry,
            secrets=secrets,
            clock=clock,
            links=self.reply_clock.links,
        )
        self.channels = ChannelCache(secrets)
        journal = SentJournal.in_state_dir(state_dir)
        self.dispatcher = Dispatcher(self.db, config, self.channels.get, journal, clock=clock)
        self.web: WebServer | None = None
        self.notifier = notifier or Notifier()
        self.stopping = threading.Event()
        self.in_flight = InFlight()
        self.scheduler = BackgroundScheduler(
            timezone=UTC,
            executors={"default": ThreadPoolExecutor(self._workers())},
            job_defaults={
                "max_instances": 1,
                "coalesce": True,
                "misfire_grace_time": MISFIRE_GRACE_SECONDS,
            },
        )

    def _workers(self) -> int:
        """A thread per job (each runs one instance at most): a source slow up to its poll
        deadline never holds back another source's poll or the service's own jobs."""
        sources = sum(1 for _, source in self.config.sources() if source.enabled)
        return sources + len(self._periodic_jobs())

    def prepare(self) -> None:
        """Migrate, record the config's schools and sources, settle sends a crash interrupted."""
        self.db.upgrade()
        for school in self.config.schools:
            self.pipeline.classifier(school)  # load the model now: errors show at start, once
        now = self.pipeline.clock()
        with self.db.session() as session:
            sync_config(session, self.config)
            for _, source in self.config.sources():
                expected = 2 * health.interval(source, self.pipeline.default_minutes(source))
                health.resume_on_start(session, source, now, expected + STARTUP_SLACK)
        self.dispatcher.reconcile()

    def start(self) -> None:
        """Prepare and start the scheduler; tells systemd we are ready."""
        self.prepare()
        now = utcnow()
        enabled = [s for _, s in self.config.sources() if s.enabled]
        for index, source in enumerate(enabled):
            self.scheduler.add_job(
                self._counted(self.poll_job, f"poll {source.id}"),
                "interval",
                args=[source.id],
                id=f"poll:{source.id}",
                name=f"poll {source.id}",
                minutes=self._interval_minutes(source.id),
                next_run_time=now + timedelta(seconds=2 * index),
            )
        for job_id, name, job, every, first in self._periodic_jobs():
            when = {} if first is None else {"next_run_time": now + first}
            self.scheduler.add_job(
                self._counted(job, name),
                "interval",
                id=job_id,
                name=name,
                seconds=every.total_seconds(),
                **when,
            )
        self._start_web()
        self.scheduler.start()
        status = f"watching {len(enabled)} source(s) for {len(self.config.schools)} school(s)"
        self.notifier.send(READY="1", STATUS=status)
        log.info("orm-monitor started: %s", status)

    def _periodic_jobs(self) -> list[PeriodicJob]:
        """The service's own jobs besides polling, each with when it first runs after start."""
        dispatch = timedelta(seconds=self.config.alerts.interval_seconds)
        return [
            ("dispatch", "dispatcher", self.dispatch_job, dispatch, NOW),
            ("housekeeping", "housekeeping", self.housekeeping_job, HOUSEKEEPING, None),
            ("tick", "watchdog tick", self.tick_job, TICK, NOW),
            ("reply-clock", "reply clock", self.reply_clock_job, REPLY_CLOCK, NOW),
            ("reviews", "review summary", self.review_job, REPLY_CLOCK, NOW),
            ("spikes", "spike check", self.spike_job, SPIKE_CHECK, timedelta(minutes=5)),
            # a digest missed while the service was down goes out soon after it starts
            ("digest", "weekly digest", self.digest_job, DIGEST_CHECK, timedelta(seconds=30)),
        ]

    def _start_web(self) -> None:
        listen = self.config.service.web_listen
        if listen is None:
            return
        try:
            self.web = WebServer(WindowLinks(self.db, self.signer), listen)
        except OSError as error:
            log.error(
                "cannot serve one-click links on %s: %s (set service.web_listen to a free "
                "address, or leave it out to close windows only with orm-monitor)",
                listen,
                error.strerror,
            )
            return
        self.web.start()

    def reply_clock_job(self) -> None:
        """Queue due reminders, breach escalations and the morning summary."""
        report = self.reply_clock.tick()
        if report.reminders or report.breaches or report.summaries:
            log.info(
                "reply clock: %d reminder(s), %d breach(es), %d summary(ies)",
                report.reminders,
                report.breaches,
                report.summaries,
            )
            self._wake_dispatcher()

    def review_job(self) -> None:
        """Each working-day morning, the DSLs' summary of posts held for review."""
        if self.reviews.tick():
            log.info("review summary queued for the DSLs")
            self._wake_dispatcher()

    def spike_job(self) -> None:
        """The hourly possible-crisis check."""
        self.spikes.check()
        self._wake_dispatcher()

    def digest_job(self) -> None:
        """Queue each weekly digest that is due and not yet sent (a missed one included)."""
        if self.digests.run():
            self._wake_dispatcher()

    def _interval_minutes(self, source_id: str) -> float:
        return self.pipeline.default_minutes(self.config.source(source_id)[1])

    def poll_job(self, source_id: str) -> None:
        """Poll one source, classify and route what it found, then reschedule from its health."""
        if self.stopping.is_set():
            return
        outcome = self.pipeline.poll(source_id)
        if outcome.counts.new or outcome.counts.edited:
            log.info(
                "source %s: %d new, %d edited item(s)",
                source_id,
                outcome.counts.new,
                outcome.counts.edited,
            )
        self.pipeline.assess_pending()
        self._reschedule(source_id)
        self._wake_dispatcher()

    def _counted(self, job: Callable[..., None], name: str) -> Callable[..., None]:
        """A guarded job that `stop` waits for."""
        run = guarded(job, name)

        def counted(*args: object) -> None:
            with self.in_flight.job():
                run(*args)

        return counted

    def _reschedule(self, source_id: str) -> None:
        if self.stopping.is_set():
            return  # the scheduler is going away; the next start plans from the database
        with self.db.session() as session:
            state = health.state_of(session, source_id)
            auth_failed, next_poll_at = state.auth_failed, state.next_poll_at
        job_id = f"poll:{source_id}"
        if auth_failed:
            self.scheduler.pause_job(job_id)
        elif next_poll_at is not None:
            self.scheduler.modify_job(job_id, next_run_time=next_poll_at)

    def _wake_dispatcher(self) -> None:
        """Deliver new alerts now rather than at the next tick (a running dispatcher finds them)."""
        if self.stopping.is_set() or not self.scheduler.running or self.dispatcher.busy:
            return
        self.scheduler.modify_job("dispatch", next_run_time=utcnow())

    def dispatch_job(self) -> None:
        """Deliver what the outbox owes."""
        report = self.dispatcher.run_once(stop=self.stopping.is_set)
        if report.delivered or report.failed:
            log.info(
                "dispatcher: %d delivered, %d to retry, %d failed",
                report.delivered,
                report.retried,
                report.failed,
            )

    def housekeeping_job(self) -> None:
        """Assess items a crash left unassessed and settle expired claims."""
        self.pipeline.assess_pending()
        self.dispatcher.reconcile()
        self.dispatcher.prune_journal()

    def tick_job(self) -> None:
        """Feed systemd's watchdog only while the scheduler runs jobs and the database answers."""
        with self.db.session() as session:
            session.execute(text("SELECT 1"))
        self.notifier.send(WATCHDOG="1")

    def run_once(self) -> None:
        """Poll every enabled source once, classify, and deliver: `orm-monitor run --once`."""
        self.prepare()
        for _, source in self.config.sources():
            if source.enabled:
                outcome = self.pipeline.poll(source.id)
                if outcome.error:
                    log.warning("source %s: %s", source.id, outcome.error)
        self.pipeline.assess_pending()
        self.reply_clock.tick()
        self.reviews.tick()
        self.digests.run()
        self.dispatcher.run_once()

    def run_forever(self) -> None:
        """Start, then block until SIGTERM or SIGINT; the job in flight finishes first."""
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        self.start()
        self.stopping.wait()
        self.stop()

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        log.info(
            "received %s: finishing the job in flight, then stopping", signal.Signals(signum).name
        )
        self.stopping.set()

    def stop(self) -> None:
        """Stop scheduling, wait for running jobs, close connections."""
        self.stopping.set()
        self.notifier.send(STOPPING="1")
        if self.scheduler.running:
            self.scheduler.pause()
            if not self.in_flight.wait_idle(STOP_WAIT_SECONDS):
                log.warning("a job is still running after %d s; stopping anyway", STOP_WAIT_SECONDS)
            self.scheduler.shutdown(wait=False)
        if self.web is not None:
            self.web.stop()
        self.pipeline.close()
        self.channels.close()
        self.db.dispose()
        log.info("orm-monitor stopped")
