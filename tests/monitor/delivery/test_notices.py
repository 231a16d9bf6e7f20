"""What an alert says about why a post was flagged: plain words, not rule and head names."""

from __future__ import annotations

import pytest

from monitor.classify.base import Label, Signal
from monitor.delivery.notices import describe_signal


@pytest.mark.parametrize(
    ("signal", "reason"),
    [
        (
            Signal(Label.THREAT, 0.8312, "transformers", "threat-head"),
            "the model is 83 % sure this is a threat",
        ),
        (
            Signal(Label.SAFEGUARDING, 0.91, "transformers", "safeguarding-head"),
            "the model is 91 % sure this is a safeguarding concern",
        ),
        (
            Signal(Label.THREAT, 1.0, "rules", "lexicon:threat", "stab you tomorrow"),
            "the words 'stab you tomorrow' matched the threat list",
        ),
        (
            Signal(Label.SAFEGUARDING, 1.0, "rules", "lexicon:self_harm", "end it all"),
            "the words 'end it all' matched the self-harm list",
        ),
        (
            Signal(Label.PERSONAL_DATA, 1.0, "rules", "pattern:uk_phone", "07700 900123"),
            "it contains a UK phone number ('07700 900123')",
        ),
        (
            Signal(Label.PERSONAL_DATA, 1.0, "rules", "watchlist:pupil", "pupil name"),
            "it names a pupil on the school's watch list",
        ),
        (
            Signal(Label.HARASSMENT, 1.0, "rules", "watchlist:staff", "Mr Hughes … idiot"),
            "the words 'Mr Hughes … idiot' pair a staff name with harassment",
        ),
        (
            Signal(Label.THREAT, 0.6, "rules", "lexicon:threat", "stabbed", confident=False),
            "the words 'stabbed' matched the threat list (a weak sign on its own)",
        ),
    ],
)
def test_each_reason_is_said_in_plain_words(signal: Signal, reason: str) -> None:
    assert describe_signal(signal) == reason


def test_no_reason_names_a_head_a_layer_or_a_rule_id() -> None:
    signals = [
        Signal(Label.THREAT, 0.83, "transformers", "threat-head"),
        Signal(Label.THREAT, 1.0, "rules", "lexicon:threat", "stab"),
    ]
    for said in map(describe_signal, signals):
        assert not any(jargon in said for jargon in ("-head", "lexicon:", "rules", "threat:"))
