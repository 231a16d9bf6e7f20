"""Layer 1 of the cascade: curated lexicons, personal-data patterns and the school's watch lists."""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace
from functools import lru_cache
from pathlib import Path

from monitor.classify.base import Label, Signal, Watchlists
from monitor.classify.lexicon import STRONG, Hit, compile_lexicon, compile_terms, find_hits
from monitor.classify.normalise import (
    INVISIBLE,
    INVISIBLE_TABLE,
    Normalised,
    normalise,
)

RULES_CODE_VERSION = "1"
LEXICON_DIR = Path(__file__).with_name("lexicons")
LEXICON_LABELS: dict[str, Label] = {
    "threat": Label.THREAT,
    "self_harm": Label.SAFEGUARDING,
    "child_at_risk": Label.SAFEGUARDING,
    "extremism": Label.EXTREMISM,
    "sexual": Label.SEXUAL,
    "hate": Label.HATE,
    "insult": Label.INSULT,
    "harassment": Label.HARASSMENT,
    "spam": Label.SPAM,
    "praise": Label.PRAISE,
    "query": Label.QUERY,
    "criticism": Label.CRITICISM,
    "defamation": Label.DEFAMATION,
}
# People mask profanity and slurs with asterisks ("f*** off", "n*gger"); elsewhere a masked word
# is too ambiguous ("c***" could be any of several words) to count.
MASKABLE_LEXICONS = frozenset({"insult", "hate"})
ALLEGATION_ALONE = 0.5  # an allegation with no named target is scaled down by this factor
NEAR = 80  # normalised characters between a watch-listed name and a term for them to go together
PUPIL_EVIDENCE = "pupil name (hashed match)"
LAYER = "rules"


def read_lexicons(directory: Path) -> dict[str, str]:
    """The text of every lexicon file in `directory`, by file stem."""
    sources: dict[str, str] = {}
    for path in sorted(directory.glob("*.txt")):
        if path.stem not in LEXICON_LABELS:
            raise ValueError(f"unknown lexicon {path.name}; known: {sorted(LEXICON_LABELS)}")
        sources[path.stem] = path.read_text(encoding="utf-8")
    return sources


def lexicon_version(sources: dict[str, str]) -> str:
    """A short version that changes with the code version or any lexicon's content."""
    digest = hashlib.sha256(RULES_CODE_VERSION.encode())
    for stem in sorted(sources):
        digest.update(f"{stem}\0{sources[stem]}\0".encode())
    return f"{RULES_CODE_VERSION}.{digest.hexdigest()[:10]}"


# --- personal data ------------------------------------------------------------------------------

_PHONE = re.compile(
    r"(?<![\w+])(?:(?:\+|00)44[\s-]?(?:\(0\)[\s-]?)?|\(?0)(?:\d[\s\-)]{0,2}){9}\d(?!\d)"
)
_EMAIL = re.compile(
    r"(?<![\w.+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}(?![\w-])"
)
_POSTCODE_AREAS = (  # the UK's postcode areas: "Y10 2ND" is not a postcode, "B33 8TH" is
    "AB|AL|B|BA|BB|BD|BH|BL|BN|BR|BS|BT|CA|CB|CF|CH|CM|CO|CR|CT|CV|CW|DA|DD|DE|DG|DH|DL|DN|DT|DY|"
    "E|EC|EH|EN|EX|FK|FY|G|GL|GU|GY|HA|HD|HG|HP|HR|HS|HU|HX|IG|IM|IP|IV|JE|KA|KT|KW|KY|L|LA|LD|LE|"
    "LL|LN|LS|LU|M|ME|MK|ML|N|NE|NG|NN|NP|NR|NW|OL|OX|PA|PE|PH|PL|PO|PR|RG|RH|RM|S|SA|SE|SG|SK|SL|"
    "SM|SN|SO|SP|SR|SS|ST|SW|SY|TA|TD|TF|TN|TQ|TR|TS|TW|UB|W|WA|WC|WD|WF|WN|WR|WS|WV|YO|ZE"
)
_POSTCODE = re.compile(
    rf"(?<![A-Za-z0-9])(?:(?:{_POSTCODE_AREAS})\d[A-Z\d]?[ \t]?\d[ABD-HJLNP-UW-Z]{{2}}"
    r"|GIR[ \t]?0AA)(?![A-Za-z0-9])",
    re.IGNORECASE,
)
MOBILE_SCORE, LANDLINE_SCORE, EMAIL_SCORE, POSTCODE_SCORE = 1.0, 0.7, 1.0, 0.7


def personal_data_signals(text: str) -> list[Signal]:
    """Phone numbers, email addresses and postcodes in `text`."""
    clean = unicodedata.normalize("NFKC", text).translate(INVISIBLE_TABLE)
    signals = [_phone_signal(m.group()) for m in _PHONE.finditer(clean)]
    signals += [
        _signal(Label.PERSONAL_DATA, EMAIL_SCORE, "pattern:email", m.group())
        for m in _EMAIL.finditer(clean)
    ]
    signals += [
        _signal(Label.PERSONAL_DATA, POSTCODE_SCORE, "pattern:uk_postcode", m.group())
        for m in _POSTCODE.finditer(clean)
    ]
    return _strongest_per_rule(s for s in signals if s is not None)


def _phone_signal(number: str) -> Signal | None:
    national = re.sub(r"\D", "", number)[-10:]  # the ten digits after 0 or +44
    if national[0] == "7":
        return _signal(Label.PERSONAL_DATA, MOBILE_SCORE, "pattern:uk_phone", number.strip())
    if national[0] in "123":
        return _signal(Label.PERSONAL_DATA, LANDLINE_SCORE, "pattern:uk_phone", number.strip())
    return None  # freephone, premium rate and the like are businesses, not people


_ASCII_PUNCTUATION = {c: None for c in range(128) if unicodedata.category(chr(c))[0] == "P"}


def normalise_name(name: str) -> str:
    """A name as it is hashed: NFKC, casefolded, punctuation removed, whitespace collapsed."""
    if name.isascii():
        return " ".join(name.lower().translate(_ASCII_PUNCTUATION).split())
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", name).casefold())
    kept = "".join(c for c in folded if unicodedata.category(c)[0] != "P" and c not in INVISIBLE)
    return " ".join(kept.split())


HASH_PREFIX = "hmac-sha256:"


def hash_name(name: str, key: bytes) -> str:
    """The stored form of a pupil name: "hmac-sha256:" + HMAC-SHA256(key, normalised name)."""
    return _hash_normalised(normalise_name(name), key)


@lru_cache(maxsize=65536)  # the same words recur across posts; hashing them once is enough
def _hash_normalised(name: str, key: bytes) -> str:
    return HASH_PREFIX + hmac.new(key, name.encode(), hashlib.sha256).hexdigest()


_POSSESSIVE = re.compile(r"['\u2019]s\W*$", re.IGNORECASE)


def pupil_name_words(text: str, hashes: frozenset[str], key: bytes) -> set[str]:
    """The normalised words of every 1-3 word window of `text` whose hash is in `hashes`."""
    if not hashes:
        return set()
    tokens = [forms for forms in map(_name_forms, text.split()) if forms[0]]
    found: set[str] = set()
    for start in range(len(tokens)):
        for end in range(start + 1, min(start + 4, len(tokens) + 1)):
            lead = [forms[0] for forms in tokens[start : end - 1]]
            for last in tokens[end - 1]:
                if _hash_normalised(" ".join([*lead, last]), key) in hashes:
                    found.update(form for forms in tokens[start:end] for form in forms)
    return found


def _name_forms(raw: str) -> tuple[str, ...]:
    """A word as a name: itself and, for "Smith's", also "smith"."""
    bare = _POSSESSIVE.sub("", raw)
    return (normalise_name(raw),) if bare == raw else (normalise_name(raw), normalise_name(bare))


def redact_pupil_names(text: str, hashes: frozenset[str], key: bytes) -> str:
    """`text` with every word of a watch-listed pupil name replaced by "[pupil]"."""
    return _redact(text, pupil_name_words(text, hashes, key))


def _redact(evidence: str, words: set[str]) -> str:
    if not words:
        return evidence
    parts = re.split(r"(\s+)", evidence)
    return "".join("[pupil]" if normalise_name(part) in words else part for part in parts)


# --- questions ----------------------------------------------------------------------------------

_QUESTION = re.compile(r"[^.!?\n]*\?")
_INTERROGATIVES = frozenset(
    {"what", "when", "where", "which", "who", "whom", "whose", "why", "how", "is", "are", "was"}
    | {"were", "do", "does", "did", "can", "could", "will", "would", "should", "shall", "may"}
    | {"might", "has", "have", "any"}
)
QUESTION_SCORE, LOOSE_QUESTION_SCORE = 0.7, 0.5


def question_signal(text: str) -> Signal | None:
    """A `query` signal for the most question-like sentence ending in "?", if there is one."""
    best: Signal | None = None
    for match in _QUESTION.finditer(text):
        sentence = match.group().strip()
        words = re.findall(r"[^\W\d_]+", sentence.casefold())
        if words and sentence != "?":
            score = QUESTION_SCORE if words[0] in _INTERROGATIVES else LOOSE_QUESTION_SCORE
            if best is None or score > best.score:
                best = _signal(Label.QUERY, score, "pattern:question", sentence[:120])
    return best


# --- the layer ----------------------------------------------------------------------------------


def _signal(label: Label, score: float, rule: str, evidence: str) -> Signal:
    """A rule's signal: a strong entry is confident on its own, a weak one needs the model."""
    return Signal(label, score, LAYER, rule, evidence, confident=score >= STRONG)


def _strongest_per_rule(signals: Iterable[Signal]) -> list[Signal]:
    best: dict[tuple[Label, str], Signal] = {}
    for signal in signals:
        key = (signal.label, signal.rule)
        if key not in best or signal.score > best[key].score:
            best[key] = signal
    return list(best.values())


def _clean_names(names: Iterable[str]) -> tuple[str, ...]:
    cleaned = (" ".join(re.sub(r"[^\w\s'-]", " ", name).split()) for name in names)
    return tuple(sorted({name for name in cleaned if name}))


@lru_cache(maxsize=256)
def _names_pattern(names: tuple[str, ...]) -> re.Pattern[str] | None:
    return compile_terms(names)


def _near(a: Hit, b: Hit) -> bool:
    return max(a.start, b.start) - min(a.end, b.end) <= NEAR


class RulesLayer:
    """Lexicons, personal-data patterns and the school's watch lists; every signal explained."""

    name: str = LAYER

    def __init__(self, watchlists: Watchlists, lexicon_dir: Path | None = None) -> None:
        sources = read_lexicons(lexicon_dir or LEXICON_DIR)
        self.version: str = lexicon_version(sources)
        self.watchlists = watchlists
        self._lexicons = {
            stem: compile_lexicon(source, stem in MASKABLE_LEXICONS)
            for stem, source in sources.items()
        }
        self._staff = _names_pattern(_clean_names(watchlists.staff_names))
        self._school = _names_pattern(_clean_names(watchlists.school_names))

    def assess(self, texts: Sequence[str]) -> list[tuple[Signal, ...]]:
        """Signals for each text, in order."""
        return [self.assess_text(text) for text in texts]

    def assess_text(self, text: str) -> tuple[Signal, ...]:
        """Signals for one text."""
        norm = normalise(text)
        hits = {stem: lexicon.find(norm.text) for stem, lexicon in self._lexicons.items()}
        signals = [*self._lexicon_signals(text, norm, hits)]
        signals += self._target_signals(text, norm, hits)
        signals += personal_data_signals(text)
        question = question_signal(text)
        signals += [question] if question is not None else []
        pupil = self.watchlists
        words = pupil_name_words(text, pupil.pupil_name_hashes, pupil.pupil_hash_key)
        if words:
            signals.append(_signal(Label.PERSONAL_DATA, 1.0, "watchlist:pupil", PUPIL_EVIDENCE))
        return tuple(_with_evidence(s, _redact(s.evidence, words)) for s in signals)

    def _lexicon_signals(
        self, text: str, norm: Normalised, hits: dict[str, list[Hit]]
    ) -> Iterator[Signal]:
        for stem, found in hits.items():
            if found:
                label = LEXICON_LABELS[stem]
                scale = ALLEGATION_ALONE if label is Label.DEFAMATION else 1.0
                evidence = norm.original(text, found[0].start, found[0].end)
                yield _signal(label, found[0].score * scale, f"lexicon:{stem}", evidence)

    def _target_signals(
        self, text: str, norm: Normalised, hits: dict[str, list[Hit]]
    ) -> Iterator[Signal]:
        staff = list(find_hits(self._staff, norm.text, STRONG))
        school = list(find_hits(self._school, norm.text, STRONG))
        pairs = (
            (Label.DEFAMATION, 1.0, "watchlist:staff", staff, hits.get("defamation", [])),
            (Label.DEFAMATION, 1.0, "watchlist:school", school, hits.get("defamation", [])),
            (Label.HARASSMENT, 1.0, "watchlist:staff", staff, hits.get("insult", [])),
            (Label.HARASSMENT, 0.7, "watchlist:staff", staff, hits.get("criticism", [])),
        )
        fired: set[tuple[Label, str]] = set()
        for label, score, rule, names, terms in pairs:
            pair = next(((n, t) for n in names for t in terms if _near(n, t)), None)
            if pair is not None and (label, rule) not in fired:
                fired.add((label, rule))
                name, term = (norm.original(text, h.start, h.end) for h in pair)
                yield _signal(label, score, rule, f"{name} … {term}")


def _with_evidence(signal: Signal, evidence: str) -> Signal:
    if evidence == signal.evidence:
        return signal
    return replace(signal, evidence=evidence)
