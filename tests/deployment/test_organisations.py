"""Several organisations on one deployment (issue 17): the number dialled picks the organisation,
each hears its own words and reaches its own people, and nothing of one reaches another — even
when both name their people alike. Real Redis, signed webhooks, the real app."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

from routes import create_app
from telephony.clock import VirtualClock
from telephony.config import ApiToken
from telephony.organisations import build_organisations
from telephony.policy.errors import PolicyError
from telephony.policy.folder import load_policies
from tests.hold.test_hold_and_callbacks import book_callback
from tests.support import ROOT, Harness, Twiml, new_call_sid, settings_for

EXAMPLE, NORTHWIND = "example-support", "northwind"
NUMBERS = {EXAMPLE: "+13125550100", NORTHWIND: "+13125550170"}
PEOPLE = ("agent-avery", "agent-blake", "lead-lee", "manager-max")
ROLES = {"agent-avery": "agent", "agent-blake": "agent", "lead-lee": "lead", "manager-max": "manager"}


def northwind_policy() -> str:
    """The example policy as another organisation: its own id, number, words and lead's phone,
    and the same person ids (agent-avery in both), so a mix-up could not hide behind names."""
    text = (ROOT / "policies" / "default.toml").read_text()
    return (
        text.replace('id = "example-support"', f'id = "{NORTHWIND}"')
        .replace('numbers = ["+13125550100"]', f'numbers = ["{NUMBERS[NORTHWIND]}"]')
        .replace("Example Support", "Northwind Help")
        .replace('endpoint = "+13125550111"', 'endpoint = "+13125550112"')
    )


def tokens(orgs: tuple[str, ...] = (EXAMPLE, NORTHWIND)) -> dict[str, ApiToken]:
    found = {}
    for org in orgs:
        for person in PEOPLE:
            found[f"{org}:{person}"] = ApiToken(f"tok-{org}-{person}-0000", person, ROLES[person], org)
    return found


class Deployment(Harness):
    """The harness on a POLICIES_DIR deployment. Twilio fetches the URLs the service handed it,
    which name the organisation: `webhook` adds the current organisation's `org`/`v` to a path
    the test writes without them (never to /voice/incoming, picked by `To`)."""

    def __init__(self, redis_conn, twilio_rest, folder: Path, queue_conn=None, orgs=(EXAMPLE, NORTHWIND)):
        self.tokens = tokens(orgs)
        self.settings = replace(settings_for(None, self.tokens, policies_dir=folder), policy_file=None)
        self.clock = VirtualClock()
        self.served = build_organisations(self.settings, redis_conn, queue_conn=queue_conn, clock=self.clock)
        self.app = create_app(self.settings, organisations=self.served)
        self.client = self.app.test_client()
        self.twilio = self.app.test_client(use_cookies=False)
        self.rest = twilio_rest
        from twilio.request_validator import RequestValidator

        from tests.support import AUTH_TOKEN

        self.validator = RequestValidator(AUTH_TOKEN)
        self.work_after_requests = True
        self.org = EXAMPLE
        self.core = self.served.core(EXAMPLE)

    def be(self, org: str) -> Deployment:
        self.org, self.core = org, self.served.core(org)
        return self

    def webhook(self, url_or_path, params=None, signed=True, method="POST"):
        if "/voice/" in url_or_path and "org=" not in url_or_path and "/voice/incoming" not in url_or_path:
            tenant = self.core.ctx.urls.tenant
            url_or_path += ("&" if "?" in url_or_path else "?") + "&".join(f"{k}={v}" for k, v in tenant.items())
        return super().webhook(url_or_path, params, signed, method)

    def api(self, method, path, who="agent-avery", json=None, raw=None):
        return super().api(method, path, f"{self.org}:{who}" if who else who, json, raw)

    def caller_calls(self, call_sid=None, caller="+13125550142"):
        call_sid = call_sid or new_call_sid()
        heard = self.twiml(
            "/voice/incoming", {"CallSid": call_sid, "From": caller, "To": NUMBERS[self.org], "CallStatus": "ringing"}
        )
        assert self.org.replace("-", " ").split()[0].lower() in heard.text().lower() or "Northwind" in heard.text()
        return call_sid


def two_policies(tmp_path: Path) -> Path:
    folder = tmp_path / "policies"
    folder.mkdir()
    (folder / "example.toml").write_text((ROOT / "policies" / "default.toml").read_text())
    (folder / "northwind.toml").write_text(northwind_policy())
    return folder


@pytest.fixture
def deployment(redis_conn, twilio_rest, tmp_path):
    return Deployment(redis_conn, twilio_rest, two_policies(tmp_path))


def test_the_number_dialled_picks_the_organisation_and_its_words(deployment):
    for org, name in ((EXAMPLE, "Example Support"), (NORTHWIND, "Northwind Help")):
        heard = deployment.twiml(
            "/voice/incoming",
            {"CallSid": new_call_sid(), "From": "+13125550142", "To": NUMBERS[org], "CallStatus": "ringing"},
        )
        assert f"Thank you for calling {name}." in heard.text()
        action = heard.find("Gather").get("action")
        query = parse_qs(urlparse(action).query)
        assert query["org"] == [org], "every URL the service hands Twilio names the organisation"
        assert query["v"] == [deployment.served.core(org).policy.version]


def test_a_number_no_policy_claims_hears_an_apology_never_a_500(deployment, redis_conn):
    before = set(redis_conn.keys("esc:*"))
    response = deployment.webhook(
        "/voice/incoming", {"CallSid": new_call_sid(), "From": "+13125550142", "To": "+13125550199"}
    )
    assert response.status_code == 200 and response.mimetype == "text/xml"
    heard = Twiml(response.get_data(as_text=True))
    assert heard.text() == "We're sorry, this number is not set up to take calls. Please check the number you dialled. Goodbye."
    assert heard.verbs() == ["Say", "Hangup"], "no line to put them through to: nothing promised"
    assert set(redis_conn.keys("esc:*")) == before, "nothing is written for a caller nobody serves"
    status = deployment.webhook("/voice/status?org=nobody", {"CallSid": new_call_sid(), "CallStatus": "completed"})
    assert status.status_code == 204


def test_each_organisation_warm_transfers_to_its_own_lead_on_its_own_keys__R_WARM_1(deployment, redis_conn):
    """The same person ids, two organisations: each call reaches its own organisation's Lee."""
    legs = {}
    for org in (EXAMPLE, NORTHWIND):
        h = deployment.be(org)
        caller_sid, _ = h.caller_with_agent()
        esc_id = h.escalate(caller_sid).json["id"]
        h.lead_accepts_and_joins(esc_id)
        assert h.api("POST", f"/api/escalations/{esc_id}/connect", json={}).status_code == 200
        assert h.escalation(esc_id)["state"] == "connected"
        legs[org] = (caller_sid, esc_id)
        keys = [k.decode() for k in redis_conn.keys(f"*{esc_id}*")]
        assert keys and all(k.startswith(f"esc:{{{org}}}:") for k in keys), keys
    dialled = [r.param("To") for r in deployment.rest.requests("CreateCall")]
    assert "+13125550111" in dialled and "+13125550112" in dialled, "each organisation rang its own lead"


def test_nothing_crosses_between_organisations_ids_lists_streams_exports(deployment):
    h = deployment.be(EXAMPLE)
    caller_sid, _ = h.caller_with_agent()
    esc_id = h.escalate(caller_sid).json["id"]
    theirs = deployment.be(NORTHWIND)
    for who in ("agent-avery", "lead-lee", "manager-max"):
        assert theirs.api("GET", f"/api/escalations/{esc_id}", who=who).status_code == 404, who
        assert theirs.api("GET", f"/api/calls/{caller_sid}/notes", who=who).status_code in (403, 404), who
    assert esc_id not in str(theirs.api("GET", "/api/escalations", who="lead-lee").json)
    assert caller_sid not in str(theirs.api("GET", "/api/calls", who="manager-max").json)
    export = theirs.api("GET", "/api/records?from=2026-11-24&to=2026-11-24&format=json", who="manager-max")
    assert export.status_code == 200 and esc_id not in export.get_data(as_text=True)
    state = theirs.api("GET", "/api/console", who="manager-max")
    if state.status_code == 200:
        assert esc_id not in state.get_data(as_text=True) and caller_sid not in state.get_data(as_text=True)
    ours = deployment.be(EXAMPLE)
    assert ours.api("GET", f"/api/escalations/{esc_id}", who="lead-lee").status_code == 200
    assert esc_id in str(ours.api("GET", "/api/escalations", who="lead-lee").json)


def test_a_callback_is_booked_and_dialled_once_in_each_organisation__R_CB_8(deployment):
    booked = {}
    for org in (EXAMPLE, NORTHWIND):
        h = deployment.be(org)
        caller_sid, _ = h.caller_with_agent()
        esc_id = h.escalate(caller_sid).json["id"]
        h.advance(h.core.policy.hold.limit_seconds + 5)
        book_callback(h, caller_sid, esc_id)
        booked[org] = h.escalation(esc_id)["callback"]["id"]
    for org, cb_id in booked.items():
        h = deployment.be(org)
        h.advance(2 * 3600)
        dials = [r for r in h.rest.requests("CreateCall") if f"callback={cb_id}" in (r.param("Url") or "")]
        assert len(dials) == 1, (org, len(dials))
        assert f"org={org}" in dials[0].param("Url")


def test_two_policies_claiming_one_number_stop_start_up_naming_both(tmp_path):
    (tmp_path / "a.toml").write_text((ROOT / "policies" / "default.toml").read_text())
    (tmp_path / "b.toml").write_text(northwind_policy().replace(NUMBERS[NORTHWIND], NUMBERS[EXAMPLE]))
    with pytest.raises(PolicyError) as error:
        load_policies(tmp_path)
    assert "b.toml" in str(error.value) and "a.toml" in str(error.value) and NUMBERS[EXAMPLE] in str(error.value)


def test_the_six_shipped_policies_serve_together_each_on_its_own_numbers():
    policies = load_policies(ROOT / "policies")
    assert len(policies) == 6
    numbers = [n for p in policies for n in p.numbers]
    assert len(numbers) == len(set(numbers)) >= 6
    assert len({p.organisation_id for p in policies}) == 6


def test_a_changed_policy_is_picked_up_without_a_restart_and_a_bad_one_refused(deployment, tmp_path):
    folder = tmp_path / "policies"
    h = deployment.be(NORTHWIND)
    caller_sid = h.caller_calls()
    old_version = h.core.policy.version
    (folder / "northwind.toml").write_text(northwind_policy().replace("Thank you for calling Northwind Help.", "Welcome to Northwind Help."))
    assert h.api("POST", "/api/policies/reload", who="agent-avery").status_code == 403
    reloaded = h.api("POST", "/api/policies/reload", who="manager-max")
    assert reloaded.status_code == 200 and reloaded.json["changed"] is True, reloaded.json
    heard = h.twiml("/voice/incoming", {"CallSid": new_call_sid(), "From": "+13125550142", "To": NUMBERS[NORTHWIND]})
    assert "Welcome to Northwind Help." in heard.text()
    kept = deployment.served.core(NORTHWIND, old_version)
    assert kept is not None and kept.policy.version == old_version, "the call in progress keeps its policy"
    assert caller_sid

    (folder / "northwind.toml").write_text(northwind_policy().replace("[hold]", "[hold]\nnot_a_key = 1"))
    refused = h.api("POST", "/api/policies/reload", who="manager-max")
    assert refused.status_code == 400 and "not_a_key" in refused.json["message"]
    heard = h.twiml("/voice/incoming", {"CallSid": new_call_sid(), "From": "+13125550142", "To": NUMBERS[NORTHWIND]})
    assert "Welcome to Northwind Help." in heard.text(), "the old policy keeps serving"


def test_a_refused_reload_names_the_line_of_the_entry_at_fault(deployment, tmp_path):
    """Issue 35 item 1: the reload's 400 names the line of the [[people]] entry at fault."""
    folder = tmp_path / "policies"
    text = northwind_policy()
    roles = [n for n, ln in enumerate(text.splitlines(), 1) if ln.startswith("role = ")]
    lines = text.splitlines()
    lines[roles[-1] - 1] = "role = 7"
    (folder / "northwind.toml").write_text("\n".join(lines) + "\n")
    refused = deployment.be(NORTHWIND).api("POST", "/api/policies/reload", who="manager-max")
    assert refused.status_code == 400 and refused.json["error"] == "bad_policy", refused.json
    assert (refused.json["key"], refused.json["line"]) == ("people[5].role", roles[-1]), refused.json
    assert refused.json["file"].endswith("northwind.toml")
    assert f"line {roles[-1]}, people[5].role" in refused.json["message"]


def test_a_managers_reload_is_of_their_own_organisation_and_names_no_other_file(redis_conn, twilio_rest, tmp_path):
    """Issue 35 item 6: another organisation's broken file does not stop this manager's reload
    nor leak into its answer, and another's edit waits for its own manager, here and in every
    process that follows the reload."""
    import telephony.organisations as organisations

    folder = two_policies(tmp_path)
    web = Deployment(redis_conn, twilio_rest, folder)
    other_web = Deployment(redis_conn, twilio_rest, folder)
    example_text = (folder / "example.toml").read_text()

    def greeting(h: Deployment, org: str) -> str:
        call = {"CallSid": new_call_sid(), "From": "+13125550142", "To": NUMBERS[org]}
        return h.twiml("/voice/incoming", call).text()

    (folder / "example.toml").write_text(example_text.replace("[hold]", "[hold\nbroken = "))
    (folder / "northwind.toml").write_text(northwind_policy().replace("Thank you for calling", "Welcome to"))
    reloaded = web.be(NORTHWIND).api("POST", "/api/policies/reload", who="manager-max")
    assert reloaded.status_code == 200 and reloaded.json["changed"] is True, reloaded.json
    assert "example" not in reloaded.get_data(as_text=True)
    assert "Welcome to Northwind Help." in greeting(web, NORTHWIND)

    (folder / "example.toml").write_text(example_text.replace("Thank you for calling", "Hello from"))
    (folder / "northwind.toml").write_text(northwind_policy().replace("Thank you for calling", "Good day from"))
    assert web.be(NORTHWIND).api("POST", "/api/policies/reload", who="manager-max").json["changed"] is True
    assert "Thank you for calling Example Support." in greeting(web, EXAMPLE), "their edit waits for their manager"
    other_web.served._checked_at = -organisations.FOLLOW_SECONDS  # as if the follow interval had passed
    assert "Good day from Northwind Help." in greeting(other_web.be(NORTHWIND), NORTHWIND)
    assert "Thank you for calling Example Support." in greeting(other_web.be(EXAMPLE), EXAMPLE), "nor there"

    (folder / "northwind.toml").write_text(
        northwind_policy().replace(f'numbers = ["{NUMBERS[NORTHWIND]}"]', f'numbers = ["{NUMBERS[EXAMPLE]}"]')
    )
    clash = web.be(NORTHWIND).api("POST", "/api/policies/reload", who="manager-max")
    assert clash.status_code == 400 and clash.json["key"] == "organisation.numbers", clash.json
    assert "another organisation's number" in clash.json["message"] and "example" not in clash.get_data(as_text=True)
    (folder / "northwind.toml").write_text(northwind_policy().replace('id = "northwind"', f'id = "{EXAMPLE}"'))
    taken = web.be(NORTHWIND).api("POST", "/api/policies/reload", who="manager-max")
    assert taken.status_code == 400 and taken.json["key"] == "organisation.id", taken.json
    assert taken.json["file"].endswith("northwind.toml")
    assert "Good day from Northwind Help." in greeting(web, NORTHWIND), "refused: their old one keeps serving"

    mine = web.be(EXAMPLE).api("POST", "/api/policies/reload", who="manager-max")
    assert mine.status_code == 200 and "Hello from Example Support." in greeting(web, EXAMPLE), mine.json


def test_the_organisations_demo_plays_both_callers_at_once_each_in_its_own_words(capsys):
    from sim.demo import main as demo

    assert demo(["--organisations", "--fast", "--port", "0"]) == 0
    out = capsys.readouterr().out
    assert "Thank you for calling Example Support." in out and "Thank you for calling Evergreen Member Care." in out
    assert "channel cr-esc:" in out and "channel cr-esc-pks:" in out, "each organisation's own team channel"


def test_a_deployment_of_all_six_policies_answers_each_number_in_its_own_words(redis_conn, twilio_rest):
    """POLICIES_DIR=policies/ (the default): every shipped organisation on its own numbers."""
    h = Deployment(redis_conn, twilio_rest, ROOT / "policies", orgs=(EXAMPLE,))
    assert len(h.served.all()) == 6
    for core in h.served.all():
        for number in core.policy.numbers:
            heard = h.twiml(
                "/voice/incoming",
                {"CallSid": new_call_sid(), "From": "+13125550142", "To": number, "CallStatus": "ringing"},
            )
            assert core.policy.ivr.greeting in heard.text(), (number, heard.text())
            others = [c.policy.ivr.greeting for c in h.served.all() if c is not core]
            assert not any(g in heard.text() for g in others), number
            assert f"org={core.policy.organisation_id}" in heard.find("Gather").get("action")


def test_a_number_no_policy_claims_is_put_through_to_the_deployments_line_when_it_has_one(
    redis_conn, twilio_rest, tmp_path
):
    h = Deployment(redis_conn, twilio_rest, two_policies(tmp_path))
    h.app.config["SETTINGS"] = replace(h.app.config["SETTINGS"], unserved_fallback="+13125550131")
    heard = h.twiml("/voice/incoming", {"CallSid": new_call_sid(), "From": "+13125550142", "To": "+13125550199"})
    assert heard.verbs() == ["Say", "Dial", "Hangup"]
    assert heard.find("Number").text == "+13125550131"
    assert "If nobody answers, please call again later." in heard.text(), "true whether or not the line answers"


@pytest.mark.parametrize(
    "changes, names",
    [
        ({"REDIS_CLUSTER_URL": "redis://127.0.0.1:7000"}, "QUEUE_REDIS_URL"),
        ({"REDIS_CLUSTER_URL": "redis://127.0.0.1:7000", "QUEUE_REDIS_URL": "x", "REDIS_URL": "redis://h"}, "REDIS_"),
        ({"UNSERVED_FALLBACK": "call the boss"}, "UNSERVED_FALLBACK"),
        ({"POLICY_FILE": "", "POLICIES_DIR": "/no/such/folder"}, "POLICIES_DIR"),
    ],
)
def test_organisation_settings_refuse_what_cannot_work_naming_the_setting(changes, names):
    from telephony.config import ConfigError, Settings
    from tests.notify.test_notifications import _env

    with pytest.raises(ConfigError) as error:
        Settings.from_env(_env(**changes))
    assert names in str(error.value)


def test_with_no_policy_file_every_policy_in_policies_is_an_organisation():
    from telephony.config import Settings
    from tests.notify.test_notifications import _env

    settings = Settings.from_env(_env(POLICY_FILE=""))
    assert settings.policy_file is None and settings.policies_dir == ROOT / "policies"


def test_a_reload_in_one_process_reaches_the_others(redis_conn, twilio_rest, tmp_path):
    """Two web processes (two apps on one Redis and one folder): a manager reloads through one;
    the other reads the policies again on its next request after FOLLOW_SECONDS."""
    import telephony.organisations as organisations

    folder = two_policies(tmp_path)
    first = Deployment(redis_conn, twilio_rest, folder).be(NORTHWIND)
    second = Deployment(redis_conn, twilio_rest, folder).be(NORTHWIND)
    (folder / "northwind.toml").write_text(northwind_policy().replace("Thank you for calling", "Welcome to"))
    assert first.api("POST", "/api/policies/reload", who="manager-max").json["changed"] is True
    second.served._checked_at = -organisations.FOLLOW_SECONDS  # as if the follow interval had passed
    heard = second.twiml("/voice/incoming", {"CallSid": new_call_sid(), "From": "+13125550142", "To": NUMBERS[NORTHWIND]})
    assert "Welcome to Northwind Help." in heard.text()


def test_replaced_policies_are_kept_for_calls_in_progress_but_not_without_end(deployment, tmp_path):
    import telephony.organisations as organisations

    folder = tmp_path / "policies"
    h = deployment.be(NORTHWIND)
    versions = []
    for n in range(organisations.KEEP_VERSIONS + 3):
        (folder / "northwind.toml").write_text(northwind_policy().replace("Thank you for calling", f"Hello {n}, thank you for calling"))
        assert h.api("POST", "/api/policies/reload", who="manager-max").json["changed"] is True
        versions.append(h.served.core(NORTHWIND).policy.version)
    kept = [version for org, version in h.served.earlier if org == NORTHWIND]
    assert len(kept) == organisations.KEEP_VERSIONS
    assert kept == versions[-organisations.KEEP_VERSIONS - 1 : -1], "the most recent replaced ones"
