"""Issue 19: TwiML that depends only on the policy is built once per policy (ivr/cached.py). What
a caller hears stays true: a reloaded policy's words are heard at once, and an id that is not
plain text is built afresh, escaped as the SDK escapes it."""

from __future__ import annotations

import dataclasses

from ivr import caller as caller_ivr
from ivr.cached import kept
from telephony.policy.loading import load_policy
from telephony.urls import Urls
from tests.support import BASE, ROOT


def test_kept_twiml_follows_a_reloaded_policy_and_fills_in_each_callers_conference():
    policy = load_policy(str(ROOT / "policies" / "default.toml"))
    urls = Urls(BASE)
    greet = lambda p: kept(p, urls, "greet", lambda _: caller_ivr.ask_account(p, urls, attempt=1, retry=False))  # noqa: E731
    assert greet(policy) == str(caller_ivr.ask_account(policy, urls, attempt=1, retry=False))
    reloaded = dataclasses.replace(policy, ivr=policy.ivr.model_copy(update={"greeting": "Welcome to the new desk."}))
    assert "Welcome to the new desk." in greet(reloaded), "a new policy's words, not the kept ones"
    assert "Welcome to the new desk." not in greet(policy)

    def join(conference: str) -> str:
        return kept(policy, urls, "join", lambda c: caller_ivr.join_own_conference(policy, urls, c), conference)

    for conference in ("call-CA1", "call-CA2", "call-<&>"):
        assert join(conference) == str(caller_ivr.join_own_conference(policy, urls, conference))
