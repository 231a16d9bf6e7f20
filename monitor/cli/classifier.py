"""`classifier eval|correct|train`: measure the classifier, correct it, retrain a school's heads."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from connectors import default_registry
from monitor.classify import build_classifier, model_layer
from monitor.classify.base import Classifier, Label, Sentiment, Watchlists
from monitor.classify.corpus import CRITICAL_TASKS, SEEDS, TASKS
from monitor.classify.evaluate import (
    DEFAULT_BATCH,
    TASK_NAMES,
    ExamplesError,
    assess_rows,
    load_examples,
    ratio,
    score_rows,
    task_named,
    write_predictions,
)
from monitor.classify.settings import PROFILES, ClassifierConfig
from monitor.cli.common import (
    EXIT_CONFIG,
    EXIT_FAILED,
    Commands,
    add_actions,
    add_command,
    config_from,
    config_if_any,
    database,
)
from monitor.config.schema import OrmConfig
from monitor.corrections import feedback
from monitor.corrections.retrain import retrain
from monitor.flow.pipeline import Pipeline
from monitor.storage.engine import Database

PROGRESS_EVERY_S = 2.0
SUMMARY = "score a school's classifier on a labelled CSV"
EPILOG = f"""\
tasks and the CSV each reads (UTF-8, header row first):
  sentiment     text,label   label: negative, neutral or positive
  offensive     text,label   label: offensive or not_offensive (offensive = any of
                             insult, harassment, threat, hate or sexual was raised)
  LABEL         text,label   label: LABEL or not_LABEL, for each classifier label:
                             {", ".join(Label)}
  labels        text,labels  labels: the row's labels separated by ';' (may be empty);
                             scores all {len(Label)} labels, with micro and macro averages
                             and accuracy = the share of rows matched exactly

Progress goes to stderr. The last line on stdout is one JSON object: task, n, accuracy,
macro_precision, macro_recall, macro_f1, micro_precision, micro_recall, micro_f1,
per_label ({{label: {{precision, recall, f1, support}}}}), items_per_s, model_version.

example:
  orm-monitor --demo classifier eval threats.csv --task threat
"""


def register(commands: Commands) -> None:
    """Add `classifier eval`, `classifier correct` and `classifier train`."""
    group = add_command(commands, "classifier", None, "classifier tools")
    actions = add_actions(group, "classify_command")
    _eval_arguments(add_command(actions, "eval", cmd_classifier_eval, SUMMARY))
    _correct_arguments(
        add_command(actions, "correct", cmd_correct, "record what the classifier got wrong")
    )
    _train_arguments(
        add_command(actions, "train", cmd_train, "refit a school's heads from corrections")
    )


def _eval_arguments(command: argparse.ArgumentParser) -> None:
    """The arguments and help of `classifier eval`."""
    command.formatter_class = argparse.RawDescriptionHelpFormatter
    command.epilog = EPILOG
    command.add_argument("file", type=Path, metavar="FILE.csv", help="the labelled texts")
    command.add_argument(
        "--task", required=True, choices=TASK_NAMES, metavar="TASK", help="what to score (below)"
    )
    command.add_argument("--school", help="whose classifier (default: the config's first school)")
    command.add_argument(
        "--profile",
        choices=PROFILES,
        help="classifier profile (default: the config's, or `default` without a config)",
    )
    command.add_argument(
        "--predictions",
        type=Path,
        metavar="OUT.csv",
        help="also write each row's expected and predicted labels, scores and what fired",
    )
    command.add_argument(
        "--batch-size",
        type=_positive,
        default=DEFAULT_BATCH,
        metavar="N",
        help=f"texts per classifier call (default: {DEFAULT_BATCH})",
    )


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {number}")
    return number


def cmd_classifier_eval(args: argparse.Namespace) -> int:
    """Score the school's classifier on FILE.csv; print the scores as JSON, last on stdout."""
    task = task_named(args.task)
    try:
        examples = load_examples(args.file, task)
    except ExamplesError as error:
        print(f"orm-monitor: {error}", file=sys.stderr)
        return EXIT_CONFIG
    config = config_if_any(args)
    classifier = school_classifier(config, args.school, args.secrets, args.profile)
    assessed = assess_rows(classifier, examples, args.batch_size, StderrProgress())
    if args.predictions is not None:
        write_predictions(args.predictions, task, examples, assessed.assessments)
        print(f"wrote {len(examples):,} predictions to {args.predictions}", file=sys.stderr)
    print(json.dumps(score_rows(task, examples, assessed).summary()))
    return 0


def school_classifier(
    config: OrmConfig | None,
    school_id: str | None,
    secrets: Callable[[str], str],
    profile: str | None = None,
) -> Classifier:
    """The classifier the pipeline would use for this school (default: the first one); without
    a config, the built-in one (no watch lists)."""
    if config is None:
        chosen = profile or "default"
        print(f"no config: scoring the built-in classifier ({chosen} profile)", file=sys.stderr)
        return build_classifier(Watchlists(), model_layer(ClassifierConfig(profile=chosen)))
    if profile is not None:
        settings = config.classifier.model_copy(update={"profile": profile})
        config = config.model_copy(update={"classifier": settings})
    school = config.school(school_id) if school_id else config.schools[0]
    pipeline = Pipeline(Database("sqlite://"), config, default_registry(), secrets=secrets)
    return pipeline.classifier(school)


class StderrProgress:
    """A progress bar with the rate and time left, on stderr: redrawn in place on a terminal,
    a line every few seconds otherwise (logs, CI)."""

    WIDTH = 20

    def __init__(
        self,
        stream: TextIO | None = None,
        every_s: float = PROGRESS_EVERY_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream, self.every_s, self.clock = stream, every_s, clock
        self.started = self.last = clock()

    def __call__(self, done: int, total: int) -> None:
        now = self.clock()
        if done < total and now - self.last < self.every_s:
            return
        self.last = now
        stream = self.stream or sys.stderr  # looked up late: tests and callers swap sys.stderr
        line = self.line(done, total, now - self.started)
        if stream.isatty():
            print(f"\r{line}", end="\n" if done >= total else "", file=stream, flush=True)
        else:
            print(line, file=stream, flush=True)

    def line(self, done: int, total: int, elapsed: float) -> str:
        """`classified 640/2,000 [######--------------]  32%  512 items/s, ETA 3 s`."""
        share = ratio(done, total)
        filled = int(self.WIDTH * share)
        rate = ratio(done, elapsed)
        when = (
            f"in {_duration(elapsed)}"
            if done >= total
            else f"ETA {_duration(ratio(total - done, rate))}"
            if rate
            else "ETA unknown"
        )
        bar = "#" * filled + "-" * (self.WIDTH - filled)
        return f"classified {done:,}/{total:,} [{bar}] {share:4.0%}  {rate:,.0f} items/s, {when}"


def _duration(seconds: float) -> str:
    whole = round(seconds)
    if whole < 60:
        return f"{whole} s"
    if whole < 3600:
        return f"{whole // 60} min {whole % 60:02d} s"
    return f"{whole // 3600} h {whole % 3600 // 60:02d} min"


def _correct_arguments(correct: argparse.ArgumentParser) -> None:
    """Arguments of `classifier correct`."""
    labels = [str(label) for label in Label]
    correct.add_argument("item", type=int, help="the item number shown in alerts and status")
    correct.add_argument("--not", dest="wrong", action="append", default=[], choices=labels)
    correct.add_argument("--missed", action="append", default=[], choices=labels)
    correct.add_argument("--sentiment", choices=[str(s) for s in Sentiment])
    correct.add_argument("--by", required=True, help="who is correcting (for the audit log)")


def _train_arguments(train_cmd: argparse.ArgumentParser) -> None:
    """Arguments of `classifier train`."""
    train_cmd.add_argument("--school", required=True, help="whose corrections to learn from")
    train_cmd.add_argument(
        "--data", type=Path, required=True, help="directory of the public training CSVs"
    )
    train_cmd.add_argument(
        "--safeguarding",
        type=Path,
        help="directory of the safeguarding CSVs (default: `safeguarding` beside --data)",
    )
    train_cmd.add_argument("--seeds", type=Path, default=SEEDS, help="the seed posts CSV")


def cmd_correct(args: argparse.Namespace) -> int:
    """Record the corrections for one item."""
    db = database(config_from(args), args.secrets)
    try:
        with db.session() as session:
            rows = feedback.record(
                session,
                args.item,
                wrong=[Label(x) for x in args.wrong],
                missed=[Label(x) for x in args.missed],
                sentiment=Sentiment(args.sentiment) if args.sentiment else None,
                by=args.by,
            )
            school = rows[0].school_id
    except feedback.CorrectionError as error:
        print(f"orm-monitor: {error}", file=sys.stderr)
        return EXIT_FAILED
    print(f"item {args.item}: {len(rows)} correction(s) recorded for {school}")
    print(f"learn from them: orm-monitor classifier train --school {school} --data DIR")
    return 0


def cmd_train(args: argparse.Namespace, say: Callable[[str], None] = print) -> int:
    """Refit the school's heads and say what changed."""
    config = config_from(args)
    school = config.school(args.school)
    with database(config, args.secrets).session() as session:
        examples = feedback.school_examples(session, school.id)
    if not examples:
        say(f"no corrections recorded for {school.id} yet: see `orm-monitor classifier correct`")
        return EXIT_FAILED
    safeguarding = args.safeguarding or args.data.parent / "safeguarding"
    needed = (args.seeds, *(args.data / f for t in TASKS for f in (t.train, t.validation)))
    needed += tuple(safeguarding / task.train for task in CRITICAL_TASKS)
    missing = [str(path) for path in needed if not path.is_file()]
    if missing:
        say(
            f"cannot train: {', '.join(missing)} not found (--data is the directory of the public"
            " CSVs, --safeguarding that of the safeguarding ones (default: beside --data),"
            " --seeds the seed posts, training/seeds.csv in the source tree)"
        )
        return EXIT_CONFIG
    report = retrain(config, school, examples, args.data, args.seeds, safeguarding)
    say(f"{len(examples)} correction(s); {report.held_out} held out to compare:")
    say(f"  held-out agreement: before {report.held_before:.2f}, after {report.held_after:.2f}")
    for name, (before, after) in report.validation.items():
        say(f"  {name} validation macro-F1: before {before:.4f}, after {after:.4f}")
    if report.kept:
        say(f"new heads written to {report.written_to}; restart the service to use them")
        return 0
    say("kept the current heads: the new ones were worse on public validation data")
    return EXIT_FAILED
