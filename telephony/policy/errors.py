"""The one error a policy file raises: the file, the key and the reason, with the closest known key
where one was misspelt. Its own module so that business hours and the models both raise it without
importing each other."""

from __future__ import annotations


class PolicyError(Exception):
    """`line`: where in the file's text the key is set, when the text was at hand (lines.py)."""

    def __init__(self, file: str, key: str, reason: str, line: int | None = None):
        super().__init__(f"{file}: {key}: {reason}")
        self.file, self.key, self.reason, self.line = file, key, reason, line
