"""`models pull`: fetch a stronger Hugging Face model once, on a server with internet."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from monitor.classify.encoder import ModelMissing, pull
from monitor.cli.common import EXIT_FAILED, Commands, add_actions, add_command, config_from


def register(commands: Commands) -> None:
    """Add `models pull`."""
    models = add_command(commands, "models", None, "classifier models")
    _pull_arguments(
        add_command(add_actions(models, "models_command"), "pull", cmd_models_pull, PULL_SUMMARY)
    )


PULL_SUMMARY = "download a Hugging Face model for the classifier, once, on a server with internet"


def _pull_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `orm-monitor models pull`."""
    parser.add_argument("model", help="the model's Hugging Face id, e.g. org/name")
    parser.add_argument(
        "--models-dir",
        type=Path,
        help="where to keep it (default: the service's state_dir/models, where the daemon looks)",
    )
    parser.add_argument("--endpoint", help="a Hugging Face mirror (default: huggingface.co)")


def cmd_models_pull(args: argparse.Namespace) -> int:
    """Fetch the model's configs, tokenizer and safetensors weights; print where and which."""
    directory = args.models_dir or config_from(args).service.models_dir
    try:
        path, version = pull(args.model, directory, args.endpoint)
    except ModelMissing as error:
        print(f"orm-monitor: {error}", file=sys.stderr)
        return EXIT_FAILED
    print(f"pulled {version} into {path}")
    print(f'use it: [classifier] model = "{args.model}" (with heads trained for it)')
    return 0
