"""The policy reference in docs/policy.md is generated from the policy's models (issue 9): it lists every
setting there is, and its annotated example is a policy the service accepts."""

from __future__ import annotations

import re
import tomllib

from telephony.policy import reference as policy_reference
from telephony.policy.loading import parse_policy
from telephony.policy.models import PolicyFile, Section
from tests.support import ROOT

POLICY_DOC = (ROOT / "docs" / "policy.md").read_text(encoding="utf-8")


def test_the_policy_doc_table_is_the_one_the_models_generate():
    assert policy_reference.current(POLICY_DOC) == policy_reference.block(), (
        "run: .venv/bin/python -m telephony.policy.reference"
    )


def test_the_table_has_every_setting_of_every_table():
    keys = {key for key, *_ in policy_reference.rows()}

    def walk(model, prefix):
        for name, info in model.model_fields.items():
            sub = policy_reference._model(info.annotation)
            placeholder = f"{prefix}<{model.__name__.lower().rstrip('s')}>"
            if placeholder in keys:
                walk(sub, placeholder + ".")
                return
            key = f"{prefix}{name}"
            if sub is not None and issubclass(sub, Section):
                many = policy_reference._is_list(info.annotation)
                assert (f"[[{key}]]" if many else f"[{key}]") in keys, key
                walk(sub, key + ("[]." if many else "."))
            else:
                assert key in keys, key

    walk(PolicyFile, "")
    assert "hold.check_in_seconds" in keys and "kinds.<kind>.tiers" in keys and "warnings.actions" in keys


def test_the_annotated_example_is_a_policy_the_service_accepts():
    section = POLICY_DOC[POLICY_DOC.index("## An annotated example") :]
    example = re.search(r"```toml\n(.*?)```", section, re.S).group(1)
    policy = parse_policy(tomllib.loads(example), "docs/policy.md")
    assert policy.name == "Northwind Clinic Billing"
    assert policy.kinds["manager_request"].tiers == ("lead", "supervisor")
    assert policy.case_routing is not None and policy.case_routing.route(["insurance_denial"])[1] == "manager-1"
    assert policy.managers_only("abusive") and not policy.managers_only("no_authority")
