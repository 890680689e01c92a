"""What everyone heard, pressed and said, and every request between service and simulator."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field, replace

AUDIBLE = ("say", "play", "voices")


@dataclass(frozen=True)
class Entry:
    at: float
    who: str
    kind: str
    text: str
    until: float | None = None

    def line(self) -> str:
        minutes, seconds = divmod(int(self.at), 60)
        return f"[{minutes:02d}:{seconds:02d}] {self.who:<16} {self.kind:<10} {self.text}"


@dataclass
class Transcript:
    live: bool = False
    show_requests: bool = False
    entries: list[Entry] = field(default_factory=list)

    def add(self, at: float, who: str, kind: str, text: str, until: float | None = None) -> Entry:
        entry = Entry(round(at, 2), who, kind, text, until)
        self.entries.append(entry)
        if self.live and kind != "voices" and (self.show_requests or kind not in ("webhook", "rest")):
            print(entry.line(), file=sys.stdout, flush=True)
        return entry

    def cut(self, entry: Entry, at: float) -> None:
        """Audio that stopped early (the caller was taken off hold mid-sentence) ends at `at`."""
        for i in range(len(self.entries) - 1, -1, -1):
            if self.entries[i] is entry:
                self.entries[i] = replace(entry, until=round(max(at, entry.at), 2))
                return

    def of(self, who: str, kind: str | None = None) -> list[Entry]:
        return [e for e in self.entries if e.who == who and (kind is None or e.kind == kind)]

    def heard(self, who: str) -> list[str]:
        return [e.text for e in self.entries if e.who == who and e.kind in ("say", "play")]

    def first(self, who: str, kind: str, containing: str = "") -> Entry | None:
        return next((e for e in self.of(who, kind) if containing in e.text), None)

    def longest_silence(self, who: str, start: float, end: float) -> float:
        """The longest stretch in [start, end] in which `who` heard nothing: no Say, no Play,
        no one talking with them."""
        spans = sorted((e.at, e.until if e.until is not None else e.at) for e in self.of(who) if e.kind in AUDIBLE)
        longest, cursor = 0.0, start
        for begin, finish in spans:
            if finish < cursor:
                continue
            if begin > end:
                break
            longest = max(longest, min(begin, end) - cursor)
            cursor = max(cursor, finish)
        return max(longest, end - cursor) if cursor < end else longest

    def text(self, requests: bool = False) -> str:
        shown = [e for e in self.entries if e.kind != "voices" and (requests or e.kind not in ("webhook", "rest"))]
        return "\n".join(e.line() for e in sorted(shown, key=lambda e: e.at))
