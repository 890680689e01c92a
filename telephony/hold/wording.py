"""What the caller on hold hears, as pure functions of the policy's wording: the IVR builds TwiML
with these without reaching the store."""

from __future__ import annotations


def with_role(text: str, role: str) -> str:
    """Policy wording may name the role being reached as {role} ("a {role} will be with you")."""
    return text.replace("{role}", role)
