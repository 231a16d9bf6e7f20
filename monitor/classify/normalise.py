"""Text as the rules read it: folded case and compatibility forms, leetspeak undone, letters joined.

Offsets back into the original are kept so that evidence quotes what the stranger wrote.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

INVISIBLE = frozenset("\u00ad\u180e\u200b\u200c\u200d\u200e\u200f\u2060\u2061\u2062\u2063\ufeff")
INVISIBLE_TABLE = dict.fromkeys(map(ord, INVISIBLE))
_APOSTROPHES = frozenset("\u2018\u2019\u02bc\u0060\u00b4\u2032")
DOTLESS = "\u0131"  # what "1" becomes: it may stand for i or l, and lexicon i and l accept it
_LEET = {"0": "o", "1": DOTLESS, "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s"}
_LEET["!"] = "i"
_RUN = re.compile(r"[\w@$!*]+")
_LEETISH = re.compile(r"[013457@$!*]")
_SPACED = re.compile(r"(?<![\w*])[^\W_@$!](?:[.\-_\s]{1,2}(?:[^\W_]|[@$!])){2,}(?![\w*])")
_SEPARATORS = frozenset(".-_ \t\n\r\f\v")
_MAX_REPEAT = 3  # longer runs of one character are cut to this, which bounds regex backtracking
_LONG_RUN = re.compile(rf"(.)\1{{{_MAX_REPEAT},}}", re.DOTALL)


@dataclass(frozen=True)
class Normalised:
    """Text folded for matching, with each character's index in the original text."""

    text: str
    origin: tuple[int, ...]

    def original(self, source: str, start: int, end: int) -> str:
        """The original characters behind the normalised span `start:end`."""
        return source[self.origin[start] : self.origin[end - 1] + 1]


def normalise(text: str) -> Normalised:
    """Fold `text` for matching: casefold, compatibility forms, leetspeak, spaced-out letters."""
    compact = _compact(*_fold(text))
    chars = list(compact.text)
    _unleet(chars)
    return Normalised("".join(chars), compact.origin)


@lru_cache(maxsize=8192)
def fold_char(char: str) -> str:
    """One character casefolded, compatibility-folded and stripped of accents."""
    if char in INVISIBLE:
        return ""
    if char in _APOSTROPHES:
        return "'"
    if char.isascii():
        return char.lower()
    decomposed = unicodedata.normalize("NFKD", char)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def _fold(text: str) -> tuple[str, list[int]]:
    chars: list[str] = []
    origin: list[int] = []
    for index, char in enumerate(text):
        for folded in fold_char(char):
            chars.append(folded)
            origin.append(index)
    return "".join(chars), origin


def _unleet(chars: list[str]) -> None:
    text = "".join(chars)
    if not _LEETISH.search(text):
        return
    emphasis = False  # inside *emphasised words*, whose asterisks are not masked letters
    for run in _RUN.finditer(text):
        body = run.group()
        if _LEETISH.search(body) and any(char.isalpha() for char in body):
            lead = len(body) - len(body.lstrip("*"))
            emphasis = emphasis or lead > 0
            trail = len(body) - len(body.rstrip("*")) if emphasis else 0
            emphasis = emphasis and not trail
            _unleet_run(chars, run.start() + lead, run.end() - trail)
            chars[run.start() : run.start() + lead] = " " * lead
            chars[run.end() - trail : run.end()] = " " * trail


def _unleet_run(chars: list[str], start: int, end: int) -> None:
    for index in range(start, end):
        if _leet_applies(chars, index, start, end):
            chars[index] = _LEET[chars[index]]


def _leet_applies(chars: list[str], index: int, start: int, end: int) -> bool:
    char = chars[index]
    if char == "@":
        return index > start  # a leading @ is a mention
    if char == "$":
        return index < end - 1
    if char == "!":
        inside = start < index < end - 1
        return inside and chars[index - 1] != "!" and chars[index + 1] != "!"
    return char in _LEET


def _compact(text: str, origin: list[int]) -> Normalised:
    drop = {i for m in _SPACED.finditer(text) for i in range(*m.span()) if text[i] in _SEPARATORS}
    for run in _LONG_RUN.finditer(text):
        drop.update(range(run.start() + _MAX_REPEAT, run.end()))
    if not drop:
        return Normalised(text, tuple(origin))
    kept = [i for i in range(len(text)) if i not in drop]
    return Normalised("".join(text[i] for i in kept), tuple(origin[i] for i in kept))
