"""Whose request this is (issue 17): Twilio's webhooks name the organisation in the URL the
service gave them (`org`, `v`), or, on the first webhook of an incoming call, by the number the
caller dialled (`To`); the API and the console by the signed-in person's token. Nothing else
picks an organisation, so one organisation's request never reaches another's state."""

from __future__ import annotations

from flask import current_app, g, request

from telephony.core import Core
from telephony.errors import NotFound
from telephony.organisations import Organisations
from telephony.policy.loading import Policy


def organisations(follow: bool = True) -> Organisations:
    """Every organisation served; with `follow`, a reload elsewhere is picked up first (a Redis
    read at most every FOLLOW_SECONDS, which the fallbacks never wait for)."""
    served: Organisations = current_app.extensions["organisations"]
    if follow:
        served.follow()
    return served


def voice_core(follow: bool = True) -> Core | None:
    """The organisation of a Twilio webhook, or None for a number no policy claims."""
    if "core" not in g:
        org = request.args.get("org", "")
        if org:
            g.core = organisations(follow).core(org, request.args.get("v", ""))
        else:
            g.core = organisations(follow).dialled(request.values.get("To", "").strip())
    found: Core | None = g.core
    return found


def core() -> Core:
    """The organisation this request is for: a Twilio webhook's, or the signed-in person's."""
    if "core" in g and g.core is not None:
        found: Core = g.core
        return found
    actor = g.get("actor")
    if actor is not None:
        g.core = organisations().core(actor.organisation)
    else:
        voice_core()
    if g.core is None:
        raise NotFound("This number or organisation is not served here.", code="organisation_not_found")
    found = g.core
    return found


def policy() -> Policy | None:
    """The picked organisation's policy, from memory, never waiting on Redis (the fallback works
    with Redis down or frozen)."""
    found = voice_core(follow=False) if g.get("actor") is None else core()
    return found.policy if found is not None else None
