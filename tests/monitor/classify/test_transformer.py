"""The transformers layer: the bundled model loads offline, its heads decide, errors name fixes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from monitor.classify import build_classifier
from monitor.classify.base import Label, Sentiment, Watchlists
from monitor.classify.encoder import BUNDLED_SHA256, Encoder, ModelMissing, resolve
from monitor.classify.heads import SHIPPED_DIR, Head, Heads, load_heads
from monitor.classify.settings import ClassifierConfig
from monitor.classify.transformer import TransformersLayer, model_layer, shared_layer


@pytest.fixture(scope="module")
def encoder() -> Iterator[Encoder]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HF_HUB_OFFLINE", "1")
        patch.setenv("TRANSFORMERS_OFFLINE", "1")
        yield shared_layer(None, "default").encoder


@pytest.fixture(scope="module")
def layer(encoder: Encoder) -> TransformersLayer:
    return TransformersLayer(encoder, load_heads(SHIPPED_DIR / "default"))


def test_the_bundled_model_loads_offline_and_names_its_weights_and_profile(
    encoder: Encoder,
) -> None:
    expected = f"sentence-transformers/all-MiniLM-L6-v2@{BUNDLED_SHA256[:12]}:default"
    assert encoder.version == expected
    assert encoder.dimensions == 384


def test_each_profile_names_itself_in_the_model_version() -> None:
    default, fast = shared_layer(None, "default"), shared_layer(None, "fast")
    assert ":default+heads-" in default.version and ":fast+heads-" in fast.version
    assert (default.profile, fast.profile) == ("default", "fast")


def test_an_empty_batch_gives_empty_answers(layer: TransformersLayer) -> None:
    # `poll SOURCE --dry-run` on a source with nothing new classifies an empty batch
    assert layer.assess([]) == [] and layer.sentiments([]) == []
    assert build_classifier(Watchlists(), layer).classify([]) == []


def test_vectors_are_normalised_and_do_not_depend_on_batch_order(encoder: Encoder) -> None:
    texts = ["A much longer post about the Year 6 residential trip to the Lake District.", "Hi"]
    together = encoder.embed(texts)
    alone = np.vstack([encoder.embed([texts[0]]), encoder.embed([texts[1]])])
    assert np.allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-5)
    assert np.allclose(together, alone, atol=1e-4)


def test_a_model_directory_without_weights_names_what_is_missing(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(ModelMissing, match="holds no weights"):
        resolve(str(tmp_path))


def test_a_hub_model_not_pulled_names_the_command_that_fetches_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelMissing) as caught:
        resolve("acme/school-offensive-not-pulled", cache_dir=tmp_path)
    assert "orm-monitor models pull acme/school-offensive-not-pulled" in str(caught.value)


def test_altered_bundled_weights_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("monitor.classify.encoder.BUNDLED_SHA256", "0" * 64)
    with pytest.raises(ModelMissing, match="do not match the published SHA-256"):
        resolve(None)


def test_the_shipped_heads_say_which_data_and_code_made_them() -> None:
    heads = load_heads(SHIPPED_DIR / "default")
    paging = {"threat", "safeguarding", "extremism", "sexual"}
    assert set(heads.heads) == {"sentiment", "offensive", "hate"} | {
        label.value for label in Label if label not in (Label.INSULT, Label.HATE)
    } | {f"{name}-pager" for name in paging}
    data = heads.manifest["heads_data"]
    for name in paging:  # the second stage that decides what pages, and its budget
        assert heads.heads[f"{name}-pager"].page_threshold is not None
        assert 0 < data[f"{name}-pager"]["page_budget"] <= 0.003
        assert data[f"{name}-pager"]["train"]["file"].endswith("_train.csv")
    assert data["offensive"]["train"]["file"] == "offensive_train.csv"
    assert len(data["offensive"]["train"]["sha256"]) == 64
    assert data["offensive"]["validation"]["macro_f1"] > 0.7
    assert heads.manifest["seeds"]["file"] == "seeds.csv" and heads.manifest["seeds"]["rows"] > 500
    assert heads.manifest["code"]["module"] == "monitor/classify/train.py"
    assert heads.manifest["encoder"].split(":")[0].endswith(BUNDLED_SHA256[:12])
    for name, head in heads.heads.items():  # a head too weak to trust raises nothing
        if name in data and "enabled" in data[name]:
            rare = name in {"threat", "safeguarding", "extremism", "sexual", "personal_data"}
            rare |= name == "defamation"
            assert head.enabled == (rare or data[name]["held_out"]["f1"] >= 0.6)


def test_insults_and_tone_are_recognised(layer: TransformersLayer) -> None:
    texts = [
        "You are a pathetic useless idiot and everyone hates you, shut up",
        "Thank you so much to all the staff, what a lovely nativity play!",
        "Parents' evening for Year 4 is on Tuesday 12 March from 3.30pm in the hall.",
    ]
    signals = layer.assess(texts)
    sentiments = layer.sentiments(texts)
    insult = next(s for s in signals[0] if s.label == Label.INSULT)
    assert (insult.layer, insult.rule) == ("transformers", "offensive-head")
    assert {s.label for s in signals[1]} <= {Label.PRAISE}
    assert not {s.label for s in signals[1] + signals[2]} & {Label.INSULT, Label.HATE}
    assert [s[0] for s in sentiments if s] == [
        Sentiment.NEGATIVE,
        Sentiment.POSITIVE,
        Sentiment.NEUTRAL,
    ]


def test_the_cascade_records_both_layers_and_the_model_version(layer: TransformersLayer) -> None:
    cascade = build_classifier(Watchlists(), layer)
    [assessment] = cascade.classify(["I will stab you at the school gate you idiot"])
    assert {s.layer for s in assessment.signals} == {"rules", "transformers"}
    assert Label.THREAT in assessment.labels  # the rules layer's lexicon; the model cannot lower it
    assert layer.version in assessment.model_version


def test_a_threshold_from_config_overrides_the_trained_one(encoder: Encoder) -> None:
    heads = load_heads(SHIPPED_DIR / "default")
    text = ["You are a pathetic useless idiot, shut up"]
    assert Label.INSULT in {s.label for s in TransformersLayer(encoder, heads).assess(text)[0]}
    strict = TransformersLayer(encoder, heads, {Label.INSULT: 0.999})
    assert Label.INSULT not in {s.label for s in strict.assess(text)[0]}


def test_thresholds_are_probabilities_for_known_labels() -> None:
    assert ClassifierConfig.model_validate({"thresholds": {"threat": 0.3}}).thresholds
    with pytest.raises(ValueError, match="less than 1"):
        ClassifierConfig.model_validate({"thresholds": {"threat": 1.5}})
    with pytest.raises(ValueError, match="bullying"):
        ClassifierConfig.model_validate({"thresholds": {"bullying": 0.5}})


def test_the_rules_profile_loads_no_model() -> None:
    assert model_layer(ClassifierConfig(profile="rules")) is None


def test_heads_round_trip_and_a_two_class_head_uses_its_threshold(tmp_path: Path) -> None:
    binary = Head(
        "offensive",
        ("not_offensive", "offensive"),
        np.array([[2.0, 0.0]], dtype=np.float32),
        np.array([0.0], dtype=np.float32),
        threshold=0.8,
    )
    Heads({"offensive": binary}, {"version": "heads-test"}).save(tmp_path)
    loaded = load_heads(tmp_path).heads["offensive"]
    x = np.array([[1.0, 0.0], [0.5, 0.0]], dtype=np.float32)  # p = 0.88 and 0.73
    assert [name for name, _ in loaded.predict(x)] == ["offensive", "not_offensive"]
    assert np.allclose(loaded.probabilities(x).sum(axis=1), 1.0)


def test_heads_trained_for_another_model_are_refused_with_the_fix(encoder: Encoder) -> None:
    narrow = Head(
        "sentiment",
        ("negative", "neutral", "positive"),
        np.zeros((3, 772), dtype=np.float32),
        np.zeros(3, dtype=np.float32),
    )
    heads = Heads({"sentiment": narrow}, {"version": "heads-x", "encoder": "roberta-base@abc"})
    with pytest.raises(ModelMissing, match="trained on roberta-base@abc, not sentence-trans"):
        TransformersLayer(encoder, heads)


def test_a_profile_without_heads_stops_the_daemon_at_start_with_the_fix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import tomli_w

    from monitor.cli.app import main
    from tests.support.config import raw_config

    raw = raw_config(database_url=f"sqlite:///{tmp_path / 'orm.db'}")
    raw["service"]["state_dir"] = str(tmp_path)
    raw["classifier"] = {"profile": "default", "heads": str(tmp_path / "nowhere")}
    path = tmp_path / "config.toml"
    path.write_text(tomli_w.dumps(raw))
    assert main(["--config", str(path), "run", "--once"]) == 2  # as check-config says
    err = capsys.readouterr().err.strip()
    assert err.endswith(
        f"classifier.heads: {tmp_path / 'nowhere'} holds no trained heads (heads.npz and"
        " manifest.json): point heads at the directory `python -m monitor.classify.train --out"
        " DIR` wrote, or leave it out for the shipped ones"
    )


def test_signals_with_a_paging_threshold_can_be_stored(encoder: Encoder) -> None:
    import json

    from monitor.storage.assessments import signals_json

    heads = load_heads(SHIPPED_DIR / "default")
    paging = TransformersLayer(encoder, heads, page_thresholds={Label.THREAT: 0.99})
    [signals] = paging.assess(["I will stab you tomorrow at the gate, you idiot"])
    threat = [s for s in signals if s.label == Label.THREAT]
    assert threat and all(type(s.confident) is bool for s in signals)
    stored = json.loads(json.dumps(signals_json(signals)))
    assert {row["label"] for row in stored} == {str(s.label) for s in signals}


def test_a_pager_decides_what_pages_unless_the_first_pass_is_sure(encoder: Encoder) -> None:
    from dataclasses import replace

    shipped = load_heads(SHIPPED_DIR / "default")
    veiled = "Mr Hughes better watch his back. I know where he parks and I will make him pay."

    def threat_with(pager_bias: float, sure: float) -> tuple[float, bool]:
        pager = shipped.heads["threat-pager"]
        heads = dict(shipped.heads)
        heads["threat-pager"] = replace(
            pager, weights=np.zeros_like(pager.weights), bias=np.full_like(pager.bias, pager_bias)
        )
        heads["threat"] = replace(shipped.heads["threat"], page_threshold=sure)
        signals = TransformersLayer(encoder, Heads(heads, shipped.manifest)).assess([veiled])[0]
        threat = next(s for s in signals if s.label == Label.THREAT)
        return threat.score, threat.confident

    score, confident = threat_with(pager_bias=-60.0, sure=0.95)
    assert 0.5 < score < 0.95 and not confident  # raised, held for review: the pager says no
    assert threat_with(pager_bias=60.0, sure=0.95)[1]  # the pager confirms: it pages
    assert threat_with(pager_bias=-60.0, sure=0.5)[1]  # the first pass is sure enough on its own
