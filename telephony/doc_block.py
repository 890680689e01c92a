"""A block of a document written by code (the policy settings table in docs/policy.md, the
escalation's state diagram in docs/how-it-works.md): between two marker lines, rewritten by a
command, and checked by a test so the document cannot drift from the code."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class DocBlock:
    target: Path
    start: str
    end: str
    render: Callable[[], str]  # the block's text between the markers
    what: str  # what the block is, for messages: "the state diagram"
    command: str  # what rewrites it: "python -m scripts.diagram"

    def block(self) -> str:
        return f"{self.start}\n{self.render()}\n{self.end}"

    def current(self, text: str) -> str | None:
        """The block as the document has it, markers included; None without the markers."""
        if self.start not in text or self.end not in text:
            return None
        return text[text.index(self.start) : text.index(self.end) + len(self.end)]

    def main(self, argv: list[str]) -> int:
        """Rewrite the block, or with --check only say whether it is stale (exit 1)."""
        text = self.target.read_text(encoding="utf-8")
        found = self.current(text)
        if found is None:
            print(f"{self.target}: no block for {self.what} (add the two marker lines)", file=sys.stderr)
            return 1
        if "--check" in argv:
            if found != self.block():
                print(f"{self.target}: {self.what} is stale; run {self.command}", file=sys.stderr)
                return 1
            return 0
        if found != self.block():
            self.target.write_text(text.replace(found, self.block()), encoding="utf-8")
            print(f"{self.target}: {self.what} written")
        return 0
