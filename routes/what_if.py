"""The managers' what-if from the console (issue 18, docs/what-if.md): the current policy's text,
a replay queued, and its result polled. Joins the API's blueprint (its errors, its auth)."""

from __future__ import annotations

from flask import g, jsonify

from routes.api import bp, core, json_body
from routes.openapi import SPEC, responses
from routes.openapi_what_if import CurrentPolicy, WhatIfQueued, WhatIfResult
from routes.security import staff
from telephony.what_if.console import WhatIfRequest, WhatIfs


def what_ifs() -> WhatIfs:
    return WhatIfs(core().ctx)


@bp.get("/policies/current")
@SPEC.validate(resp=responses(200, CurrentPolicy, 403, 409), tags=["operations"], skip_validation=True)
@staff("manager")
def current_policy():
    """The policy serving the manager's organisation, as TOML: the what-if's starting point."""
    return jsonify(what_ifs().current_policy(g.actor))


@bp.post("/what-if")
@SPEC.validate(json=WhatIfRequest, resp=responses(202, WhatIfQueued, 403, 409), tags=["records"], skip_validation=True)
@staff("manager")
def start_what_if():
    """Replay these days' calls under the current and the changed policy (queued: poll the id)."""
    return jsonify(what_ifs().start(g.actor, json_body())), 202


@bp.get("/what-if/<ident>")
@SPEC.validate(resp=responses(200, WhatIfResult, 403, 404), tags=["records"], skip_validation=True)
@staff("manager")
def what_if(ident: str):
    return jsonify(what_ifs().read(g.actor, ident))
