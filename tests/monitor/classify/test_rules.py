"""The rules layer: what must fire and, as importantly, what must not."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from monitor.classify.base import Label, Signal, Watchlists
from monitor.classify.lexicon import compile_lexicon
from monitor.classify.rules import (
    LEXICON_DIR,
    PUPIL_EVIDENCE,
    RulesLayer,
    hash_name,
    normalise,
)

KEY = b"school-0042 key: a secret of the school's"
WATCHLISTS = Watchlists(
    school_names=("Oakwood Academy", "Oakwood"),
    staff_names=("Mr Smith", "Mrs O'Neill"),
    pupil_name_hashes=frozenset({hash_name("Jane Doe", KEY), hash_name("Amir Khan", KEY)}),
    pupil_hash_key=KEY,
)


@pytest.fixture(scope="module")
def layer() -> RulesLayer:
    return RulesLayer(WATCHLISTS)


def labels_of(layer: RulesLayer, text: str) -> set[str]:
    return {signal.label.value for signal in layer.assess([text])[0]}


def signals_of(layer: RulesLayer, text: str) -> tuple[Signal, ...]:
    return layer.assess([text])[0]


def check(layer: RulesLayer, text: str, fires: set[str], silent: set[str]) -> None:
    found = labels_of(layer, text)
    assert fires <= found, f"{text!r}: expected {fires - found} to fire, got {found}"
    assert not silent & found, f"{text!r}: expected {silent & found} not to fire"


THREAT_CASES = [
    ("I will kill you", {"threat"}, set()),
    ("I'm going to stab him tomorrow", {"threat"}, set()),
    ("someone should bring a gun to school and sort them out", {"threat"}, set()),
    ("gonna shoot up the school on monday", {"threat"}, set()),
    ("I'm going to bomb the school", {"threat"}, set()),
    ("watch your back Miss", {"threat"}, set()),
    ("I'll batter him after school", {"threat"}, set()),
    ("gonna smash his face in", {"threat"}, set()),
    ("he'll get his head kicked in", {"threat"}, set()),
    ("you're dead after school", {"threat"}, set()),
    ("I know where you live", {"threat"}, set()),
    ("someone should burn this school down", {"threat"}, set()),
    # leetspeak, case, elongation, spacing, compatibility forms, invisible characters
    ("i'll k1ll him", {"threat"}, set()),
    ("k!ll y0u", {"threat"}, set()),
    ("st@b", {"threat"}, set()),
    ("KILL YOU", {"threat"}, set()),
    ("kiiiiill youuuu", {"threat"}, set()),
    ("k.i.l.l you", {"threat"}, set()),
    ("k i l l you", {"threat"}, set()),
    ("\uff4b\uff49\uff4c\uff4c \uff59\uff4f\uff55", {"threat"}, set()),  # fullwidth
    ("ki\u200bll y\u200dou", {"threat"}, set()),
    ("k\u00edll you", {"threat"}, set()),
    ("**kill you**", {"threat"}, set()),
]

NOT_THREAT_CASES = [
    ("this homework is killing me", set(), {"threat"}),
    ("Sports day: the dads go for the kill every year. Wear proper shoes!", set(), {"threat"}),
    ("I will kill every last one of you", {"threat"}, set()),
    ("I'm dying of laughter", set(), {"threat", "safeguarding"}),
    ("the kids killed it at sports day", set(), {"threat"}),
    ("shoot me an email if you have any questions", set(), {"threat"}),
    ("I'll shoot you a message later", set(), {"threat"}),
    ("we have a bomb-proof plan for exams", set(), {"threat"}),
    ("fire drill at 10am today", set(), {"threat"}),
    ("great skills on show today", set(), {"threat"}),
    ("we will upskill you in coding", set(), {"threat"}),
    ("batter for the cake sale is ready", set(), {"threat"}),
    ("Year 9 had a stab at poetry", set(), {"threat"}),
    ("you're dead right about the car park", set(), {"threat"}),
    ("I'm going to kill myself", {"safeguarding"}, {"threat"}),
]

SAFEGUARDING_CASES = [
    ("i want to kill myself", {"safeguarding"}, set()),
    ("I've been cutting myself again", {"safeguarding"}, set()),
    ("I self-harm when it gets bad", {"safeguarding"}, set()),
    ("i wanna d1e", {"safeguarding"}, set()),
    ("he touches me when mum is out", {"safeguarding"}, set()),
    ("don't tell your parents about our chats", {"safeguarding"}, set()),
    ("dont tell your parents", {"safeguarding"}, set()),
    ("this is our little secret", {"safeguarding"}, set()),
    ("meet me alone after the match", {"safeguarding"}, set()),
    ("I'm being hit at home", {"safeguarding"}, set()),
    ("there's no food at home again", {"safeguarding"}, set()),
    ("send me a pic babe", {"safeguarding"}, set()),
    ("Self-harm awareness week assembly", set(), {"safeguarding"}),
    ("Suicide prevention day: talk to someone", set(), {"safeguarding"}),
]

EXTREMISM_CASES = [
    ("join isis brothers", {"extremism"}, set()),
    ("holy war against the west", {"extremism"}, set()),
    ("the race war is coming", {"extremism"}, set()),
    ("white genocide is real", {"extremism"}, set()),
    ("remember the 14 words", {"extremism"}, set()),
    ("1488", {"extremism"}, set()),
    ("counter-terrorism police visited the school today", set(), {"extremism", "threat"}),
    ("Prevent training for all staff on Friday", set(), {"extremism"}),
    ("our national action plan for maths", set(), {"extremism"}),
]

SEXUAL_AND_HATE_CASES = [
    ("send nudes", {"sexual"}, set()),
    ("Year 10 spent music rapping Kendrick Lamar lyrics", set(), {"sexual"}),
    ("she got rapped about by Jay-Z", set(), {"sexual"}),
    ("the boys in his form raped her", {"sexual"}, set()),
    ("lads watching porn in class", {"sexual"}, set()),
    ("Relationships and sex education (RSE) evening for parents", set(), {"sexual"}),
    ("we saw blue tits on the nature walk", set(), {"sexual", "insult"}),
    ("cocktail evening for the PTA", set(), {"sexual", "insult"}),
    ("go back to your own country", {"hate"}, set()),
    ("n1gger", {"hate"}, set()),
    ("p*ki", {"hate"}, set()),
    ("stop being such a spaz", {"hate"}, set()),
    ("Year 8 trip photos from Pakistan", set(), {"hate"}),
    ("caught having a fag break behind the bins", set(), {"hate"}),
]

INSULT_CASES = [
    ("what an idiot", {"insult"}, set()),
    ("absolute muppet", {"insult"}, set()),
    ("pathetic", {"insult"}, set()),
    ("f*** off", {"insult"}, {"hate"}),
    ("fuck off", {"insult"}, set()),
    ("kiss my ass", {"insult"}, set()),
    ("Scunthorpe United won on Saturday", set(), {"insult", "sexual"}),
    ("Playing Assassin's Creed in the holidays", set(), {"insult"}),
    ("great class and pass rates", set(), {"insult"}),
    ("as I said before", set(), {"insult"}),
    ("Where's Wally day on Friday", set(), {"insult"}),
    ("the door knob is broken", set(), {"insult"}),
]

HARASSMENT_SPAM_CASES = [
    ("everyone report her account", {"harassment"}, set()),
    ("name and shame the teacher", {"harassment"}, set()),
    ("let's make her life hell", {"harassment"}, set()),
    ("find out where he lives", {"harassment"}, set()),
    ("kys", {"harassment"}, set()),
    ("neck yourself", {"harassment"}, set()),
    ("DM me to earn \u00a3500 a day", {"spam"}, set()),
    ("Click here for a free iPhone", {"spam"}, set()),
    ("Bitcoin investment opportunity", {"spam"}, set()),
    ("payday loans available", {"spam"}, set()),
]

PRAISE_QUERY_CRITICISM_CASES = [
    ("Thank you to all the amazing staff", {"praise"}, {"criticism"}),
    ("well done year 6!", {"praise"}, set()),
    ("so proud of our choir", {"praise"}, set()),
    ("thanks for nothing", set(), {"praise"}),
    ("the trip was sick", set(), {label.value for label in Label}),
    ("Does anyone know when the school reopens", {"query"}, set()),
    ("Could you tell me the term dates", {"query"}, set()),
    ("What time does pick up finish?", {"query"}, set()),
    ("Is the school closed tomorrow because of the snow", {"query"}, set()),
    ("Our new library opens today.", set(), {"query"}),
    ("This is disgraceful", {"criticism"}, set()),
    ("I've made a formal complaint", {"criticism"}, set()),
    ("the car park is a shambles", {"criticism"}, set()),
    ("not good enough", {"criticism"}, set()),
    ("let down by the school again", {"criticism"}, set()),
    ("appalling communication from the office", {"criticism"}, set()),
    ("no complaints at all", set(), {"criticism"}),
]

WATCHLIST_CASES = [
    ("Mr Smith", set(), {label.value for label in Label}),
    ("Mr Smith is an idiot", {"harassment", "insult"}, set()),
    ("mrs o'neill is useless", {"harassment"}, set()),
    ("Mrs ONeill is useless", {"harassment"}, set()),
    ("Mr. Smith's lessons are a shambles", {"harassment", "criticism"}, set()),
    ("Mr Smithson is an idiot", {"insult"}, {"harassment"}),
    ("Mr Smith is a paedophile", {"defamation"}, set()),
    ("Oakwood Academy covered up the bullying", {"defamation"}, set()),
    ("she stole the show at the panto", set(), {"defamation"}),
    ("lying down in the sun after sports day", set(), {"defamation"}),
]

PERSONAL_DATA_CASES = [
    ("call me on 07700 900123", {"personal_data"}, set()),
    ("+44 7700 900123", {"personal_data"}, set()),
    ("ring +44 (0)7700 900 123 now", {"personal_data"}, set()),
    ("07700-900-123", {"personal_data"}, set()),
    ("(01632) 960 001", {"personal_data"}, set()),
    ("020 7946 0958", {"personal_data"}, set()),
    ("Order number 12345678901", set(), {"personal_data"}),
    ("ref 0770090012345", set(), {"personal_data"}),
    ("call us free on 0800 123 4567", set(), {"personal_data"}),
    ("email jane.doe@example.co.uk", {"personal_data"}, set()),
    ("follow @oakwood on twitter", set(), {"personal_data"}),
    ("her address is near sw1a 1aa", {"personal_data"}, set()),
    ("M1 1AE", {"personal_data"}, set()),
    ("B33 8TH", {"personal_data"}, set()),
    ("stuck on the A1 again", set(), {"personal_data"}),
    ("Y10 2ND place in the relay", set(), {"personal_data"}),
    ("Jane Doe was crying in the toilets", {"personal_data"}, set()),
    ("JANE DOE", {"personal_data"}, set()),
    ("jane   doe.", {"personal_data"}, set()),
    ("Jane Doe's bag was left on the bus", {"personal_data"}, set()),
    ("amir khan, year 7", {"personal_data"}, set()),
    ("Jane was crying in the toilets", set(), {"personal_data"}),
    ("John Doe scored twice", set(), {"personal_data"}),
]


@pytest.mark.parametrize(
    ("text", "fires", "silent"),
    THREAT_CASES
    + NOT_THREAT_CASES
    + SAFEGUARDING_CASES
    + EXTREMISM_CASES
    + SEXUAL_AND_HATE_CASES
    + INSULT_CASES
    + HARASSMENT_SPAM_CASES
    + PRAISE_QUERY_CRITICISM_CASES
    + WATCHLIST_CASES
    + PERSONAL_DATA_CASES,
)
def test_labels(layer: RulesLayer, text: str, fires: set[str], silent: set[str]) -> None:
    check(layer, text, fires, silent)


@pytest.mark.parametrize(
    ("text", "rule", "evidence"),
    [
        ("I will kill you", "lexicon:threat", "I will kill"),
        ("well, K!LL Y0U then", "lexicon:threat", "K!LL Y0U"),
        ("k.i.l.l you", "lexicon:threat", "k.i.l.l you"),
        ("I want to kill myself", "lexicon:self_harm", "want to kill myself"),
        ("our little secret ok", "lexicon:child_at_risk", "our little secret"),
        ("call 07700 900123 tonight", "pattern:uk_phone", "07700 900123"),
        ("write to jo@example.com", "pattern:email", "jo@example.com"),
        ("postcode B33 8TH", "pattern:uk_postcode", "B33 8TH"),
        ("Mr Smith is a liar", "watchlist:staff", "Mr Smith \u2026 liar"),
        ("When is sports day?", "pattern:question", "When is sports day?"),
    ],
)
def test_rule_and_evidence(layer: RulesLayer, text: str, rule: str, evidence: str) -> None:
    matching = [s for s in signals_of(layer, text) if s.rule == rule]
    assert [s.evidence for s in matching] == [evidence]
    assert all(s.layer == "rules" for s in signals_of(layer, text))


@pytest.mark.parametrize(
    ("text", "label", "score"),
    [
        ("I will kill you", Label.THREAT, 1.0),
        ("a pupil was stabbed in town", Label.THREAT, 0.6),
        ("Stop ducking him, you pussy", Label.SEXUAL, 0.6),
        ("someone stole my bike", Label.DEFAMATION, 0.5),
        ("Mr Smith stole from the PTA", Label.DEFAMATION, 1.0),
        ("Oakwood is corrupt", Label.DEFAMATION, 1.0),
        ("Mr Smith is an idiot", Label.HARASSMENT, 1.0),
        ("Mr Smith's marking is appalling", Label.HARASSMENT, 0.7),
        ("07700 900123", Label.PERSONAL_DATA, 1.0),
        ("020 7946 0958", Label.PERSONAL_DATA, 0.7),
        ("Jane Doe", Label.PERSONAL_DATA, 1.0),
    ],
)
def test_scores(layer: RulesLayer, text: str, label: Label, score: float) -> None:
    assert max(s.score for s in signals_of(layer, text) if s.label == label) == score


@pytest.mark.parametrize(
    "text",
    [
        "Jane Doe was crying in the toilets",
        "Is Jane Doe in today? Call 07700 900123",
        "Mr Smith hit Jane Doe, he is a paedophile",
        "JANE DOE's mum says Mr Smith is an idiot",
    ],
)
def test_pupil_name_never_in_evidence(layer: RulesLayer, text: str) -> None:
    signals = signals_of(layer, text)
    assert any(s.rule == "watchlist:pupil" and s.evidence == PUPIL_EVIDENCE for s in signals)
    for signal in signals:
        assert "jane" not in signal.evidence.casefold()
        assert "doe" not in signal.evidence.casefold()


def test_pupil_name_needs_the_key_it_was_hashed_with() -> None:
    other_school = Watchlists(
        pupil_name_hashes=WATCHLISTS.pupil_name_hashes, pupil_hash_key=b"another key"
    )
    assert "personal_data" not in labels_of(RulesLayer(other_school), "Jane Doe")


def test_hash_name_normalises_case_punctuation_and_spacing() -> None:
    expected = hash_name("Jane Doe", KEY)
    assert expected.startswith("hmac-sha256:") and len(expected) == len("hmac-sha256:") + 64
    assert hash_name("  jane   DOE. ", KEY) == expected
    assert hash_name("J\u0430ne Doe", KEY) != expected  # a Cyrillic a is another name
    assert hash_name("Jane Doe", b"another key") != expected


def test_normalise_keeps_offsets_into_the_original() -> None:
    text = "You  K.1.L.L  y0u!!"
    norm = normalise(text)
    start = norm.text.index("k\u0131ll")
    assert norm.original(text, start, start + 4) == "K.1.L.L"


def test_batch_keeps_order(layer: RulesLayer) -> None:
    results = layer.assess(["thank you", "I will kill you", "", "the trip was sick"])
    assert [{s.label for s in signals} for signals in results] == [
        {Label.PRAISE},
        {Label.THREAT},
        set(),
        set(),
    ]


def test_lexicons_compile_once_per_content() -> None:
    source = (LEXICON_DIR / "threat.txt").read_text(encoding="utf-8")
    assert compile_lexicon(source) is compile_lexicon(source)


def test_version_follows_lexicon_content(tmp_path: Path) -> None:
    lexicons = tmp_path / "lexicons"
    shutil.copytree(LEXICON_DIR, lexicons)
    assert RulesLayer(WATCHLISTS, lexicons).version == RulesLayer(WATCHLISTS).version
    before = RulesLayer(WATCHLISTS, lexicons)
    assert "insult" not in labels_of(before, "what a wazzock")
    with (lexicons / "insult.txt").open("a", encoding="utf-8") as insults:
        insults.write("wazzock\n")
    after = RulesLayer(WATCHLISTS, lexicons)
    assert after.version != before.version
    assert "insult" in labels_of(after, "what a wazzock")


def test_unknown_lexicon_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "gossip.txt").write_text("rumour\n", encoding="utf-8")
    with pytest.raises(ValueError, match="gossip"):
        RulesLayer(WATCHLISTS, tmp_path)


def test_a_batch_is_assessed_in_order_one_result_per_post(layer: RulesLayer) -> None:
    posts = [
        f"Post {n}: does anyone know when the gates open?" if n % 2 else f"Post {n}: I'll kill you"
        for n in range(200)
    ]
    results = layer.assess(posts)
    assert len(results) == 200
    assert all(
        (Label.THREAT in {s.label for s in signals}) == (n % 2 == 0)
        for n, signals in enumerate(results)
    )
