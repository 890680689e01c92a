"""Notifications around the call: the team channel in Slack's and Teams' shapes (R-NOTE-1), and
the managers' urgent email (R-NOTE-2, seed 002) through a real SMTP server on loopback (aiosmtpd),
with STARTTLS and AUTH, and with the server down then up again."""

from __future__ import annotations

import json
import ssl
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import trustme

from sim.mailbox import Mailbox
from telephony.adapters.local_redis import free_port
from telephony.config import ConfigError, Settings
from tests.hold.test_hold_and_callbacks import book_callback
from tests.support import ROOT, Harness

FROM = "Escalations <escalations@example.com>"
MANAGER = "Max <manager-max@example.com>"


class Channel:
    """A real HTTP server on loopback that records every body posted to it; the first `fail`
    posts get a 500."""

    def __init__(self, fail: int = 0):
        self.bodies: list[dict] = []
        self.fail = fail
        channel = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                channel.bodies.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(500 if len(channel.bodies) <= channel.fail else 200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def channel():
    made: list[Channel] = []

    def make(fail: int = 0) -> Channel:
        made.append(Channel(fail))
        return made[-1]

    yield make
    for c in made:
        c.close()


def _past_rq_retries(harness) -> None:
    """RQ schedules a job's retries on the wall clock: move the virtual clock past them."""
    harness.clock.set(datetime.now(UTC) + timedelta(minutes=10))
    harness.run_jobs()


def test_teams_style_channel_post_is_an_adaptive_card__R_NOTE_1(redis_conn, twilio_rest, channel):
    hook = channel()
    twilio_rest.mock.add_passthru(hook.url)
    harness = Harness(redis_conn, twilio_rest, chat_webhook_url=f"{hook.url}/teams", chat_webhook_format="teams")
    caller_sid, _ = harness.caller_with_agent()
    harness.escalate(caller_sid)
    harness.run_jobs()

    assert len(hook.bodies) == 1
    body = hook.bodies[0]
    assert body["type"] == "message" and len(body["attachments"]) == 1
    attachment = body["attachments"][0]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive" and attachment["contentUrl"] is None
    card = attachment["content"]
    assert card["type"] == "AdaptiveCard" and card["version"] == "1.2"
    lines = [block["text"] for block in card["body"]]
    assert lines[0] == "Escalation (manager request) from Avery" and card["body"][0]["weight"] == "Bolder"
    assert "Client: Pat Doe (account 448812)" in lines and "Link: https://crm.example.test/c/448812" in lines
    assert "text" not in body, "a Teams webhook gets a card, not Slack's shape"


def test_slack_style_post_and_a_failing_webhook_is_retried_with_the_note_kept__R_NOTE_1(
    redis_conn, twilio_rest, channel
):
    hook = channel(fail=2)
    twilio_rest.mock.add_passthru(hook.url)
    harness = Harness(redis_conn, twilio_rest, chat_webhook_url=f"{hook.url}/slack")
    assert harness.settings.chat_webhook_format == "slack"
    caller_sid, _ = harness.caller_with_agent()
    harness.escalate(caller_sid)
    harness.run_jobs()
    assert len(hook.bodies) == 1, "the first post failed with a 500"
    kept = [n for n in harness.core.ctx.store.notifications() if "Escalation (manager request)" in n["text"]]
    assert len(kept) == 1, "the note is kept in Redis whether or not the webhook took it"

    _past_rq_retries(harness)
    assert len(hook.bodies) == 3, "retried by RQ until the webhook took it, then no more"
    assert hook.bodies[0] == hook.bodies[2] == {"text": kept[0]["text"]}


def test_chat_webhook_format_is_checked_at_start_up__R_NOTE_1():
    env = _env(CHAT_WEBHOOK_FORMAT="discord")
    with pytest.raises(ConfigError, match="CHAT_WEBHOOK_FORMAT must be one of slack, teams"):
        Settings.from_env(env)
    assert Settings.from_env(_env(CHAT_WEBHOOK_FORMAT="Teams")).chat_webhook_format == "teams"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"SMTP_URL": "http://mail.example.com"}, "SMTP_URL must start with smtp:// or smtps://"),
        ({"SMTP_URL": "smtp://mail.example.com:587?tls=yes"}, "SMTP_URL has an unknown option 'tls'"),
        ({"SMTP_URL": "smtps://mail.example.com?starttls=true"}, "SMTP_URL smtps:// is TLS already"),
        ({"SMTP_URL": "smtp://mail.example.com:587?starttls=true"}, "SMTP_FROM is not set"),
        ({"SMTP_URL": "smtp://mail.example.com", "SMTP_FROM": "escalations"}, "SMTP_FROM must be an email address"),
        ({"SMTP_FROM": "escalations@example.com"}, "SMTP_FROM is set but SMTP_URL is not"),
    ],
)
def test_smtp_settings_are_checked_at_start_up_with_one_line__R_NOTE_2(changes, message):
    with pytest.raises(ConfigError, match=message):
        Settings.from_env(_env(**changes))


def _env(**changes: str) -> dict[str, str]:
    return {
        "TWILIO_ACCOUNT_SID": "AC" + "1" * 32,
        "TWILIO_AUTH_TOKEN": "token",
        "TWILIO_CALLER_ID": "+13125550100",
        "PUBLIC_BASE_URL": "https://esc.example.test",
        "API_TOKENS": "tok-agent-avery-000000:agent-avery:agent",
        "POLICY_FILE": str(ROOT / "policies" / "default.toml"),
        **changes,
    }


def _events(harness, esc_id: str, name: str) -> list[str]:
    return [e["detail"] for e in harness.escalation(esc_id)["timeline"] if e["event"] == name]


def test_a_formal_complaint_emails_the_managers_urgently_with_text_and_html__R_NOTE_2_R_ESC_3(redis_conn, twilio_rest):
    with Mailbox() as inbox:
        harness = Harness(redis_conn, twilio_rest, smtp_url=inbox.url(), smtp_from=FROM)
        caller_sid, _ = harness.caller_with_agent()
        esc = harness.escalate(
            caller_sid,
            kind="formal_complaint",
            reason="will report us to the BBB <b>today</b>",
            client={"name": "Pat Doe", "account": "448812", "link": "https://crm.example.test/c/448812"},
        ).json
        assert _events(harness, esc["id"], "email_sent") == [], "sent by a worker, never inside the request"
        harness.run_jobs()

    assert len(inbox.delivered) == 1
    mail = inbox.delivered[0]
    assert mail.rcpt_tos == ["manager-max@example.com"] and mail.mail_from == "escalations@example.com"
    message = mail.message
    assert message["Subject"] == "Pat Doe - Formal Complaint"
    assert message["To"] == MANAGER and message["From"] == FROM
    assert (message["X-Priority"], message["Importance"], message["Priority"]) == ("1 (Highest)", "High", "urgent")
    text = message.get_body(("plain",)).get_content()
    page = message.get_body(("html",)).get_content()
    for line in (
        "Escalation: formal complaint",
        "Client: Pat Doe",
        "Account: 448812",
        "Client page: https://crm.example.test/c/448812",
        "Reason: will report us to the BBB <b>today</b>",
        "Resolution offered: credit on next bill",
        "Agent: Avery",
    ):
        assert line in text, line
    assert "will report us to the BBB &lt;b&gt;today&lt;/b&gt;" in page and "<b>today" not in page
    assert "<a href='https://crm.example.test/c/448812'>" in page
    assert _events(harness, esc["id"], "email_sent") == ["Pat Doe - Formal Complaint to Max <manager-max@example.com>"]
    emails = harness.api("GET", f"/api/escalations/{esc['id']}/emails", who="manager-max").json["emails"]
    assert [(e["subject"], e["status"], e["tries"]) for e in emails] == [("Pat Doe - Formal Complaint", "sent", 1)]


def test_an_abusive_callers_callback_emails_the_managers_with_the_number_and_window__R_NOTE_2_R_ESC_4(
    redis_conn, twilio_rest
):
    with Mailbox() as inbox:
        harness = Harness(redis_conn, twilio_rest, smtp_url=inbox.url(), smtp_from=FROM)
        caller_sid, _ = harness.caller_with_agent()
        esc_id = harness.escalate(caller_sid, kind="abusive", reason="racial slurs after two warnings").json["id"]
        harness.run_jobs()
        assert inbox.delivered == [], "an abusive escalation is emailed when its callback is booked (seed 002)"
        book_callback(harness, caller_sid, esc_id)
        harness.run_jobs()

    assert [d.message["Subject"] for d in inbox.delivered] == ["Pat Doe - Excessively Escalated Client Call Back"]
    text = inbox.delivered[0].message.get_body(("plain",)).get_content()
    assert "Callback number: +13125550142" in text
    assert (
        "Callback window: today between 10 AM and 12 PM (2026-11-24T16:00:00+00:00 to 2026-11-24T18:00:00+00:00)"
        in text
    )
    assert "Escalation: abusive caller" in text


def test_managers_email_over_starttls_with_auth__R_NOTE_2(redis_conn, twilio_rest, tmp_path, monkeypatch):
    server_tls = _trusted_server_tls(tmp_path, monkeypatch)
    with Mailbox(tls_context=server_tls, starttls=True, login=("esc-service", "s3cret p@ss")) as inbox:
        url = f"smtp://esc-service:s3cret%20p%40ss@127.0.0.1:{inbox.port}?starttls=true"
        assert Settings.from_env(_env(SMTP_URL=url, SMTP_FROM=FROM)).smtp_url == url
        harness = Harness(redis_conn, twilio_rest, smtp_url=url, smtp_from=FROM)
        caller_sid, _ = harness.caller_with_agent()
        esc_id = harness.escalate(caller_sid, kind="formal_complaint").json["id"]
        harness.run_jobs()

    assert len(inbox.delivered) == 1
    assert inbox.delivered[0].tls and inbox.delivered[0].login == "esc-service", "upgraded to TLS, then AUTH"
    assert _events(harness, esc_id, "email_sent") and not _events(harness, esc_id, "email_not_sent")


def test_managers_email_over_smtps_with_auth__R_NOTE_2(redis_conn, twilio_rest, tmp_path, monkeypatch):
    server_tls = _trusted_server_tls(tmp_path, monkeypatch)
    with Mailbox(tls_context=server_tls, login=("esc-service", "pw")) as inbox:
        harness = Harness(redis_conn, twilio_rest, smtp_url=inbox.url("smtps"), smtp_from=FROM)
        caller_sid, _ = harness.caller_with_agent()
        harness.escalate(caller_sid, kind="formal_complaint")
        harness.run_jobs()
    assert [(d.tls, d.login, d.message["Subject"]) for d in inbox.delivered] == [
        (True, "esc-service", "Pat Doe - Formal Complaint")
    ]


def _trusted_server_tls(tmp_path, monkeypatch) -> ssl.SSLContext:
    """A server certificate for 127.0.0.1 from a CA made here, trusted through SSL_CERT_FILE."""
    ca = trustme.CA()
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_tls)
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "ca.pem"))
    return server_tls


def test_a_wrong_password_is_on_the_timeline_and_tried_again__R_NOTE_2(redis_conn, twilio_rest, tmp_path, monkeypatch):
    server_tls = _trusted_server_tls(tmp_path, monkeypatch)
    with Mailbox(tls_context=server_tls, starttls=True, login=("esc-service", "right")) as inbox:
        url = f"smtp://esc-service:wrong@127.0.0.1:{inbox.port}?starttls=true"
        harness = Harness(redis_conn, twilio_rest, smtp_url=url, smtp_from=FROM)
        caller_sid, _ = harness.caller_with_agent()
        esc_id = harness.escalate(caller_sid, kind="formal_complaint").json["id"]
        harness.run_jobs()
        assert inbox.delivered == []
    failed = _events(harness, esc_id, "email_not_sent")
    assert len(failed) == 1 and failed[0].startswith("Pat Doe - Formal Complaint: try 1: smtp://127.0.0.1:")
    assert "535" in failed[0], "the server's refusal, in its words"
    assert harness.core.ctx.timers.scheduled(), "the next try is scheduled"


def test_smtp_server_down_then_up_retries_flags_the_timeline_and_delivers_once__R_NOTE_2(redis_conn, twilio_rest):
    port = free_port()
    inbox = Mailbox(port=port)
    harness = Harness(redis_conn, twilio_rest, smtp_url=inbox.url(), smtp_from=FROM)
    caller_sid, _ = harness.caller_with_agent()
    esc_id = harness.escalate(caller_sid, kind="formal_complaint").json["id"]
    harness.run_jobs()
    harness.advance(30)
    failed = _events(harness, esc_id, "email_not_sent")
    assert [f.split(": ")[1] for f in failed] == ["try 1", "try 2"], failed
    assert all("not reachable" in f for f in failed)
    [email] = harness.api("GET", f"/api/escalations/{esc_id}/emails", who="manager-max").json["emails"]
    assert email["status"] == "pending" and email["tries"] == 2 and "not reachable" in email["last_error"]
    assert "Account: 448812" in email["text"], "the whole email is kept in Redis until it is sent"
    harness.advance(60)
    told = [n["text"] for n in harness.core.ctx.store.notifications() if n["to"] == "managers"]
    assert len(told) == 1 and told[0].startswith("Urgent email 'Pat Doe - Formal Complaint' not sent after 3 tries")

    with inbox:
        harness.advance(120)
        harness.advance(600)
    assert [d.message["Subject"] for d in inbox.delivered] == ["Pat Doe - Formal Complaint"], "delivered once"
    assert len(_events(harness, esc_id, "email_sent")) == 1
    assert len(_events(harness, esc_id, "email_not_sent")) == 3, "no failure after it went"
    [email] = harness.api("GET", f"/api/escalations/{esc_id}/emails", who="manager-max").json["emails"]
    assert email["status"] == "sent" and email["sent_at"]


def test_a_try_whose_worker_died_is_taken_over_and_the_email_still_goes_once__R_NOTE_2(redis_conn, twilio_rest):
    with Mailbox() as inbox:
        harness = Harness(redis_conn, twilio_rest, smtp_url=inbox.url(), smtp_from=FROM)
        caller_sid, _ = harness.caller_with_agent()
        esc_id = harness.escalate(caller_sid, kind="formal_complaint").json["id"]
        [email_id] = harness.core.ctx.store.escalation_emails(esc_id)
        assert harness.core.ctx.store.claim_email_try(email_id, 0, harness.core.ctx.now_iso()), "a worker took try 1"
        harness.run_jobs()
        assert inbox.delivered == [], "the try is held by the worker that took it"
        harness.advance(9 * 60)
        assert inbox.delivered == []
        harness.advance(60)
        harness.advance(3600)
    assert [d.message["Subject"] for d in inbox.delivered] == ["Pat Doe - Formal Complaint"], "taken over, sent once"
    assert len(_events(harness, esc_id, "email_sent")) == 1


def test_without_smtp_url_the_email_is_kept_and_the_timeline_says_so__R_NOTE_2(harness):
    caller_sid, _ = harness.caller_with_agent()
    esc_id = harness.escalate(caller_sid, kind="formal_complaint").json["id"]
    harness.run_jobs()
    assert _events(harness, esc_id, "email_not_sent") == ["Pat Doe - Formal Complaint: kept, SMTP_URL not set"]
    [email] = harness.api("GET", f"/api/escalations/{esc_id}/emails", who="lead-lee").json["emails"]
    assert email["status"] == "kept" and email["to"] == [MANAGER]


def test_a_manager_request_sends_no_email__R_NOTE_2(redis_conn, twilio_rest):
    with Mailbox() as inbox:
        harness = Harness(redis_conn, twilio_rest, smtp_url=inbox.url(), smtp_from=FROM)
        caller_sid, _ = harness.caller_with_agent()
        esc_id = harness.escalate(caller_sid).json["id"]
        harness.run_jobs()
    assert inbox.delivered == [] and harness.api("GET", f"/api/escalations/{esc_id}/emails").json["emails"] == []
