"""TwiML that depends only on the policy (and a safe id) built once per policy and kept as text:
building it with the SDK cost a caller's webhook a tenth of a millisecond or more each time
(issue 19, bench/profiles). A reloaded policy is a new object, so it gets its own; an id that is
not plain letters, digits, '-' and '_' (which TwiML and URLs carry unchanged) is built afresh."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from telephony.policy.loading import Policy

_PLAIN = re.compile(r"^[A-Za-z0-9_-]{1,80}$")
_SLOT = "ZZidZZ"  # stands in for the id while the template is built (plain, so kept as is)
_KEPT: dict[tuple[int, int, object], tuple[Policy, Any, str]] = {}
_AT_MOST = 256  # one policy, a handful of shapes each; more means policies reloaded: start again


def kept(policy: Policy, urls: Any, shape: object, build: Callable[[str], Any], ident: str = "") -> str:
    """`build(ident)` as text, from a template made once per (policy, urls, shape) with the id's
    place marked, then filled in."""
    if ident and not _PLAIN.match(ident):
        return str(build(ident))
    key = (id(policy), id(urls), shape)
    hit = _KEPT.get(key)
    if hit is None or hit[0] is not policy or hit[1] is not urls:
        if len(_KEPT) >= _AT_MOST:
            _KEPT.clear()
        template = str(build(_SLOT if ident else ""))
        if ident and template.count(_SLOT) == 0:
            return str(build(ident))
        hit = (policy, urls, template)
        _KEPT[key] = hit
    return hit[2].replace(_SLOT, ident) if ident else hit[2]
