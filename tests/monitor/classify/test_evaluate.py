"""`classifier eval`: metrics on hand-computed confusion matrices; the command end to end."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from pathlib import Path

import pytest

from monitor.classify import Cascade, RulesLayer
from monitor.classify.base import Assessment, Label, Watchlists
from monitor.classify.evaluate import (
    Counts,
    Example,
    ExamplesError,
    Outcome,
    count_outcomes,
    evaluate,
    exact_match,
    f1_score,
    load_examples,
    micro_scores,
    parse_examples,
    ratio,
    score,
    scores,
    task_named,
)
from monitor.cli.app import main
from monitor.cli.classifier import StderrProgress
from monitor.config.loading import DEMO_DIR

SUMMARY_KEYS = {
    "task",
    "n",
    "macro_f1",
    "macro_recall",
    "accuracy",
    "per_label",
    "items_per_s",
    "model_version",
}
SCORE_KEYS = {"precision", "recall", "f1", "support"}


def _pairs(gold: Sequence[str], predicted: Sequence[str]) -> list[Outcome]:
    return [(frozenset({g}), frozenset({p})) for g, p in zip(gold, predicted, strict=True)]


def _sets(*labels: str) -> frozenset[str]:
    return frozenset(label for label in labels)


# --- metrics -------------------------------------------------------------------------------


def test_ratio_and_f1_are_zero_instead_of_dividing_by_zero() -> None:
    assert ratio(3, 4) == 0.75
    assert ratio(0, 0) == 0.0
    assert f1_score(0.0, 0.0) == 0.0
    assert f1_score(0.75, 0.6) == pytest.approx(2 / 3)


def test_binary_task_scores_both_classes_from_the_confusion_matrix() -> None:
    # 3 threats found, 2 missed, 1 false alarm, 4 correctly left alone
    gold = ["threat"] * 5 + ["not_threat"] * 5
    predicted = ["threat"] * 3 + ["not_threat"] * 2 + ["threat"] + ["not_threat"] * 4
    result = score(task_named("threat"), _pairs(gold, predicted), 2.0, "rules@1")

    threat, other = result.per_label["threat"], result.per_label["not_threat"]
    assert (threat.precision, threat.recall, threat.support) == (0.75, 0.6, 5)
    assert threat.f1 == pytest.approx(2 / 3)
    assert (other.precision, other.recall, other.support) == (pytest.approx(4 / 6), 0.8, 5)
    assert other.f1 == pytest.approx(8 / 11)
    assert result.accuracy == 0.7
    assert result.macro("f1") == pytest.approx((2 / 3 + 8 / 11) / 2)
    assert result.macro("recall") == pytest.approx(0.7)
    assert result.items_per_s == 5.0


def test_a_class_never_predicted_has_precision_zero() -> None:
    gold = ["negative", "negative", "neutral", "positive", "positive"]
    predicted = ["negative", "neutral", "neutral", "negative", "neutral"]
    result = score(task_named("sentiment"), _pairs(gold, predicted), 1.0, "")

    assert scores(Counts(0, 0, 2)) == result.per_label["positive"]
    assert result.per_label["positive"].precision == 0.0
    assert result.per_label["negative"].f1 == 0.5
    assert result.per_label["neutral"].precision == pytest.approx(1 / 3)
    assert result.per_label["neutral"].recall == 1.0
    assert result.per_label["neutral"].f1 == pytest.approx(0.5)
    assert result.accuracy == 0.4
    assert result.macro("recall") == pytest.approx(0.5)
    assert result.macro("f1") == pytest.approx(1 / 3)


def test_a_class_with_zero_support_scores_zero_recall() -> None:
    counts = count_outcomes(_pairs(["not_hate", "not_hate"], ["hate", "not_hate"]), ["hate"])
    assert counts["hate"] == Counts(true_positives=0, false_positives=1, false_negatives=0)
    hate = scores(counts["hate"])
    assert (hate.precision, hate.recall, hate.f1, hate.support) == (0.0, 0.0, 0.0, 0)


def test_multi_label_micro_averages_pool_every_label() -> None:
    outcomes = [
        (_sets("insult", "threat"), _sets("insult")),
        (_sets(), _sets("spam")),
        (_sets("spam"), _sets("spam")),
    ]
    counts = count_outcomes(outcomes, [str(label) for label in Label])
    assert counts["insult"] == Counts(1, 0, 0)
    assert counts["threat"] == Counts(0, 0, 1)
    assert counts["spam"] == Counts(1, 1, 0)
    assert counts["praise"] == Counts(0, 0, 0)
    micro = micro_scores(counts.values())
    assert (micro.precision, micro.recall, micro.support) == (
        pytest.approx(2 / 3),
        pytest.approx(2 / 3),
        3,
    )
    assert exact_match(outcomes) == pytest.approx(1 / 3)


def test_summary_rounds_to_four_decimals_and_lists_every_class() -> None:
    result = score(task_named("offensive"), _pairs(["offensive"] * 3, ["offensive"] * 3), 3.0, "")
    summary = result.summary()
    assert set(summary) >= SUMMARY_KEYS
    per_label = summary["per_label"]
    assert isinstance(per_label, dict)
    assert set(per_label) == {"offensive", "not_offensive"}
    assert per_label["not_offensive"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}
    assert summary["macro_f1"] == 0.5

    thirds = score(task_named("hate"), _pairs(["hate"] * 3, ["hate", "x", "x"]), 1.0, "")
    assert thirds.summary()["macro_recall"] == 0.1667


# --- tasks and the CSV ---------------------------------------------------------------------


def test_every_label_is_its_own_binary_task() -> None:
    for label in Label:
        assert task_named(label).classes == (str(label), f"not_{label}")
    assert task_named("offensive").classes == ("offensive", "not_offensive")
    assert task_named("sentiment").classes == ("negative", "neutral", "positive")
    assert len(task_named("labels").classes) == 13
    with pytest.raises(ValueError, match="unknown task 'toxicity'"):
        task_named("toxicity")


def test_parse_examples_ignores_header_case_and_spacing() -> None:
    lines = io.StringIO("Text, Label\nI will stab you, Threat\n,not_threat\n")
    examples = parse_examples(lines, task_named("threat"))
    assert examples == [
        Example("I will stab you", _sets("threat")),
        Example("", _sets("not_threat")),
    ]


def test_load_examples_accepts_a_byte_order_mark(tmp_path: Path) -> None:
    path = tmp_path / "excel.csv"
    path.write_bytes("text,label\nI will stab you,threat\n".encode("utf-8-sig"))
    assert load_examples(path, task_named("threat")) == [
        Example("I will stab you", _sets("threat"))
    ]


def test_parse_examples_splits_labels_on_semicolons() -> None:
    lines = io.StringIO('text,labels\n"a, b",insult; threat\nhello,\n')
    examples = parse_examples(lines, task_named("labels"))
    assert [e.gold for e in examples] == [_sets("insult", "threat"), _sets()]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "is empty"),
        ("text,label\n", "no rows"),
        ("text,labels\nhi,threat\n", "no 'label' column"),
        ("text,label\nhi,threat\nho,threatening\n", "line 3: unknown label 'threatening'"),
        ("text,label\nhi,\n", "unknown label ''"),
    ],
)
def test_parse_examples_says_what_is_wrong(content: str, message: str) -> None:
    with pytest.raises(ExamplesError, match=message):
        parse_examples(io.StringIO(content), task_named("threat"), "threats.csv")


# --- evaluate() with the real rules layer ----------------------------------------------------


class BatchLog:
    """The real rules cascade, noting the size of each batch it is given."""

    def __init__(self) -> None:
        self.cascade = Cascade([RulesLayer(Watchlists(staff_names=("Mr Hughes",)))])
        self.sizes: list[int] = []

    def classify(self, texts: Sequence[str]) -> list[Assessment]:
        self.sizes.append(len(texts))
        return self.cascade.classify(texts)


def test_evaluate_classifies_in_batches_and_reports_progress() -> None:
    texts = ["I will stab Mr Hughes at the gate", "Nice weather today"] * 2 + ["kill you"]
    rows = [Example(t, _sets("threat" if "stab" in t else "not_threat")) for t in texts]
    classifier, seen = BatchLog(), []
    ticks = iter([10.0, 12.5])

    result = evaluate(
        classifier, rows, task_named("threat"), 2, lambda *p: seen.append(p), lambda: next(ticks)
    )

    assert classifier.sizes == [2, 2, 1]
    assert seen == [(2, 5), (4, 5), (5, 5)]
    assert result.n == 5
    assert result.items_per_s == 2.0
    assert result.per_label["threat"].support == 2
    assert result.per_label["threat"].recall == 1.0
    assert result.model_version.startswith("rules@")


def test_stderr_progress_draws_a_bar_with_the_time_left_every_few_seconds_and_at_the_end() -> None:
    stream, ticks = io.StringIO(), iter([0.0, 1.0, 2.5, 3.0, 4.0])
    progress = StderrProgress(stream, every_s=2.0, clock=lambda: next(ticks))
    for done in (640, 1280, 1920, 2000):
        progress(done, 2000)
    assert stream.getvalue().splitlines() == [
        "classified 1,280/2,000 [############--------]  64%  512 items/s, ETA 1 s",
        "classified 2,000/2,000 [####################] 100%  500 items/s, in 4 s",
    ]


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_on_a_terminal_progress_redraws_one_line_and_ends_it_when_done() -> None:
    stream, ticks = Terminal(), iter([0.0, 100.0, 250.0])
    progress = StderrProgress(stream, every_s=2.0, clock=lambda: next(ticks))
    progress(1_000, 4_000)
    progress(4_000, 4_000)
    assert stream.getvalue() == (
        "\rclassified 1,000/4,000 [#####---------------]  25%  10 items/s, ETA 5 min 00 s"
        "\rclassified 4,000/4,000 [####################] 100%  16 items/s, in 4 min 10 s\n"
    )


# --- the command ---------------------------------------------------------------------------


def _csv(path: Path, header: str, rows: Sequence[tuple[str, str]]) -> Path:
    lines = [header] + [f'"{text}",{label}' for text, label in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def rules_config(tmp_path: Path) -> Path:
    """The demo config, classifying with the rules layer alone (predictions known exactly)."""
    text = (DEMO_DIR / "demo.toml").read_text(encoding="utf-8")
    for placeholder, value in (
        ("@DEMO_DIR@", DEMO_DIR.as_posix()),
        ("@STATE_DIR@", tmp_path.as_posix()),
        ("@FAKE_MASTODON_URL@", "http://127.0.0.1:9"),
    ):
        text = text.replace(placeholder, value)
    path = tmp_path / "rules.toml"
    path.write_text(text + '\n[classifier]\nprofile = "rules"\n', encoding="utf-8")
    return path


def _eval(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _last_json(out: str) -> dict[str, object]:
    summary = json.loads(out.splitlines()[-1])
    assert isinstance(summary, dict)
    return summary


def test_demo_threat_eval_prints_one_json_line_and_progress_on_stderr(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _csv(
        tmp_path / "threats.csv",
        "text,label",
        [
            ("I will stab Mr Hughes at the gate", "threat"),
            ("I am going to kill you", "threat"),
            ("Lovely concert tonight, well done everyone", "not_threat"),
            ("When does term start?", "not_threat"),
            ("Nice weather today", "not_threat"),
        ],
    )
    argv = ["--demo", "--state-dir", str(tmp_path), "classifier", "eval", str(path)]
    code, out, err = _eval(capsys, *argv, "--task", "threat", "--batch-size", "2")

    assert code == 0
    assert len(out.splitlines()) == 1
    summary = _last_json(out)
    assert set(summary) >= SUMMARY_KEYS
    assert (summary["task"], summary["n"]) == ("threat", 5)
    per_label = summary["per_label"]
    assert isinstance(per_label, dict)
    assert set(per_label) == {"threat", "not_threat"}
    assert all(set(scores) == SCORE_KEYS for scores in per_label.values())
    assert per_label["threat"]["support"] == 2
    assert per_label["not_threat"]["support"] == 3
    assert 0.0 <= float(str(summary["macro_f1"])) <= 1.0
    assert "rules@" in str(summary["model_version"])
    assert "classified 5/5 [####################] 100%" in err
    assert "classified" not in out


def test_offensive_task_counts_any_abusive_label(
    tmp_path: Path, rules_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _csv(
        tmp_path / "offensive.csv",
        "text,label",
        [
            ("you stupid cow", "offensive"),
            ("I will stab Mr Hughes at the gate", "offensive"),
            ("The new car park is a disgrace", "not_offensive"),
            ("Nice weather today", "offensive"),
        ],
    )
    code, out, _ = _eval(
        capsys,
        "--config",
        str(rules_config),
        "classifier",
        "eval",
        str(path),
        "--task",
        "offensive",
    )
    summary = _last_json(out)
    assert code == 0
    assert summary["accuracy"] == 0.75
    assert summary["per_label"] == {
        "offensive": {"precision": 1.0, "recall": 0.6667, "f1": 0.8, "support": 3},
        "not_offensive": {"precision": 0.5, "recall": 1.0, "f1": 0.6667, "support": 1},
    }
    assert summary["macro_recall"] == 0.8333
    assert str(summary["model_version"]).startswith("rules@")


def test_sentiment_task_scores_three_classes(
    tmp_path: Path, rules_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _csv(
        tmp_path / "sentiment.csv",
        "text,label",
        [
            ("Thank you Mrs Patel for a wonderful trip", "positive"),
            ("The new car park is a disgrace", "negative"),
            ("When does term start?", "neutral"),
            ("you stupid cow", "neutral"),
        ],
    )
    argv = ["--config", str(rules_config), "classifier", "eval", str(path)]
    code, out, _ = _eval(capsys, *argv, "--task", "sentiment", "--school", "st-marys")
    summary = _last_json(out)
    assert code == 0
    assert (summary["n"], summary["accuracy"]) == (4, 0.75)
    per_label = summary["per_label"]
    assert isinstance(per_label, dict)
    assert per_label["negative"] == {"precision": 0.5, "recall": 1.0, "f1": 0.6667, "support": 1}
    assert per_label["neutral"]["recall"] == 0.5
    assert per_label["positive"]["f1"] == 1.0


def test_labels_task_scores_all_thirteen_labels(
    tmp_path: Path, rules_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _csv(
        tmp_path / "labels.csv",
        "text,labels",
        [
            ("The teachers are useless idiots", "criticism;insult"),
            ("Her phone number is 07700 900123", "personal_data"),
            ("Nice weather today", ""),
            ("I will stab Mr Hughes at the gate", "threat;harassment"),
        ],
    )
    argv = ["--config", str(rules_config), "classifier", "eval", str(path), "--task", "labels"]
    code, out, _ = _eval(capsys, *argv)
    summary = _last_json(out)
    assert code == 0
    per_label = summary["per_label"]
    assert isinstance(per_label, dict)
    assert set(per_label) == {str(label) for label in Label}
    assert per_label["harassment"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}
    assert per_label["spam"]["support"] == 0
    assert summary["accuracy"] == 0.75
    assert (summary["micro_precision"], summary["micro_recall"]) == (1.0, 0.8)


def test_missing_column_is_one_line_naming_the_header(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _csv(tmp_path / "bad.csv", "text,category", [("hello", "threat")])
    code, out, err = _eval(capsys, "--demo", "classifier", "eval", str(path), "--task", "threat")
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1
    assert "no 'label' column" in err
    assert "text,label" in err


def test_unknown_label_names_the_labels_the_task_accepts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _csv(tmp_path / "bad.csv", "text,label", [("hello", "not_threat"), ("x", "violent")])
    code, _, err = _eval(capsys, "--demo", "classifier", "eval", str(path), "--task", "threat")
    assert code == 2
    assert err.count("\n") == 1
    assert "line 3: unknown label 'violent' for task threat" in err
    assert "(it accepts: threat, not_threat)" in err


def test_missing_and_empty_files_are_usage_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = str(tmp_path / "nope.csv")
    code, _, err = _eval(capsys, "--demo", "classifier", "eval", missing, "--task", "spam")
    assert (code, err.count("\n")) == (2, 1)
    assert "no such file" in err

    (tmp_path / "empty.csv").write_text("", encoding="utf-8")
    empty = str(tmp_path / "empty.csv")
    code, _, err = _eval(capsys, "--demo", "classifier", "eval", empty, "--task", "spam")
    assert (code, err.count("\n")) == (2, 1)
    assert "is empty" in err


@pytest.fixture
def no_config(monkeypatch: pytest.MonkeyPatch) -> None:
    """A machine with no config installed or named."""
    monkeypatch.delenv("ORM_MONITOR_CONFIG", raising=False)
    monkeypatch.setattr("monitor.cli.common.DEFAULT_CONFIG", Path("/nonexistent/config.toml"))


def test_eval_needs_no_config_and_says_which_classifier_it_scores(
    tmp_path: Path, no_config: None, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _csv(
        tmp_path / "threats.csv",
        "text,label",
        [("I will stab Mr Hughes at the gate", "threat"), ("When does term start?", "not_threat")],
    )
    code, out, err = _eval(
        capsys, "classifier", "eval", str(path), "--task", "threat", "--profile", "rules"
    )
    assert code == 0
    assert "no config: scoring the built-in classifier (rules profile)" in err
    summary = _last_json(out)
    assert summary["n"] == 2 and summary["accuracy"] == 1.0
    assert str(summary["model_version"]).startswith("rules@")


def test_predictions_file_shows_each_row_with_its_score_and_what_fired(
    tmp_path: Path, no_config: None, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _csv(
        tmp_path / "threats.csv",
        "text,label",
        [
            ("I will stab Mr Hughes at the gate", "threat"),
            ("Lovely concert tonight", "threat"),
            ("When does term start?", "not_threat"),
        ],
    )
    out_csv = tmp_path / "predictions.csv"
    argv = ["classifier", "eval", str(path), "--task", "threat", "--profile", "rules"]
    code, _, err = _eval(capsys, *argv, "--predictions", str(out_csv))
    assert code == 0 and f"wrote 3 predictions to {out_csv}" in err
    with out_csv.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["correct"] for r in rows] == ["yes", "no", "yes"]
    stab, concert, _ = rows
    assert (stab["expected"], stab["predicted"], stab["score"]) == ("threat", "threat", "1.0000")
    assert "threat 1.00 rules:lexicon:threat" in stab["fired"]
    assert (concert["predicted"], concert["score"]) == ("not_threat", "0.0000")
    assert concert["fired"] == "praise 1.00 rules:lexicon:praise"
