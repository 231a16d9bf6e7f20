"""The cascade: every layer's signals kept, versions recorded, sentiment derived."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from monitor.classify import Cascade, RulesLayer, build_classifier
from monitor.classify.base import Assessment, Label, Sentiment, Signal, Watchlists
from monitor.classify.cascade import derive_sentiment


class FixedLayer:
    """A layer that raises the given signals for every text containing a keyword."""

    def __init__(self, name: str, version: str, keyword: str, *signals: Signal) -> None:
        self.name = name
        self.version = version
        self.keyword = keyword
        self.signals = signals

    def assess(self, texts: Sequence[str]) -> list[tuple[Signal, ...]]:
        return [self.signals if self.keyword in text else () for text in texts]


class MoodLayer(FixedLayer):
    """A layer that also has an opinion on sentiment, for texts with its keyword."""

    def sentiments(self, texts: Sequence[str]) -> list[tuple[Sentiment, float] | None]:
        return [(Sentiment.POSITIVE, 0.9) if self.keyword in text else None for text in texts]


class ShortLayer(FixedLayer):
    """A broken layer that loses a result."""

    def assess(self, texts: Sequence[str]) -> list[tuple[Signal, ...]]:
        return super().assess(texts)[1:]


def signal(label: Label, score: float, layer: str = "fake") -> Signal:
    return Signal(label=label, score=score, layer=layer, rule=f"{layer}:{label}")


def test_model_version_names_every_layer_in_order() -> None:
    cascade = Cascade([FixedLayer("rules", "1.abc", "x"), FixedLayer("tx", "distil-2", "x")])
    assert cascade.model_version == "rules@1.abc+tx@distil-2"
    assert [a.model_version for a in cascade.classify(["x", "y"])] == [cascade.model_version] * 2


def test_signals_from_every_layer_are_kept_and_never_lowered() -> None:
    strong = signal(Label.THREAT, 0.9, "rules")
    weak = signal(Label.THREAT, 0.2, "model")
    extra = signal(Label.INSULT, 0.7, "model")
    cascade = Cascade(
        [FixedLayer("rules", "1", "kill", strong), FixedLayer("model", "1", "kill", weak, extra)]
    )
    [assessment] = cascade.classify(["I will kill you"])
    assert assessment.signals == (strong, weak, extra)
    assert assessment.score(Label.THREAT) == 0.9
    assert assessment.labels == {Label.THREAT, Label.INSULT}


def test_each_text_gets_only_its_own_signals_in_order() -> None:
    praise = signal(Label.PRAISE, 1.0)
    cascade = Cascade([FixedLayer("rules", "1", "thanks", praise)])
    results = cascade.classify(["nothing", "thanks!", "also nothing"])
    assert [a.signals for a in results] == [(), (praise,), ()]


@pytest.mark.parametrize(
    ("signals", "sentiment", "score"),
    [
        ((), Sentiment.NEUTRAL, 0.5),
        ((signal(Label.QUERY, 0.7),), Sentiment.NEUTRAL, 0.5),
        ((signal(Label.SPAM, 1.0), signal(Label.PERSONAL_DATA, 1.0)), Sentiment.NEUTRAL, 0.5),
        ((signal(Label.PRAISE, 0.6),), Sentiment.POSITIVE, 0.6),
        ((signal(Label.PRAISE, 0.6), signal(Label.PRAISE, 1.0)), Sentiment.POSITIVE, 1.0),
        ((signal(Label.CRITICISM, 0.6),), Sentiment.NEGATIVE, 0.6),
        ((signal(Label.PRAISE, 1.0), signal(Label.CRITICISM, 0.6)), Sentiment.NEGATIVE, 0.6),
        ((signal(Label.INSULT, 0.6), signal(Label.THREAT, 1.0)), Sentiment.NEGATIVE, 1.0),
        ((signal(Label.DEFAMATION, 0.5),), Sentiment.NEGATIVE, 0.5),
        ((signal(Label.HATE, 0.8),), Sentiment.NEGATIVE, 0.8),
        ((signal(Label.EXTREMISM, 1.0),), Sentiment.NEGATIVE, 1.0),
        ((signal(Label.SEXUAL, 0.6),), Sentiment.NEGATIVE, 0.6),
        ((signal(Label.HARASSMENT, 0.7),), Sentiment.NEGATIVE, 0.7),
    ],
)
def test_sentiment_is_derived_from_the_labels(
    signals: tuple[Signal, ...], sentiment: Sentiment, score: float
) -> None:
    assert derive_sentiment(signals) == (sentiment, score)
    [assessment] = Cascade([FixedLayer("fake", "1", "", *signals)]).classify(["text"])
    assert (assessment.sentiment, assessment.sentiment_score) == (sentiment, score)


def test_a_layer_that_judges_sentiment_is_believed_over_the_derived_one() -> None:
    insult = signal(Label.INSULT, 0.6)
    cascade = Cascade([FixedLayer("rules", "1", "", insult), MoodLayer("model", "1", "ironic")])
    derived, given = cascade.classify(["plain", "ironic"])
    assert (derived.sentiment, derived.sentiment_score) == (Sentiment.NEGATIVE, 0.6)
    assert (given.sentiment, given.sentiment_score) == (Sentiment.POSITIVE, 0.9)
    assert given.signals == (insult,)


def test_a_layer_returning_the_wrong_number_of_results_is_an_error() -> None:
    with pytest.raises(ValueError, match="broken"):
        Cascade([ShortLayer("broken", "1", "x")]).classify(["a", "b"])


def test_a_cascade_needs_a_layer() -> None:
    with pytest.raises(ValueError, match="at least one layer"):
        Cascade([])


def test_an_empty_batch_gives_no_assessments() -> None:
    assert build_classifier(Watchlists()).classify([]) == []


def test_the_default_classifier_is_the_rules_layer() -> None:
    cascade = build_classifier(Watchlists(staff_names=("Mr Smith",)))
    assert [type(layer) for layer in cascade.layers] == [RulesLayer]
    assert cascade.model_version == f"rules@{cascade.layers[0].version}"


@pytest.mark.parametrize(
    ("text", "labels", "sentiment"),
    [
        ("I will kill you", {Label.THREAT}, Sentiment.NEGATIVE),
        ("Thank you, what an amazing sports day!", {Label.PRAISE}, Sentiment.POSITIVE),
        ("Could you tell me what time the trip gets back?", {Label.QUERY}, Sentiment.NEUTRAL),
        ("Mr Smith is useless", {Label.INSULT, Label.HARASSMENT}, Sentiment.NEGATIVE),
        ("Thanks for nothing, this is disgraceful", {Label.CRITICISM}, Sentiment.NEGATIVE),
        ("the trip was sick", set(), Sentiment.NEUTRAL),
    ],
)
def test_the_default_classifier_end_to_end(
    text: str, labels: set[Label], sentiment: Sentiment
) -> None:
    [assessment] = build_classifier(Watchlists(staff_names=("Mr Smith",))).classify([text])
    assert assessment.labels >= labels
    assert assessment.sentiment is sentiment
    assert assessment.model_version.startswith("rules@")


def _threat(layer: str, score: float, confident: bool) -> Signal:
    return Signal(Label.THREAT, score, layer, f"{layer}-rule", confident=confident)


def test_a_paging_label_alerts_now_only_when_confident_or_confirmed_by_a_second_layer() -> None:
    unsure_model = Assessment(signals=(_threat("transformers", 0.7, False),))
    sure_model = Assessment(signals=(_threat("transformers", 0.97, True),))
    weak_rule = Assessment(signals=(_threat("rules", 0.6, False),))
    agreed = Assessment(signals=(_threat("rules", 0.6, False), _threat("transformers", 0.7, False)))
    assert unsure_model.held_for_review == {Label.THREAT}
    assert weak_rule.held_for_review == {Label.THREAT}
    assert not unsure_model.alerts_now(Label.THREAT)
    assert sure_model.alerts_now(Label.THREAT) and sure_model.held_for_review == frozenset()
    assert agreed.alerts_now(Label.THREAT) and agreed.held_for_review == frozenset()


def test_labels_that_do_not_page_alert_whatever_their_confidence() -> None:
    unsure = Signal(Label.INSULT, 0.51, "transformers", "offensive-head", confident=False)
    assessment = Assessment(signals=(unsure,))
    assert assessment.alerts_now(Label.INSULT) and assessment.held_for_review == frozenset()
    assert not assessment.alerts_now(Label.HATE)


def test_an_assessment_records_the_profile_that_made_it() -> None:
    assert build_classifier(Watchlists()).classify(["hello"])[0].profile == "rules"
