"""Learning from the school: corrections are stored, and training changes what it should."""

from __future__ import annotations

import csv
import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
import tomli_w
from sqlalchemy import select

from monitor.classify.base import Label
from monitor.classify.corpus import CRITICAL_TASKS, Seed, read_seeds
from monitor.classify.encoder import Encoder
from monitor.classify.heads import load_heads
from monitor.classify.train import Inputs, train
from monitor.classify.transformer import TransformersLayer, shared_layer
from monitor.cli.app import main
from monitor.storage import models
from monitor.storage.engine import Database
from monitor.storage.ingest import sync_config
from tests.support.config import raw_config

POSITIVE = ["Brilliant sports day, thank you all", "Lovely concert, so proud", "Great trip, thanks"]
NEGATIVE = ["Awful communication again", "Terrible food this week", "Really poor homework policy"]
NEUTRAL = ["Term starts on Tuesday", "The office opens at 8am", "Uniform shop is in the hall"]
RUDE = ["you are a useless idiot", "shut up you moron", "what a pathetic clown"]
HATEFUL = ["send those p*kis back home", "all immigrants are vermin", "women are worthless"]
ALONE = [
    "the little boy from year 2 is out on the street alone at 11pm again",
    "that year 3 girl was wandering by the canal on her own after dark last night",
    "a small child from your school was by herself at the bus station at midnight",
    "the lad in year 4 has been locked out of his house all evening in the rain",
    "two little ones from reception were left alone in a car outside the pub for hours",
    "that year 1 boy is always outside alone really late with no coat",
]


CRITICAL_POSTS = {
    "threat": ["I will hurt you", "you are dead meat tomorrow", "I'll smash your face in"],
    "selfharm": ["I want to end my life", "I cut myself again last night", "I can't go on"],
    "extremism": HATEFUL,
    "sexual": ["send me nudes", "sexy pics of you please", "wanna hook up for sex tonight"],
}


def write(path: Path, header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


def tiny_data(directory: Path) -> Path:
    """Public-shaped corpora small enough to encode in seconds (safeguarding ones beside)."""
    directory.mkdir()
    beside = directory.parent / "safeguarding"
    beside.mkdir(exist_ok=True)
    for task in CRITICAL_TASKS:
        rows = [(text, task.positive) for text in CRITICAL_POSTS[task.positive]]
        rows += [(text, f"not_{task.positive}") for text in POSITIVE + NEUTRAL + NEGATIVE]
        write(beside / task.train, ("text", "label"), rows)
    sentiment = [(t, "positive") for t in POSITIVE] + [(t, "negative") for t in NEGATIVE]
    sentiment += [(t, "neutral") for t in NEUTRAL]
    offensive = [(t, "offensive") for t in RUDE] + [(t, "not_offensive") for t in NEUTRAL]
    hate = [(t, "hate") for t in HATEFUL] + [(t, "not_hate") for t in POSITIVE]
    for name, rows in (("sentiment", sentiment), ("offensive", offensive), ("hate", hate)):
        for split in ("train", "val"):
            write(directory / f"{name}_{split}.csv", ("text", "label"), rows * 2)
    return directory


def tiny_seeds(path: Path) -> Path:
    """A few seed posts per label, so every head can be fitted."""
    rows = []
    for label in Label:
        for n in range(3):
            rows.append((f"example {n} of {label.value} about the school", label.value, "neutral"))
    rows += [(text, "", "neutral") for text in NEUTRAL + POSITIVE]
    write(path, ("text", "labels", "sentiment"), rows)
    return path


@pytest.fixture(scope="module")
def encoder() -> Encoder:
    return shared_layer(None, "default").encoder


def school_config(tmp_path: Path, heads: Path) -> Path:
    raw = raw_config(database_url=f"sqlite:///{tmp_path / 'orm.db'}")
    raw["service"]["state_dir"] = str(tmp_path / "state")
    raw["classifier"] = {"profile": "default", "heads": str(heads)}
    path = tmp_path / "config.toml"
    path.write_text(tomli_w.dumps(raw))
    return path


def add_items(tmp_path: Path, config: Path, texts: list[str]) -> list[int]:
    """Store items as a poll would, so that they can be corrected by number."""
    from monitor.config.loading import load_config

    db = Database(f"sqlite:///{tmp_path / 'orm.db'}")
    db.upgrade()
    loaded = load_config(config)
    with db.session() as session:
        sync_config(session, loaded)
        account = models.Account(id="blog", school_id="st-marys", platform="rss", name="blog")
        session.merge(account)
        items = [
            models.Item(
                source_id="blog",
                school_id="st-marys",
                external_id=f"c{n}",
                kind="comment",
                text=text,
                content_sha256=f"{n:064d}",
            )
            for n, text in enumerate(texts)
        ]
        session.add_all(items)
        session.flush()
        ids = [item.id for item in items]
    db.dispose()
    return ids


def test_a_correction_is_stored_with_its_text_and_audited(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = school_config(tmp_path, tmp_path / "unused")
    [item] = add_items(tmp_path, config, ["The head is a clown, and the food is awful"])
    argv = ["--config", str(config), "classifier", "correct", str(item)]
    assert main([*argv, "--not", "insult", "--missed", "criticism", "--by", "Jo Smith"]) == 0
    assert "2 correction(s) recorded for st-marys" in capsys.readouterr().out
    db = Database(f"sqlite:///{tmp_path / 'orm.db'}")
    with db.session() as session:
        rows = session.scalars(select(models.Correction).order_by(models.Correction.id)).all()
        audit = session.scalars(select(models.AuditEntry)).all()
        assert [(r.label, r.present, r.by) for r in rows] == [
            ("insult", False, "Jo Smith"),
            ("criticism", True, "Jo Smith"),
        ]
        assert rows[0].text == "The head is a clown, and the food is awful"
        assert [a.action for a in audit] == ["classifier.corrected"]
    db.dispose()


def test_a_correction_of_an_unknown_item_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = school_config(tmp_path, tmp_path / "unused")
    add_items(tmp_path, config, ["hello"])
    argv = ["--config", str(config), "classifier", "correct", "999", "--missed", "query"]
    assert main([*argv, "--by", "Jo"]) == 1
    assert capsys.readouterr().err.strip() == (
        "orm-monitor: no item 999: use the number shown in alerts and status"
    )


def test_training_on_a_handful_of_corrections_changes_the_decision_it_should(
    tmp_path: Path, encoder: Encoder, capsys: pytest.CaptureFixture[str]
) -> None:
    data, seeds = tiny_data(tmp_path / "data"), tiny_seeds(tmp_path / "seeds.csv")
    current = tmp_path / "current"
    train(Inputs(data, read_seeds(seeds), seeds, []), encoder, tmp_path / "cache").save(current)
    config = school_config(tmp_path, current)
    unseen = "a little girl from year 2 was sat alone at the park gates at 11pm last night"
    before = TransformersLayer(encoder, load_heads(current)).assess([unseen])[0]
    assert Label.SAFEGUARDING not in {s.label for s in before}

    for item in add_items(tmp_path, config, ALONE):
        argv = ["--config", str(config), "classifier", "correct", str(item)]
        assert main([*argv, "--missed", "safeguarding", "--by", "Anita Patel"]) == 0
    capsys.readouterr()
    argv = ["--config", str(config), "classifier", "train", "--school", "st-marys"]
    assert main([*argv, "--data", str(data), "--seeds", str(seeds)]) == 0
    out = capsys.readouterr().out
    assert "6 correction(s)" in out and "new heads written to" in out

    trained = tmp_path / "state" / "models" / "heads" / "st-marys"
    manifest = json.loads((trained / "manifest.json").read_text())
    assert manifest["school_examples"] >= 4  # some are held out to show the effect
    after = TransformersLayer(encoder, load_heads(trained)).assess([unseen])[0]
    assert Label.SAFEGUARDING in {s.label for s in after}


def test_heads_worse_on_public_validation_are_not_swapped_in(
    tmp_path: Path, encoder: Encoder, capsys: pytest.CaptureFixture[str]
) -> None:
    data, seeds = tiny_data(tmp_path / "data"), tiny_seeds(tmp_path / "seeds.csv")
    current = tmp_path / "current"
    train(Inputs(data, read_seeds(seeds), seeds, []), encoder, tmp_path / "cache").save(current)
    config = school_config(tmp_path, current)
    for item in add_items(tmp_path, config, ALONE):
        argv = ["--config", str(config), "classifier", "correct", str(item)]
        assert main([*argv, "--missed", "safeguarding", "--by", "Anita Patel"]) == 0
    swapped = tmp_path / "swapped"  # training files whose labels are wrong; validation intact
    shutil.copytree(data, swapped)
    flip = {"positive": "negative", "negative": "neutral", "neutral": "positive"}
    flip |= {"offensive": "not_offensive", "not_offensive": "offensive"}
    flip |= {"hate": "not_hate", "not_hate": "hate"}
    for path in swapped.glob("*_train.csv"):
        with path.open(newline="") as handle:
            rows = [(row["text"], flip[row["label"]]) for row in csv.DictReader(handle)]
        write(path, ("text", "label"), rows)
    capsys.readouterr()
    argv = ["--config", str(config), "classifier", "train", "--school", "st-marys"]
    assert main([*argv, "--data", str(swapped), "--seeds", str(seeds)]) == 1
    out = capsys.readouterr().out
    assert "kept the current heads: the new ones were worse on public validation data" in out
    assert "sentiment validation macro-F1: before 1.0000" in out
    assert not (tmp_path / "state" / "models" / "heads" / "st-marys").exists()


def test_training_without_corrections_says_how_to_make_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = school_config(tmp_path, tmp_path / "unused")
    add_items(tmp_path, config, ["hello"])
    argv = ["--config", str(config), "classifier", "train", "--school", "st-marys"]
    assert main([*argv, "--data", str(tmp_path)]) == 1
    assert "no corrections recorded for st-marys yet" in capsys.readouterr().out


def test_seed_rows_name_known_labels() -> None:
    seeds: list[Seed] = read_seeds()
    assert len(seeds) > 500
    assert {label for seed in seeds for label in seed.labels} == set(Label)


def test_training_names_the_files_it_cannot_find(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = school_config(tmp_path, tmp_path / "unused")
    [item] = add_items(tmp_path, config, ["hello"])
    assert (
        main(
            [
                "--config",
                str(config),
                "classifier",
                "correct",
                str(item),
                "--missed",
                "query",
                "--by",
                "Jo",
            ]
        )
        == 0
    )
    argv = ["--config", str(config), "classifier", "train", "--school", "st-marys"]
    assert main([*argv, "--data", str(tmp_path / "nowhere")]) == 2
    out = capsys.readouterr().out
    assert f"cannot train: {tmp_path / 'nowhere' / 'sentiment_train.csv'}" in out


def test_public_heads_are_kept_as_they_are_and_only_the_others_refitted(
    tmp_path: Path, encoder: Encoder
) -> None:
    data, seeds = tiny_data(tmp_path / "data"), tiny_seeds(tmp_path / "seeds.csv")
    inputs = Inputs(data, read_seeds(seeds), seeds, [])
    earlier = train(inputs, encoder, tmp_path / "cache")
    again = train(inputs, encoder, tmp_path / "cache", public=earlier)
    for task in ("sentiment", "offensive", "hate"):
        assert again.heads[task] is earlier.heads[task]
        assert again.manifest["heads_data"][task]["kept_from"] == earlier.version
    assert "threat" in again.heads and "page_budget" in again.manifest["heads_data"]["threat"]
    other = replace(earlier, manifest={**earlier.manifest, "encoder": "another-encoder@0"})
    with pytest.raises(ValueError, match="holds no sentiment head for"):
        train(inputs, encoder, tmp_path / "cache", public=other)
