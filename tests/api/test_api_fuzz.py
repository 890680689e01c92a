"""The agent API against its own OpenAPI document (schemathesis), and every JSON body and webhook
form against odd input (hypothesis): never a 5xx, never a traceback in a response, every answer
as the document says. Bounded: a fixed number of examples per operation, more than 10,000
generated inputs in all (issue 11), each test printing how many it ran."""

from __future__ import annotations

import json
import logging
import xml.etree.ElementTree as ET
from urllib.parse import quote, urlencode

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.specs.openapi.checks import positive_data_acceptance

from tests.support import TOKENS, Harness

EXAMPLES_PER_OPERATION = 60
WEBHOOK_EXAMPLES = 230
BODY_EXAMPLES = 150
RAN: dict[str, int] = {}
BOUNDED = settings(
    max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None, suppress_health_check=list(HealthCheck)
)


def quiet_harness(redis_conn, twilio_rest) -> Harness:
    """Wrong tokens are part of the input: the failed-token limit is raised so they keep reaching
    the endpoints (it is tested in test_attack_surface). INFO logs off: thousands of requests."""
    logging.getLogger().setLevel(logging.WARNING)
    return Harness(redis_conn, twilio_rest, auth_failure_limit=1_000_000)


def ran(kind: str, count: int) -> None:
    RAN[kind] = count
    print(f"\nfuzzed {count} {kind}; {sum(RAN.values())} generated inputs so far in this module ({RAN})")


def test_every_endpoint_answers_as_its_document_says(redis_conn, twilio_rest):
    harness = quiet_harness(redis_conn, twilio_rest)
    caller_sid, _ = harness.caller_with_agent()
    harness.escalate(caller_sid)
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", harness.app)
    tried: dict[str, int] = {}
    for result in schema.get_all_operations():
        fuzz_operation(result.ok(), tried)
    assert len(tried) == len(list(schema.get_all_operations())) >= 9
    assert sum(tried.values()) >= len(tried) * EXAMPLES_PER_OPERATION * 0.9, tried
    ran("API requests from the OpenAPI document (schemathesis)", sum(tried.values()))


# Rules between two fields, which OpenAPI cannot state: the export's `to` is not before `from`,
# and the two span at most 366 days (R-NOTE-3; the reports' days too). Their 400 must name one of the two.
CROSS_FIELD_RULES = {"GET /api/records": ("from", "to"), "GET /api/reports": ("from", "to")}


def fuzz_operation(operation, tried: dict[str, int]) -> None:
    label = operation.label
    cross_fields = CROSS_FIELD_RULES.get(label)

    @given(case=operation.as_strategy())
    @BOUNDED
    def check(case):
        tried[label] = tried.get(label, 0) + 1
        for who in ("lead-lee", "agent-avery"):
            response = case.call_and_validate(
                headers={"Authorization": f"Bearer {TOKENS[who].token}"},
                excluded_checks=[positive_data_acceptance] if cross_fields else None,
            )
            assert response.status_code < 500, (label, response.status_code, response.text[:300])
            assert "Traceback" not in response.text
            if cross_fields and response.status_code == 400:
                assert response.json()["field"] in cross_fields, response.text[:300]

    check()


TWILIO_FIELDS = (
    "CallSid",
    "From",
    "To",
    "Digits",
    "SpeechResult",
    "CallStatus",
    "ConferenceSid",
    "FriendlyName",
    "StatusCallbackEvent",
    "ParticipantLabel",
    "SequenceNumber",
    "AnsweredBy",
    "RecordingUrl",
    "ErrorCode",
)
QUERY_FIELDS = ("escalation", "callback", "attempt", "tries", "replay", "busy", "check_in", "round", "caller")
# What Twilio could send: any unicode it can encode (no lone surrogates), empty, huge, control
# characters. Huge text is a short generated piece repeated (generating 5,000 characters one by one
# made each example ten times slower, for no more variety).
HUGE_TEXT = st.tuples(
    st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=8), st.integers(3000, 5000)
)
ODD_TEXT = st.one_of(
    st.text(st.characters(exclude_categories=("Cs",)), max_size=60),
    st.sampled_from(
        ["", "CA" + "0" * 32, "esc_x:timeline", "../../etc", "-1", "99999999999999999999", "\x00\x1b", "<Say>x</Say>"]
    ),
    HUGE_TEXT.map(lambda piece: (piece[0] * piece[1])[: piece[1]]),
)


def no_tracebacks_logged(caplog) -> None:
    crashed = [r for r in caplog.records if r.exc_info]
    assert not crashed, f"{len(crashed)} requests logged a traceback, first: {crashed[0].getMessage()}"


def test_every_webhook_survives_odd_forms_and_query_strings(redis_conn, twilio_rest, caplog):
    from routes.voice import CALLER_FACING

    harness = quiet_harness(redis_conn, twilio_rest)
    caller_sid, _ = harness.caller_with_agent()
    esc_id = harness.escalate(caller_sid).json["id"]
    harness.work_after_requests = False  # the answer is under test, not the jobs it queues
    rules = [r for r in harness.app.url_map.iter_rules() if r.rule.startswith("/voice/")]
    assert len(rules) >= 30
    tried = 0
    for rule in rules:
        tried += fuzz_webhook(harness, rule, rule.endpoint in CALLER_FACING, caller_sid, esc_id)
    assert tried >= len(rules) * WEBHOOK_EXAMPLES * 0.9
    no_tracebacks_logged(caplog)
    ran("webhook forms and query strings", tried)


def fuzz_webhook(harness, rule, caller_facing: bool, caller_sid: str, esc_id: str) -> int:
    count = 0
    forms = st.dictionaries(st.sampled_from(TWILIO_FIELDS), ODD_TEXT, max_size=6)
    queries = st.dictionaries(st.sampled_from(QUERY_FIELDS), st.one_of(ODD_TEXT, st.just(esc_id)), max_size=3)

    @given(form=forms, query=queries, real_call=st.booleans())
    @settings(max_examples=WEBHOOK_EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    def check(form, query, real_call):
        nonlocal count
        count += 1
        if real_call:
            form = {**form, "CallSid": caller_sid}
        url = rule.rule + ("?" + urlencode(query) if query else "")
        response = harness.webhook(url, form)
        assert response.status_code < 500, (url, form, response.status_code)
        body = response.get_data(as_text=True)
        assert "Traceback" not in body
        if caller_facing:
            assert response.status_code == 200 and response.mimetype == "text/xml", (url, response.status_code)
            try:
                ET.fromstring(body)
            except ET.ParseError as exc:
                raise AssertionError(f"malformed TwiML from {url} {form!r}: {body[:600]!r}") from exc

    check()
    return count


# Any JSON at all, leaning towards the objects the API reads: its own field names, odd values.
BODY_KEYS = st.sampled_from(
    [
        "call_sid",
        "kind",
        "reason",
        "client",
        "name",
        "account",
        "link",
        "segment",
        "region",
        "resolution_offered",
        "caller_agreed_to_hold",
        "idempotency_key",
        "presence",
        "window_start",
        "window_end",
        "warning",
        "consequence",
        "action",
        "status",
        "owner",
        "department",
        "tags",
        "mode",
    ]
) | st.text(max_size=12)
SMALL_TEXT = st.one_of(
    st.text(st.characters(exclude_categories=("Cs",)), max_size=40),
    st.sampled_from(["", "manager_request", "abusive", "available", "2026-11-24T16:00:00+00:00", "CA" + "0" * 32]),
    HUGE_TEXT.map(lambda piece: (piece[0] * piece[1])[: piece[1]]),
)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | SMALL_TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(BODY_KEYS, inner, max_size=6),
    max_leaves=12,
)
BODIES = st.one_of(
    st.dictionaries(BODY_KEYS, JSON_VALUES, max_size=8).map(json.dumps),
    JSON_VALUES.map(json.dumps),
    st.binary(max_size=80).map(lambda raw: raw.decode("latin-1")),
)


def test_every_json_body_survives_odd_json(redis_conn, twilio_rest, caplog):
    """Every endpoint that reads a JSON body, with real and made-up ids in its path: a 4xx with
    error and message for what it cannot use, never a 5xx."""
    from tests.hold.test_hold_and_callbacks import book_callback

    harness = quiet_harness(redis_conn, twilio_rest)
    caller_sid, _ = harness.caller_with_agent()
    esc_id = harness.escalate(caller_sid).json["id"]
    book_callback(harness, caller_sid, esc_id)
    cb_id = harness.escalation(esc_id)["callback"]["id"]
    other_sid, _ = harness.caller_with_agent()
    harness.work_after_requests = False
    task = harness.api(
        "POST",
        "/api/tasks",
        who="agent-avery",
        json={"call_sid": caller_sid, "kind": "email", "title": "Send the bill"},
    )
    assert task.status_code == 201, task.json
    ids = {
        "esc_id": esc_id,
        "cb_id": cb_id,
        "call_sid": other_sid,
        "person_id": "agent-avery",
        "task_id": task.json["id"],
    }
    rules = [
        r
        for r in harness.app.url_map.iter_rules()
        if r.rule.startswith("/api/") and r.methods & {"POST", "PUT"} and r.endpoint.startswith("api.")
    ]
    assert len(rules) >= 9
    tried = 0
    for rule in rules:
        tried += fuzz_body(harness, rule, ids)
    assert tried >= len(rules) * BODY_EXAMPLES * 0.9
    no_tracebacks_logged(caplog)
    ran("JSON API bodies", tried)
    assert sum(RAN.values()) >= 10_000 or len(RAN) < 3, RAN


def fuzz_body(harness, rule, ids: dict[str, str]) -> int:
    count = 0
    method = "PUT" if "PUT" in rule.methods else "POST"
    odd_ids = st.one_of(st.just(None), ODD_TEXT.filter(lambda t: 0 < len(t) < 200))

    @given(body=BODIES, odd=odd_ids, who=st.sampled_from(["agent-avery", "lead-lee", "manager-max"]))
    @settings(max_examples=BODY_EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    def check(body, odd, who):
        nonlocal count
        count += 1
        path = rule.rule
        for name in rule.arguments:
            path = path.replace(f"<{name}>", quote(odd if odd is not None else ids[name], safe=""))
        response = harness.api(method, path, who, raw=body.encode("utf-8", "surrogatepass"))
        text = response.get_data(as_text=True)
        assert response.status_code < 500, (method, path, body[:200], response.status_code, text[:300])
        assert "Traceback" not in text
        if response.status_code >= 400:
            assert response.json["error"] and response.json["message"], text[:300]

    check()
    return count
