"""`orm-monitor classifier eval` and `orm-monitor models pull`: the classifier's tools."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from connectors import default_registry
from monitor.classify.base import Classifier, Label
from monitor.classify.encoder import ModelMissing, pull
from monitor.classify.evaluate import (
    DEFAULT_BATCH,
    TASK_NAMES,
    ExamplesError,
    evaluate,
    load_examples,
    ratio,
    task_named,
)
from monitor.config.schema import OrmConfig
from monitor.flow.pipeline import Pipeline
from monitor.storage.engine import Database

EXIT_USAGE = 2
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


def add_eval_arguments(command: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The arguments and help of `classifier eval`."""
    command.formatter_class = argparse.RawDescriptionHelpFormatter
    command.epilog = EPILOG
    command.add_argument("file", type=Path, metavar="FILE.csv", help="the labelled texts")
    command.add_argument(
        "--task", required=True, choices=TASK_NAMES, metavar="TASK", help="what to score (below)"
    )
    command.add_argument("--school", help="whose classifier (default: the config's first school)")
    command.add_argument(
        "--batch-size",
        type=_positive,
        default=DEFAULT_BATCH,
        metavar="N",
        help=f"texts per classifier call (default: {DEFAULT_BATCH})",
    )
    return command


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {number}")
    return number


def cmd_classifier_eval(
    args: argparse.Namespace, config_from: Callable[[argparse.Namespace], OrmConfig]
) -> int:
    """Score the school's classifier on FILE.csv; print the scores as JSON, last on stdout."""
    task = task_named(args.task)
    try:
        examples = load_examples(args.file, task)
    except ExamplesError as error:
        print(f"orm-monitor: {error}", file=sys.stderr)
        return EXIT_USAGE
    classifier = school_classifier(config_from(args), args.school, args.secrets)
    result = evaluate(classifier, examples, task, args.batch_size, StderrProgress())
    print(json.dumps(result.summary()))
    return 0


def school_classifier(
    config: OrmConfig, school_id: str | None, secrets: Callable[[str], str]
) -> Classifier:
    """The classifier the pipeline would use for this school (default: the first one)."""
    school = config.school(school_id) if school_id else config.schools[0]
    pipeline = Pipeline(Database("sqlite://"), config, default_registry(), secrets=secrets)
    return pipeline.classifier(school)


class StderrProgress:
    """Writes "classified 1,280/13,240 (96 items/s)" every few seconds and when done."""

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
        rate = ratio(done, now - self.started)
        stream = self.stream or sys.stderr  # looked up late: tests and callers swap sys.stderr
        print(f"classified {done:,}/{total:,} ({rate:,.0f} items/s)", file=stream, flush=True)


PULL_SUMMARY = "download a Hugging Face model for the classifier, once, on a server with internet"


def add_pull_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `orm-monitor models pull`."""
    parser.add_argument("model", help="the model's Hugging Face id, e.g. org/name")
    parser.add_argument(
        "--models-dir",
        type=Path,
        help="where to keep it (default: the service's state_dir/models, where the daemon looks)",
    )
    parser.add_argument("--endpoint", help="a Hugging Face mirror (default: huggingface.co)")


def cmd_models_pull(
    args: argparse.Namespace, load: Callable[[argparse.Namespace], OrmConfig]
) -> int:
    """Fetch the model's configs, tokenizer and safetensors weights; print where and which."""
    directory = args.models_dir or load(args).service.models_dir
    try:
        path, version = pull(args.model, directory, args.endpoint)
    except ModelMissing as error:
        print(f"orm-monitor: {error}", file=sys.stderr)
        return 1
    print(f"pulled {version} into {path}")
    print(f'use it: [classifier] model = "{args.model}" (with heads trained for it)')
    return 0
