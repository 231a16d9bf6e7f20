"""Lexicon files compiled to regexes: one trie per strength, tolerant of leetspeak, repeated
letters and masking, with exclusions (syntax: lexicons/threat.txt)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from itertools import groupby

from monitor.classify.normalise import DOTLESS, fold_char

STRONG, WEAK = 1.0, 0.6
"""The score of a strong entry (confident on its own) and of a weak one (`~ term`)."""


_START = r"(?<![\w*])"
_END = r"(?![\w*])"
_SEP = r"[^\w*]{0,5}"
_Trie = dict[str, "_Trie"]


@dataclass(frozen=True)
class Hit:
    """One match in normalised text."""

    start: int
    end: int
    score: float


@dataclass(frozen=True)
class Lexicon:
    """One lexicon file compiled: its strong and weak entries and its exclusions."""

    strong: re.Pattern[str] | None
    weak: re.Pattern[str] | None
    exclude: re.Pattern[str] | None

    def find(self, text: str) -> list[Hit]:
        """Matches in normalised `text` that no exclusion overlaps, strongest first."""
        hits = [*find_hits(self.strong, text, STRONG), *find_hits(self.weak, text, WEAK)]
        if hits and self.exclude is not None:
            blocked = [m.span() for m in self.exclude.finditer(text)]
            hits = [h for h in hits if not any(s < h.end and h.start < e for s, e in blocked)]
        return sorted(hits, key=lambda hit: (-hit.score, hit.start))


def find_hits(pattern: re.Pattern[str] | None, text: str, score: float) -> Iterator[Hit]:
    """Every non-empty match of `pattern` in normalised text, at `score`."""
    if pattern is not None:
        yield from (Hit(m.start(), m.end(), score) for m in pattern.finditer(text) if m.group())


def parse_lexicon(source: str) -> tuple[list[str], list[str], list[str]]:
    """Strong entries, weak (`~`) entries and exclusions (`!`) of a lexicon file."""
    entries: dict[str, list[str]] = {"": [], "~": [], "!": []}
    for raw in source.splitlines():
        line = raw.split("  #", 1)[0].strip()
        if line and not line.startswith("#"):
            kind = line[0] if line[0] in "~!" else ""
            entries[kind].append(line[len(kind) :].strip())
    return entries[""], entries["~"], entries["!"]


@lru_cache(maxsize=64)
def compile_lexicon(source: str, maskable: bool = False) -> Lexicon:
    """Compile a lexicon file's text once per process (cached on its content)."""
    strong, weak, exclude = parse_lexicon(source)
    return Lexicon(*(compile_terms(terms, maskable) for terms in (strong, weak, exclude)))


def compile_terms(terms: Iterable[str], maskable: bool = False) -> re.Pattern[str] | None:
    """One regex (a trie of the terms) matching any term in normalised text."""
    units = [u for u in (_term_units(term, maskable) for term in terms) if u]
    return re.compile(_node_pattern(_trie(units))) if units else None


def _is_word(char: str) -> bool:
    return char.isalnum() or char == "_"


def _term_units(term: str, maskable: bool) -> list[str]:
    words = [w for w in re.split(r"[\s\-]+", "".join(map(fold_char, term))) if w]
    units: list[str] = []
    for index, word in enumerate(words):
        units.append(_SEP if index else (_START if _is_word(word[0]) else ""))
        # A masked last letter only counts with another word for context: "f*** off", not "f***".
        units.extend(_word_units(word, maskable, mask_last=len(words) > 1))
    if words and _is_word(words[-1][-1]):
        units.append(_END)
    return [unit for unit in units if unit]


def _word_units(word: str, maskable: bool, mask_last: bool) -> list[str]:
    units: list[str] = []
    runs = [(char, len(list(group))) for char, group in groupby(word)]
    for index, (char, run) in enumerate(runs):
        if char == "'":
            units.append("'?")
        elif not char.isalpha():
            units.append(re.escape(char * run))
        elif index == 0:
            letter = _letter(char)
            units += [letter, letter + ("*" if run == 1 else f"{{{run - 1},}}")]
        else:
            masked = maskable and (mask_last or index < len(runs) - 1)
            units.append(_letter_unit(char, run, masked))
    return units


def _letter(char: str) -> str:
    return f"[{char}{DOTLESS}]" if char in "il" else re.escape(char)


def _letter_unit(char: str, run: int, maskable: bool) -> str:
    # Repeated letters are tolerated ("kiiill"), but never fewer than the term has ("as" != "ass").
    repeat = _letter(char) + ("+" if run == 1 else f"{{{run},}}")
    return f"(?:{repeat}|\\*{{{run}}})" if maskable else repeat


def _trie(terms: Iterable[list[str]]) -> _Trie:
    root: _Trie = {}
    for units in terms:
        node = root
        for unit in units:
            node = node.setdefault(unit, {})
        node[""] = {}
    return root


def _node_pattern(node: _Trie) -> str:
    # The end-of-word branch goes last so that the longest term wins ("kill you" over "kill").
    ordered = sorted((unit for unit in node if unit), key=lambda unit: (unit == _END, unit))
    branches = [unit + _node_pattern(node[unit]) for unit in ordered]
    if not branches:
        return ""
    if "" in node:
        return "(?:" + "|".join(branches) + ")?"
    return branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
