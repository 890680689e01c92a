"""What a conference's wait and hold URLs may answer (issue 34, probes 2 and 4): Twilio runs only
Say, Play, Pause and Redirect from them (error 13238: anything else is refused and the caller
hears nothing until the next fetch), and has no fallback URL for them. Every answer the service
can give there, in an orderly call, with Redis gone, for an organisation no longer served, or when
the core fails, uses only those verbs; a failure keeps the music playing and fetches the same URL
again (R-HOLD-1, R-WARM-3)."""

from __future__ import annotations

import redis

from ivr.caller import KEEP_HOLDING, WAIT_HOLD_VERBS
from telephony.adapters.local_redis import LocalRedis
from tests.support import BASE, ROOT, Harness

MUSIC = "https://com.twilio.music.classical.s3.amazonaws.com/BusyStrings.mp3"  # policies/default.toml


def hold_and_wait(harness: Harness, esc_id: str, caller_sid: str) -> dict[str, object]:
    urls = [f"/voice/hold?escalation={esc_id}&check_in={n}" for n in (0, 1, 2, 3)] + ["/voice/wait"]
    return {url: harness.twiml(url, {"CallSid": caller_sid}) for url in urls}


def assert_hold_verbs_only(heard: dict) -> None:
    for url, twiml in heard.items():
        verbs = {el.tag for el in twiml.root.iter()} - {"Response"}
        assert verbs <= WAIT_HOLD_VERBS, f"{url} answered {sorted(verbs)}"


def assert_music_then_same_url(heard: dict, music: str = MUSIC) -> None:
    for url, twiml in heard.items():
        assert twiml.verbs() == ["Play", "Redirect"], (url, twiml.xml)
        assert twiml.find("Play").text == music
        assert twiml.find("Redirect").text == BASE + url, "the same URL is fetched again after the music"


def test_every_hold_and_wait_answer_of_an_orderly_call_uses_hold_verbs_only__R_HOLD_1(harness):
    caller_sid, _ = harness.caller_with_agent()
    esc_id = harness.escalate(caller_sid).json["id"]
    assert_hold_verbs_only(hold_and_wait(harness, esc_id, caller_sid))


def test_with_redis_gone_hold_and_wait_keep_the_music_playing_and_retry__R_HOLD_1(twilio_rest, tmp_path):
    server = LocalRedis.start(tmp_path / "redis", appendonly=True)
    conn = redis.Redis.from_url(server.url, socket_timeout=1, socket_connect_timeout=1)
    try:
        harness = Harness(conn, twilio_rest)
        caller_sid, _ = harness.caller_with_agent()
        esc_id = harness.escalate(caller_sid).json["id"]
        server.stop()
        heard = hold_and_wait(harness, esc_id, caller_sid)
        assert_hold_verbs_only(heard)
        assert_music_then_same_url(heard)
    finally:
        conn.close()
        server.stop()


def test_when_the_core_fails_hold_and_wait_keep_the_music_playing__R_HOLD_1(harness, monkeypatch):
    caller_sid, _ = harness.caller_with_agent()
    esc_id = harness.escalate(caller_sid).json["id"]

    def fails(*_args, **_kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(harness.core.hold, "words_on_hold", fails)
    monkeypatch.setattr(harness.core.intake, "words_while_waiting", fails)
    heard = hold_and_wait(harness, esc_id, caller_sid)
    assert_hold_verbs_only(heard)
    assert_music_then_same_url(heard)


def test_a_hold_url_of_an_organisation_not_served_keeps_the_caller_holding_never_hangs_up(harness):
    """Probe 4: the organisation's policy file removed, the next hold fetch named an organisation
    nobody serves and got the unserved number's <Hangup>, which Twilio refuses on a hold URL."""
    url = "/voice/hold?escalation=esc_gone&check_in=1&org=gone"
    heard = {url: harness.twiml(url, {"CallSid": "CA" + "c" * 32})}
    assert_hold_verbs_only(heard)
    twiml = heard[url]
    assert twiml.verbs() == ["Say", "Pause", "Redirect"], "no policy, so no music: true words, a short pause"
    assert twiml.said() == [KEEP_HOLDING]
    assert twiml.find("Redirect").text == BASE + url


def test_without_music_in_the_policy_a_failing_hold_url_speaks_and_pauses_briefly(
    redis_conn, twilio_rest, tmp_path, monkeypatch
):
    policy = tmp_path / "quiet.toml"
    policy.write_text((ROOT / "policies" / "default.toml").read_text().replace(MUSIC, ""))
    harness = Harness(redis_conn, twilio_rest, policy_file=policy)
    caller_sid, _ = harness.caller_with_agent()
    esc_id = harness.escalate(caller_sid).json["id"]
    monkeypatch.setattr(harness.core.hold, "words_on_hold", None)  # calling it raises TypeError
    url = f"/voice/hold?escalation={esc_id}&check_in=1"
    heard = {url: harness.twiml(url, {"CallSid": caller_sid})}
    assert_hold_verbs_only(heard)
    assert heard[url].verbs() == ["Say", "Pause", "Redirect"]
    assert int(heard[url].find("Pause").get("length")) <= 3, "never more than 3 s of silence"
