"""The one error a policy file raises: the file, the key and the reason, with the closest known key
where one was misspelt. Its own module so that business hours and the models both raise it without
importing each other."""

from __future__ import annotations


class PolicyError(Exception):
    def __init__(self, file: str, key: str, reason: str):
        super().__init__(f"{file}: {key}: {reason}")
        self.file, self.key, self.reason = file, key, reason
