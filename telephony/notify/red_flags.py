"""The red-flag matcher (R-NOTE-5, seed 001 "Proactive Vision Escalations": lawyers, suing,
litigation, subpoenas, the news, going out to bid, competitors, "reconsidering", "unacceptable",
"disappointed" must reach a manager at once). Pure: a lexicon from the policy, text in, the
phrases found and the sentences they were in out.

How a phrase matches: in any case; only as whole words ("issue" and "pursue" never hit "sue");
the words of a phrase in order, with spaces or hyphens between them ("going out to bid"); its
last word also in its simple inflections: sue, sues, sued, suing; lawyer, lawyers; disappoint,
disappoints, disappointed, disappointing (a phrase listed as "disappointed" matches all four)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

VOWELS = "aeiou"
MIN_STEM = 4  # "sued" is not stripped to "su": a stem this short would match other words
SENTENCE_LIMIT = 400
_WORD_GAP = r"[\s\-]+"
_SENTENCE_END = re.compile(r"[.!?]+[\"')\]]*(?=\s|$)|\n")


@dataclass(frozen=True)
class Hit:
    """A red flag found in a text: the phrase as the policy lists it, the words as they were
    written, and the sentence they were in."""

    phrase: str
    words: str
    sentence: str
    start: int

    @property
    def key(self) -> str:
        """One red flag per phrase per call, however it was written (R-NOTE-5: no storm)."""
        return phrase_key(self.phrase)


def phrase_key(phrase: str) -> str:
    return " ".join(phrase.casefold().split())


def inflections(word: str) -> set[str]:
    """The simple forms of one word, lower case: sue -> sue, sues, sued, suing; lawyer ->
    lawyer, lawyers; bid -> bid, bids, bidded, bidding; disappointed -> disappointed,
    disappoint, disappoints, disappointing. Words with digits or punctuation (RFP-2, o'neil)
    stand as they are, with a plural."""
    w = word.casefold()
    if not w.isalpha():
        return {w, w + "s"}
    stems = set()
    for suffix in ("ing", "ed"):
        stem = w.removesuffix(suffix)
        if stem != w and len(stem) >= MIN_STEM:
            stems |= {stem, stem + "e"}
            if stem[-1] == stem[-2] and stem[-1] not in VOWELS:
                stems.add(stem[:-1])
    forms = {w}
    for stem in stems or {w}:
        forms |= _forms(stem)
    return forms


def _forms(w: str) -> set[str]:
    if w.endswith("e"):
        return {w, w + "s", w + "d", w[:-1] + "ing"}
    if len(w) > 1 and w.endswith("y") and w[-2] not in VOWELS:
        return {w, w[:-1] + "ies", w[:-1] + "ied", w + "ing"}
    plural = w + "es" if w.endswith(("s", "x", "z", "ch", "sh")) else w + "s"
    if 3 <= len(w) <= 4 and w[-1] not in VOWELS + "wxy" and w[-2] in VOWELS and w[-3] not in VOWELS:
        return {w, plural, w + w[-1] + "ed", w + w[-1] + "ing"}  # bid -> bidding, never "biding"
    return {w, plural, w + "ed", w + "ing"}


def _pattern(phrase: str) -> re.Pattern[str]:
    *head, last = phrase.split()
    alternatives = "|".join(re.escape(f) for f in sorted(inflections(last), key=len, reverse=True))
    words = [re.escape(w) for w in head] + [f"(?:{alternatives})"]
    return re.compile(r"(?<!\w)" + _WORD_GAP.join(words) + r"(?!\w)", re.IGNORECASE)


def sentence_around(text: str, start: int, end: int) -> str:
    """The sentence holding text[start:end]: from the end of the one before to the end of its own."""
    begin, finish = 0, len(text)
    for mark in _SENTENCE_END.finditer(text):
        if mark.end() <= start:
            begin = mark.end()
        elif mark.start() >= end:
            finish = mark.end()
            break
    sentence = " ".join(text[begin:finish].split())
    if len(sentence) <= SENTENCE_LIMIT:
        return sentence
    words = " ".join(text[start:end].split())
    at = max(0, sentence.casefold().find(words.casefold()))
    left = max(0, min(at - SENTENCE_LIMIT // 2, len(sentence) - SENTENCE_LIMIT))
    return "…" + sentence[left : left + SENTENCE_LIMIT].strip() + "…"


class Lexicon:
    """The policy's red-flag phrases (`[red_flags] phrases`), compiled once."""

    def __init__(self, phrases: Iterable[str]):
        self.phrases = tuple(dict.fromkeys(" ".join(p.split()) for p in phrases if p.strip()))
        self._patterns = [(p, _pattern(p)) for p in self.phrases]

    def __bool__(self) -> bool:
        return bool(self.phrases)

    def find(self, text: str) -> list[Hit]:
        """Every phrase the text holds, once each (its first place), in the order they come."""
        hits = []
        for phrase, pattern in self._patterns:
            match = pattern.search(text or "")
            if match:
                hits.append(
                    Hit(phrase, match.group(0), sentence_around(text, match.start(), match.end()), match.start())
                )
        return sorted(hits, key=lambda h: (h.start, -len(h.words)))
