"""Twilio's side of the phone calls, simulated: calls, TwiML, conferences, signed webhooks and
status callbacks, on a virtual clock. People are scripts (sim/people.py); everything anyone
hears or does goes into the transcript."""

from __future__ import annotations

import heapq
import itertools
import json
import logging
import random
import secrets
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from urllib.parse import urljoin

import requests
from twilio.request_validator import RequestValidator

from sim.people import Person
from sim.transcript import Transcript

log = logging.getLogger(__name__)

WAIT_HOLD_VERBS = {"Say", "Play", "Pause", "Redirect"}
# <Start><Transcription> (Twilio real-time transcription): its attributes are the parameters of
# the REST API's CreateRealtimeTranscription, in lower camel case (tests/simulator/test_sim_transcription.py
# checks this list against Twilio's OpenAPI description); an attribute Twilio does not have is
# an error, as is a track it does not know.
TRANSCRIPTION_ATTRIBUTES = {
    "name",
    "track",
    "statusCallbackUrl",
    "statusCallbackMethod",
    "inboundTrackLabel",
    "outboundTrackLabel",
    "partialResults",
    "languageCode",
    "transcriptionEngine",
    "profanityFilter",
    "speechModel",
    "hints",
    "enableAutomaticPunctuation",
    "intelligenceService",
    "conversationConfiguration",
    "conversationId",
    "configurationId",
    "enableProviderData",
}
TRANSCRIPTION_TRACKS = ("inbound_track", "outbound_track", "both_tracks")
NUDGE_SECONDS = 0.05
TRANSCRIPTION_DELAY = 0.5  # a final result comes this long after the words were said
TERMINAL = ("completed", "busy", "no-answer", "failed", "canceled")
WEBHOOK_TIMEOUT = 15.0
PLAY_SECONDS = 20.0
PLAY_FOREVER = 1000  # Twilio plays loop="0" a thousand times
DEFAULT_WAIT_MUSIC = "http://com.twilio.sounds.music.s3.amazonaws.com/MARKOVICHAMP-Borghestral.mp3"
EPOCH = datetime(2026, 11, 24, 16, 0, tzinfo=UTC)


def sid(prefix: str) -> str:
    return prefix + secrets.token_hex(16)


def speaking_time(text: str) -> float:
    return max(1.0, round(len(text.split()) / 2.5, 1))


@dataclass
class Runner:
    """One TwiML document being executed for one call (the call's own program, or a wait or
    hold URL's loop inside a conference)."""

    call: Call
    verbs: list[ET.Element]
    url: str
    kind: str = "main"
    pc: int = 0
    played: int = 0
    id: int = field(default_factory=itertools.count().__next__)


@dataclass
class Call:
    sid: str
    person: Person
    frm: str
    to: str
    direction: str
    status: str = "queued"
    status_callback: str = ""
    events: tuple[str, ...] = ("completed",)
    url: str = ""
    fallback_url: str = ""
    machine_detection: str = ""
    runner: Runner | None = None
    suspended: Runner | None = None
    conference: str = ""
    via_api: bool = False
    answered_at: float | None = None
    hearing: tuple[str, ...] = ()
    hearing_since: float = 0.0
    audio: object | None = None
    transcription: dict | None = None
    talked: bool = False


@dataclass
class Participant:
    call: Call
    label: str
    start_on_enter: bool
    end_on_exit: bool
    wait_url: str = ""
    hold: bool = False
    hold_url: str = ""
    muted: bool = False
    coaching: str = ""


@dataclass
class Conference:
    name: str
    sid: str
    status_callback: str = ""
    events: tuple[str, ...] = ()
    started: bool = False
    ended: bool = False
    participants: dict[str, Participant] = field(default_factory=dict)
    sequence: int = 0


class World:
    def __init__(
        self,
        people: list[Person],
        *,
        account_sid: str,
        auth_token: str,
        number: str,
        incoming_url: str,
        status_url: str,
        fallback_url: str,
        transcript: Transcript,
        on_tick: Callable[[float], None] = lambda now: None,
        next_timer: Callable[[], float | None] = lambda: None,
        speed: float | None = None,
        chaos: bool = False,
        seed: int = 7,
        epoch: datetime = EPOCH,
    ):
        self.people = {p.endpoint: p for p in people}
        self.account_sid, self.auth_token, self.number = account_sid, auth_token, number
        self.incoming_url, self.status_url, self.fallback_url = incoming_url, status_url, fallback_url
        self.transcript = transcript
        self.validator = RequestValidator(auth_token)
        self.calls: dict[str, Call] = {}
        self.conferences: dict[str, Conference] = {}
        self.now = 0.0
        self.queue: list[tuple[float, int, Callable[[], None]]] = []
        self.counter = itertools.count()
        self.lock = threading.RLock()
        self.on_tick = on_tick
        self.next_timer = next_timer
        self.speed = speed
        self.chaos = chaos
        self.rng = random.Random(seed)
        self.epoch = epoch
        self.http = requests.Session()
        self.errors: list[str] = []
        self.webhook_timeout = WEBHOOK_TIMEOUT
        self.sent: list[tuple[str, dict[str, str], int]] = []  # every webhook: url, params, status
        self.rest_log: list = []  # sim.rest.RestRequest, in the order they came
        self.agent_api: Callable[[Person, str, dict], None] | None = None
        self.pool: ThreadPoolExecutor | None = None
        self.undelivered = 0  # status callbacks and conference events not yet answered by the service

    def deliver_in_parallel(self, threads: int) -> None:
        """Status callbacks and conference events sent by a pool of threads, as Twilio sends
        them (concurrently, in no promised order), not one after another: a load of calls
        (tests/chaos) is then not held up by the simulator."""
        self.pool = ThreadPoolExecutor(threads, thread_name_prefix="twilio-events")

    # -- the clock --------------------------------------------------------------------
    def at(self, delay: float, action: Callable[[], None]) -> None:
        with self.lock:
            heapq.heappush(self.queue, (self.now + max(0.0, delay), next(self.counter), action))

    def calls_over(self) -> bool:
        """Every call placed so far has ended and Twilio has told the service all of it."""
        with self.lock:
            return bool(self.calls) and self.undelivered == 0 and all(c.status in TERMINAL for c in self.calls.values())

    def run(self, until: float, stop: Callable[[], bool] = lambda: False) -> None:
        """Play events in time order; virtual time jumps from one to the next (or, with a speed,
        follows the wall clock)."""
        started, begun = time.monotonic(), self.now
        while True:
            with self.lock:
                next_event = self.queue[0][0] if self.queue else None
            timer = self.next_timer()
            candidates = [t for t in (next_event, timer) if t is not None]
            if not candidates or stop():
                return
            when = max(self.now, min(candidates))
            if when > until:
                return
            if self.speed:
                delay = started + (when - begun) / self.speed - time.monotonic()
                if delay > 0:
                    # Wake up now and then: time moves for the service too, and a REST request
                    # may have queued something sooner.
                    time.sleep(min(delay, 0.1))
                    self.now = min(when, max(self.now, begun + (time.monotonic() - started) * self.speed))
                    self.on_tick(self.now)
                    continue
            self.now = when
            self.on_tick(self.now)
            with self.lock:
                ready = []
                while self.queue and self.queue[0][0] <= self.now:
                    ready.append(heapq.heappop(self.queue)[2])
            for action in ready:
                action()

    # -- people and calls ----------------------------------------------------------------
    def name(self, call: Call) -> str:
        return call.person.name

    def say(self, call: Call, kind: str, text: str, until: float | None = None) -> None:
        entry = self.transcript.add(self.now, self.name(call), kind, text, until)
        if kind in ("say", "play") and until is not None:
            call.audio = entry

    def set_runner(self, call: Call, runner: Runner | None) -> None:
        """The call moves on to other TwiML (or to none): what it was hearing stops now."""
        if call.audio is not None and call.audio.until is not None and call.audio.until > self.now:
            self.transcript.cut(call.audio, self.now)
        call.audio = None
        call.runner = runner

    def timestamp(self) -> str:
        return format_datetime(self.epoch + timedelta(seconds=self.now), usegmt=True)

    def incoming_call(self, person: Person, after: float = 0.0, to: str = "") -> Call:
        """A person rings the support number (or, on a deployment of several organisations, one
        organisation's number)."""
        number = to or self.number
        call = Call(
            sid("CA"),
            person,
            person.endpoint,
            number,
            "inbound",
            status_callback=self.status_url,
            url=self.incoming_url,
            fallback_url=self.fallback_url,
        )
        self.calls[call.sid] = call

        def ring():
            self.say(call, "dials", number)
            call.status = "ringing"
            self.answered(call, inbound_status="ringing")

        self.at(after, ring)
        return call

    def outbound_call(
        self,
        to: str,
        frm: str,
        url: str,
        status_callback: str,
        events: list[str],
        timeout: int,
        machine_detection: str = "",
        conference: dict | None = None,
        fallback_url: str = "",
    ) -> Call:
        person = self.people.get(to) or Person(name=to, role="unknown", endpoint=to, answer_after=None)
        call = Call(
            sid("CA"),
            person,
            frm,
            to,
            "outbound-api",
            status_callback=status_callback,
            events=tuple(events) or ("completed",),
            url=url,
            machine_detection=machine_detection,
            via_api=conference is not None,
            fallback_url=fallback_url,
        )
        self.calls[call.sid] = call
        self.at(0.1, lambda: self._ring(call, timeout, conference))
        return call

    def _ring(self, call: Call, timeout: int, conference: dict | None) -> None:
        if call.status in TERMINAL:
            return
        call.status = "initiated"
        self.status(call, "initiated")
        if call.person.busy:
            self.say(call, "busy", "line busy")
            self.finish(call, "busy")
            return
        call.status = "ringing"
        self.status(call, "ringing")
        self.say(call, "rings", f"phone rings (from {call.frm})")
        answer = call.person.next_answer()
        if answer is None or answer >= timeout:
            self.at(
                timeout,
                lambda: (
                    call.status == "ringing"
                    and (self.say(call, "no answer", "does not pick up"), self.finish(call, "no-answer"))
                ),
            )
            return
        self.at(answer, lambda: self._pick_up(call, conference))

    def _pick_up(self, call: Call, conference: dict | None) -> None:
        if call.status != "ringing":
            return
        if conference is not None:
            self.say(call, "answers", "picks up")
            self.answered(call, fetch=False)
            self.join(call, conference)
            return
        self.answered(call)

    def answered(self, call: Call, fetch: bool = True, inbound_status: str = "") -> None:
        call.status = "in-progress"
        call.answered_at = self.now
        self.status(call, "in-progress")
        if call.direction != "inbound" and fetch:
            self.say(call, "answers", "answering machine picks up" if call.person.machine else "picks up")
        if call.person.hang_up_after is not None:
            self.at(call.person.hang_up_after, lambda: self.hang_up(call, "hangs up"))
        if fetch:
            extra = {}
            if call.machine_detection:
                extra["AnsweredBy"] = "machine_end_beep" if call.person.machine else "human"
            if inbound_status:
                extra["CallStatus"] = inbound_status
            self.fetch(call, call.url, extra)
        if call.person.role == "agent":
            self.agent_moment(call, "joined")

    def hang_up(self, call: Call, why: str) -> None:
        if call.status in TERMINAL:
            return
        self.say(call, "hangs up", why)
        self.finish(call, "completed")

    def finish(self, call: Call, status: str) -> None:
        if call.status in TERMINAL:
            return
        call.status = status
        self.set_runner(call, None)
        call.suspended = None
        if call.conference:
            self.leave(call)
        self.flush_hearing(call)
        self.stop_transcription(call)
        self.status(call, status)

    # -- webhooks --------------------------------------------------------------------------
    def params(self, call: Call, extra: dict | None = None) -> dict[str, str]:
        return {
            "AccountSid": self.account_sid,
            "CallSid": call.sid,
            "From": call.frm,
            "To": call.to,
            "CallStatus": call.status,
            "Direction": call.direction,
            "ApiVersion": "2010-04-01",
            **(extra or {}),
        }

    def post(self, url: str, params: dict[str, str]) -> requests.Response | None:
        signature = self.validator.compute_signature(url, params)
        try:
            response = self.http.post(
                url, data=params, headers={"X-Twilio-Signature": signature}, timeout=self.webhook_timeout
            )
        except requests.RequestException as exc:
            self.transcript.add(self.now, "twilio", "webhook", f"POST {url} failed: {exc}")
            return None
        self.transcript.add(self.now, "twilio", "webhook", f"POST {url} -> {response.status_code}")
        self.sent.append((url, params, response.status_code))
        return response

    def status(self, call: Call, status: str) -> None:
        """A status callback, if the call asked for this event (duplicated in chaos mode)."""
        event = {"in-progress": "answered"}.get(status, status if status in ("initiated", "ringing") else "completed")
        if not call.status_callback or event not in call.events:
            return
        extra = {
            "CallStatus": status,
            "SequenceNumber": str(next(self.counter)),
            "Timestamp": self.timestamp(),
            "CallbackSource": "call-progress-events",
        }
        if event == "completed":
            extra["CallDuration"] = str(int(self.now - call.answered_at) if call.answered_at is not None else 0)
        self.deliver(call.status_callback, self.params(call, extra), 0.2)

    def deliver(self, url: str, params: dict[str, str], delay: float, nudge: bool = False) -> None:
        """A status callback or conference event. With chaos, each is sent twice, each copy at a
        random delay, so callbacks overtake one another (Twilio promises no order). With `nudge`
        the clock ticks right after, so the jobs the webhook queued run at once, as a real
        worker would run them (a red flag told mid-call shows mid-call)."""

        def post() -> None:
            try:
                self.post(url, params)
            finally:
                with self.lock:
                    self.undelivered -= 1

        def send():
            if self.pool is None:
                post()
            else:
                self.pool.submit(post)
            if nudge:
                self.at(NUDGE_SECONDS, lambda: None)

        copies = 2 if self.chaos else 1
        with self.lock:
            self.undelivered += copies
        if not self.chaos:
            self.at(delay, send)
            return
        for _ in range(copies):
            self.at(self.rng.uniform(0.05, 1.5), send)

    def fetch(self, call: Call, url: str, extra: dict | None = None, kind: str = "main") -> None:
        """Fetch TwiML and run it; a failed primary handler falls back (Twilio's 15 s rule)."""
        if call.status in TERMINAL:
            return
        response = self.post(url, self.params(call, extra))
        if (response is None or response.status_code >= 400) and call.fallback_url and kind == "main":
            self.say(
                call,
                "error",
                f"the service failed ({'timeout' if response is None else response.status_code}); Twilio uses the fallback URL",
            )
            response = self.post(call.fallback_url, self.params(call, {"ErrorCode": "11200", "ErrorUrl": url}))
        if response is None or response.status_code >= 400:
            self.errors.append(f"{url}: {'no answer' if response is None else response.status_code}")
            self.say(call, "error", "An application error has occurred. Goodbye.")
            self.finish(call, "failed" if call.answered_at is None else "completed")
            return
        try:
            root = ET.fromstring(response.text)
        except ET.ParseError:
            self.errors.append(f"{url}: not TwiML")
            self.finish(call, "completed")
            return
        if kind in ("wait", "hold"):
            bad = sorted({el.tag for el in root} - WAIT_HOLD_VERBS)
            if bad:
                self.errors.append(f"13238: {kind} URL {url} returned {', '.join(bad)}")
                self.say(call, "error", f"Twilio error 13238: {kind} music TwiML may not use {', '.join(bad)}")
                return
        runner = Runner(call, list(root), url, kind)
        self.set_runner(call, runner)
        self.at(0, lambda: self.step(runner))

    # -- TwiML ---------------------------------------------------------------------------------
    def step(self, runner: Runner) -> None:
        call = runner.call
        if call.runner is not runner or call.status in TERMINAL:
            return
        if runner.pc >= len(runner.verbs):
            if runner.kind == "main" and not call.conference:
                self.hang_up(call, "TwiML ended")
            elif runner.kind in ("wait", "hold") and _duration(runner.verbs) > 0:
                runner.pc = 0
                self._next(runner, 0)
            return
        verb = runner.verbs[runner.pc]
        runner.pc += 1
        handler = getattr(self, f"_verb_{verb.tag.lower()}", None)
        if handler is None:
            self.errors.append(f"unsupported TwiML verb {verb.tag}")
            self.at(0, lambda: self.step(runner))
            return
        handler(runner, verb)

    def _next(self, runner: Runner, after: float) -> None:
        self.at(after, lambda: self.step(runner))

    def _verb_say(self, runner: Runner, verb: ET.Element) -> None:
        text = (verb.text or "").strip()
        length = speaking_time(text)
        self.say(runner.call, "say", text, self.now + length)
        self._next(runner, length)

    def _verb_play(self, runner: Runner, verb: ET.Element) -> None:
        """A recording takes PLAY_SECONDS; `loop` plays it again (0: on and on)."""
        self.say(runner.call, "play", (verb.text or "").strip() or "music", self.now + PLAY_SECONDS)
        loops = int(verb.get("loop", "1") or "1") or PLAY_FOREVER
        runner.played += 1
        if runner.played < loops:
            runner.pc -= 1
        else:
            runner.played = 0
        self._next(runner, PLAY_SECONDS)

    def _verb_pause(self, runner: Runner, verb: ET.Element) -> None:
        self._next(runner, float(verb.get("length", "1")))

    def _verb_hangup(self, runner: Runner, verb: ET.Element) -> None:
        self.hang_up(runner.call, "the service hangs up")

    def _verb_redirect(self, runner: Runner, verb: ET.Element) -> None:
        url = urljoin(runner.url, (verb.text or "").strip())
        self.at(0, lambda: runner.call.runner is runner and self.fetch(runner.call, url, kind=runner.kind))

    def _verb_record(self, runner: Runner, verb: ET.Element) -> None:
        call = runner.call
        message = call.person.voicemail or "(silence)"
        self.say(call, "records", message)
        action = urljoin(runner.url, verb.get("action", runner.url))
        self.at(
            5,
            lambda: (
                call.runner is runner
                and self.fetch(
                    call,
                    action,
                    {"RecordingUrl": f"https://api.twilio.com/recordings/{sid('RE')}", "RecordingDuration": "5"},
                )
            ),
        )

    def _verb_gather(self, runner: Runner, verb: ET.Element) -> None:
        """Play the nested prompt; the person answers at its end (or stays silent)."""
        call = runner.call
        prompt, length = [], 0.0
        for child in verb:
            if child.tag == "Say":
                text = (child.text or "").strip()
                took = speaking_time(text)
                self._hear_later(runner, length, "say", text, took)
                prompt.append(text)
                length += took
            elif child.tag == "Play":
                self._hear_later(runner, length, "play", (child.text or "music").strip(), PLAY_SECONDS)
                length += PLAY_SECONDS
            elif child.tag == "Pause":
                length += float(child.get("length", "1"))
        reply = call.person.reply_to(" ".join(prompt))
        action = urljoin(runner.url, verb.get("action", runner.url))
        inputs = verb.get("input", "dtmf").split()
        timeout = float(verb.get("timeout", "5"))
        if reply is None:
            self._next(runner, length + timeout)
            return
        if ("speech" if reply.speech else "dtmf") not in inputs:
            self.at(length + reply.after, lambda: call.runner is runner and self._unheard(call, reply))
            self._next(runner, length + timeout)
            return
        finish = verb.get("finishOnKey", "#")
        digits = reply.digits.split(finish)[0] if finish else reply.digits
        if verb.get("numDigits"):
            digits = digits[: int(verb.get("numDigits"))]

        def answer():
            if call.runner is not runner:
                return
            if reply.speech:
                self.say(call, "says", reply.speech)
                self.transcribe(call, reply.speech)
                extra = {"SpeechResult": reply.speech, "Confidence": "0.9"}
            else:
                self.say(call, "presses", reply.digits)
                extra = {"Digits": digits}
            self.set_runner(call, None)
            self.fetch(call, action, extra, kind=runner.kind)

        self.at(length + reply.after, answer)

    def _unheard(self, call: Call, reply) -> None:
        """The person answers in a way this Gather does not listen for (speech to a keypad menu)."""
        self.say(call, "says" if reply.speech else "presses", reply.speech or reply.digits)
        self.say(call, "ignored", "the menu does not listen for that")

    def _hear_later(self, runner: Runner, offset: float, kind: str, text: str, took: float) -> None:
        """A prompt line heard when its turn comes, unless the caller has moved on by then."""
        call = runner.call

        def hear():
            if call.runner is runner and call.status not in TERMINAL:
                self.say(call, kind, text, self.now + took)

        self.at(offset, hear)

    def _verb_start(self, runner: Runner, verb: ET.Element) -> None:
        """<Start>: forks beside the call and goes straight on to the next verb. Only
        <Transcription> is simulated (real-time transcription of the call's audio)."""
        for noun in verb:
            if noun.tag != "Transcription":
                self.errors.append(f"unsupported <Start> noun {noun.tag}")
                continue
            self._start_transcription(runner, noun)
        self._next(runner, 0)

    def _start_transcription(self, runner: Runner, noun: ET.Element) -> None:
        call = runner.call
        unknown = sorted(set(noun.attrib) - TRANSCRIPTION_ATTRIBUTES)
        track = noun.get("track", "inbound_track")
        if unknown or track not in TRANSCRIPTION_TRACKS:
            problem = f"unknown attributes {unknown}" if unknown else f"track {track!r}"
            self.errors.append(f"<Transcription> with {problem}")
            self.say(call, "error", f"Twilio refuses <Transcription>: {problem}")
            return
        if call.transcription is not None:
            self.errors.append("a second <Start><Transcription> on a call that is already transcribed")
            return
        url = noun.get("statusCallbackUrl", "")
        call.transcription = {
            "sid": sid("GT"),
            "url": urljoin(runner.url, url) if url else "",
            "track": track,
            "partial": noun.get("partialResults", "false") == "true",
            "language": noun.get("languageCode", "en-US"),
            "sequence": 0,
            "name": noun.get("name", ""),
        }
        self.say(call, "transcribed", f"live transcription starts ({track})")
        self._transcription_event(call, "transcription-started", {"Track": track}, 0)

    def transcribe(self, call: Call, text: str) -> None:
        """What a caller says reaches the transcription of their own (inbound) track: a partial
        result half-way when asked for, then the final one."""
        t = call.transcription
        if t is None or t["track"] not in ("inbound_track", "both_tracks") or call.status in TERMINAL:
            return
        took = speaking_time(text)
        if t["partial"]:
            half = " ".join(text.split()[: max(1, len(text.split()) // 2)])
            self._transcription_event(call, "transcription-content", self._content(t, half, final=False), took / 2)
        self._transcription_event(
            call, "transcription-content", self._content(t, text, final=True), took + TRANSCRIPTION_DELAY
        )

    @staticmethod
    def _content(t: dict, text: str, final: bool) -> dict[str, str]:
        return {
            "LanguageCode": t["language"],
            "Track": "inbound_track",
            "TranscriptionData": json.dumps({"transcript": text, "confidence": 0.92 if final else 0.6}),
            "Final": "true" if final else "false",
        }

    def stop_transcription(self, call: Call) -> None:
        if call.transcription is not None:
            self._transcription_event(call, "transcription-stopped", {}, 0.1)
            call.transcription = None

    def _transcription_event(self, call: Call, event: str, fields: dict[str, str], delay: float) -> None:
        """Posted, signed, to the statusCallbackUrl, numbered in order (SequenceId); with chaos
        duplicated and out of order like every other callback."""
        t = call.transcription
        if t is None or not t["url"]:
            return
        t["sequence"] += 1
        params = {
            "AccountSid": self.account_sid,
            "CallSid": call.sid,
            "TranscriptionSid": t["sid"],
            "Timestamp": (self.epoch + timedelta(seconds=self.now + delay)).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "SequenceId": str(t["sequence"]),
            "TranscriptionEvent": event,
            **fields,
        }
        self.deliver(t["url"], params, delay, nudge=True)

    def talk(self, call: Call) -> None:
        """A scripted caller starts talking once they first hear someone (R-NOTE-5 scenarios)."""
        if call.talked or not call.person.talk:
            return
        call.talked = True
        for item in call.person.talk:
            self.at(item.after, lambda item=item: self._says(call, item.text))

    def _says(self, call: Call, text: str) -> None:
        if call.status in TERMINAL:
            return
        self.say(call, "says", text, self.now + speaking_time(text))
        self.transcribe(call, text)

    def _verb_dial(self, runner: Runner, verb: ET.Element) -> None:
        call = runner.call
        for noun in verb:
            if noun.tag == "Conference":
                attrs = noun.attrib
                call.suspended = runner
                self.set_runner(call, None)
                self.join(
                    call,
                    {
                        "name": (noun.text or "").strip(),
                        "label": attrs.get("participantLabel", ""),
                        "start": attrs.get("startConferenceOnEnter", "true") == "true",
                        "end": attrs.get("endConferenceOnExit", "false") == "true",
                        "wait_url": urljoin(runner.url, attrs["waitUrl"])
                        if attrs.get("waitUrl")
                        else attrs.get("waitUrl"),
                        "callback": attrs.get("statusCallback", ""),
                        "events": attrs.get("statusCallbackEvent", "").split(),
                    },
                )
                return
            if noun.tag in ("Number", "Client", "Sip"):
                target = (noun.text or "").strip()
                target = f"client:{target}" if noun.tag == "Client" else target
                self.say(call, "dials", target)
                person = self.people.get(target)
                answers = person is not None and person.answer_after is not None and not person.busy
                if answers:
                    self.say(call, "voices", f"talks with {person.name}", self.now + 60)
                    self.at(60, lambda: self._dial_ended(runner, verb, "completed"))
                else:
                    self.at(float(verb.get("timeout", "30")), lambda: self._dial_ended(runner, verb, "no-answer"))
                return
        self._next(runner, 0)

    def _dial_ended(self, runner: Runner, verb: ET.Element, status: str) -> None:
        """After <Dial>: its action URL (with DialCallStatus) if it has one, else the next verb."""
        call = runner.call
        if call.status in TERMINAL or call.runner not in (runner, None):
            return
        self.set_runner(call, runner)
        if verb.get("action"):
            self.set_runner(call, None)
            self.fetch(call, urljoin(runner.url, verb.get("action")), {"DialCallStatus": status})
        else:
            self.step(runner)

    # -- conferences -----------------------------------------------------------------------------
    def conference(self, name: str) -> Conference:
        if name.startswith("CF"):
            found = next((c for c in self.conferences.values() if c.sid == name), None)
            if found is None:
                raise KeyError(name)
            return found
        conf = self.conferences.get(name)
        if conf is None or conf.ended:
            conf = Conference(name, sid("CF"))
            self.conferences[name] = conf
        return conf

    def conference_event(
        self,
        conf: Conference,
        event: str,
        call: Call | None = None,
        participant: Participant | None = None,
        extra: dict[str, str] | None = None,
    ) -> None:
        short = {"unhold": "hold", "unmute": "mute"}.get(event.split("-")[-1], event.split("-")[-1])
        if event.startswith("announcement"):
            short = "announcement"
        if not conf.status_callback or (short not in conf.events and event not in conf.events):
            return
        conf.sequence += 1
        params = {
            "AccountSid": self.account_sid,
            "ConferenceSid": conf.sid,
            "FriendlyName": conf.name,
            "StatusCallbackEvent": event,
            "SequenceNumber": str(conf.sequence),
            "Timestamp": self.timestamp(),
        }
        if call is not None:
            params["CallSid"] = call.sid
        if participant is not None:
            params.update(
                ParticipantLabel=participant.label,
                Hold=str(participant.hold).lower(),
                Muted=str(participant.muted).lower(),
                Coaching=str(bool(participant.coaching)).lower(),
                EndConferenceOnExit=str(participant.end_on_exit).lower(),
                StartConferenceOnEnter=str(participant.start_on_enter).lower(),
            )
        params.update(extra or {})
        self.deliver(conf.status_callback, params, 0.1)

    def join(self, call: Call, spec: dict) -> Conference:
        conf = self.conference(spec["name"])
        if spec.get("callback"):
            conf.status_callback = spec["callback"]
            conf.events = tuple(spec.get("events") or ("start", "end"))
        part = Participant(
            call,
            spec.get("label", ""),
            spec.get("start", True),
            spec.get("end", False),
            spec.get("wait_url"),
            muted=spec.get("muted", False),
            coaching=spec.get("coaching", ""),
        )
        conf.participants[call.sid] = part
        call.conference = conf.name
        self.say(call, "joins", f"conference {conf.name}" + (f" as {part.label}" if part.label else ""))
        self.conference_event(conf, "participant-join", call, part)
        if part.start_on_enter and not conf.started:
            conf.started = True
            self.conference_event(conf, "conference-start")
            for other in conf.participants.values():
                if other.call.runner is not None and other.call.runner.kind == "wait":
                    self.set_runner(other.call, None)
        if not conf.started and part.wait_url:
            self.fetch(call, part.wait_url, kind="wait")
        elif not conf.started and part.wait_url is None:
            music = ET.fromstring(f'<Response><Play loop="0">{DEFAULT_WAIT_MUSIC}</Play></Response>')
            runner = Runner(call, list(music), DEFAULT_WAIT_MUSIC, "wait")
            self.set_runner(call, runner)
            self.at(0, lambda: self.step(runner))
        self.update_hearing(conf)
        if part.label == "lead":
            for other in conf.participants.values():
                if other.call.person.role == "agent":
                    self.agent_moment(other.call, "lead_joined")
        return conf

    def leave(self, call: Call, resume: bool = False, reason: str = "participant_updated_via_api") -> None:
        """The participant leaves; Twilio's participant-leave says the call's status and why
        (ParticipantCallStatus, ReasonParticipantLeft: a hang-up, or the call taken elsewhere)."""
        conf = self.conferences.get(call.conference)
        call.conference = ""
        if conf is None:
            return
        part = conf.participants.pop(call.sid, None)
        if part is None:
            return
        if call.runner is not None and call.runner.kind in ("wait", "hold"):
            self.set_runner(call, None)
        self.flush_hearing(call)
        self.say(call, "leaves", f"conference {conf.name}")
        why = "participant_hung_up" if call.status in TERMINAL else reason
        self.conference_event(
            conf, "participant-leave", call, part, {"ParticipantCallStatus": call.status, "ReasonParticipantLeft": why}
        )
        if resume and call.suspended is not None and call.status not in TERMINAL:
            runner, call.suspended = call.suspended, None
            self.at(0, lambda: self._dial_ended(runner, runner.verbs[runner.pc - 1], "completed"))
        elif resume and call.via_api:
            self.hang_up(call, "removed from the conference")
        if part.end_on_exit or not conf.participants:
            self.end_conference(conf)
        else:
            self.update_hearing(conf)

    def end_conference(self, conf: Conference) -> None:
        if conf.ended:
            return
        conf.ended = True
        for part in list(conf.participants.values()):
            self.leave(part.call, resume=True, reason="conference_ended_via_api")
        self.conference_event(conf, "conference-end")

    def set_hold(self, conf: Conference, call_sid: str, hold: bool, hold_url: str = "") -> Participant:
        part = conf.participants[call_sid]
        call = part.call
        if hold:
            part.hold, part.hold_url = True, hold_url or part.hold_url
            self.conference_event(conf, "participant-hold", call, part)
            if part.hold_url:
                self.fetch(call, part.hold_url, kind="hold")
        elif part.hold:
            part.hold = False
            if call.runner is not None and call.runner.kind == "hold":
                self.set_runner(call, None)
            self.conference_event(conf, "participant-unhold", call, part)
        self.update_hearing(conf)
        return part

    def update_hearing(self, conf: Conference) -> None:
        """Who hears whom: in a started conference, everyone not on hold hears everyone else not
        on hold, except that a muted participant is heard by nobody and a coach only by the
        participant they coach."""
        live = [p for p in conf.participants.values() if conf.started and not p.hold]

        def audible(speaker: Participant, listener: Participant) -> bool:
            if speaker is listener or speaker.muted:
                return False
            return not speaker.coaching or speaker.coaching == listener.call.sid

        for part in conf.participants.values():
            hears = tuple(sorted(o.call.person.name for o in live if audible(o, part))) if part in live else ()
            if hears != part.call.hearing:
                self.flush_hearing(part.call)
                part.call.hearing, part.call.hearing_since = hears, self.now
                if hears:
                    self.say(part.call, "hears", ", ".join(hears))
                    self.talk(part.call)

    def set_flags(
        self, conf: Conference, call_sid: str, muted: bool | None = None, coaching: str | None = None
    ) -> None:
        """Participant update Muted / Coaching + CallSidToCoach."""
        part = conf.participants.get(call_sid)
        if part is None:
            return
        if muted is not None:
            part.muted = muted
            self.say(part.call, "muted" if muted else "unmuted", f"in conference {conf.name}")
        if coaching is not None:
            part.coaching = coaching
        self.update_hearing(conf)

    def announce(self, conf: Conference, url: str, call_sid: str = "") -> None:
        """AnnounceUrl: the TwiML's Say/Play is heard by the whole conference, or by one participant."""
        try:
            response = self.post(
                url, {"AccountSid": self.account_sid, "ConferenceSid": conf.sid, "FriendlyName": conf.name}
            )
            root = ET.fromstring(response.text) if response is not None and response.status_code < 400 else None
        except ET.ParseError:
            root = None
        if root is None:
            self.errors.append(f"announce URL {url} gave no TwiML")
            return
        bad = sorted({el.tag for el in root} - WAIT_HOLD_VERBS)
        if bad:
            self.errors.append(f"13238: announce URL {url} returned {', '.join(bad)}")
            return
        listeners = [p for p in conf.participants.values() if not call_sid or p.call.sid == call_sid]
        took = 0.0
        for el in root:
            if el.tag in ("Say", "Play"):
                text = (el.text or "").strip()
                length = speaking_time(text) if el.tag == "Say" else PLAY_SECONDS
                for part in listeners:
                    self.say(part.call, el.tag.lower(), text, self.now + took + length)
                took += length
        if call_sid and listeners:
            part = listeners[0]
            self.at(took, lambda: self.conference_event(conf, "announcement-end", part.call, part))

    def flush_hearing(self, call: Call) -> None:
        if call.hearing:
            self.transcript.add(
                call.hearing_since, self.name(call), "voices", "with " + ", ".join(call.hearing), self.now
            )
        call.hearing = ()

    def redirect(self, call: Call, url: str) -> None:
        """Calls(sid).update(Url=...): the call leaves whatever it was doing for new TwiML."""
        if call.conference:
            call.suspended = None
            self.leave(call)
        self.set_runner(call, None)
        self.at(0, lambda: self.fetch(call, url))

    def agent_moment(self, call: Call, moment: str) -> None:
        for step in list(call.person.steps):
            if step.when == moment:
                call.person.steps.remove(step)
                self.at(step.after, lambda step=step: self._agent_does(call, step))

    def _agent_does(self, call: Call, step) -> None:
        if step.do == "hang_up":
            self.hang_up(call, "agent's leg drops")
            return
        if self.agent_api is not None and call.status not in TERMINAL:
            actor = next((p for p in self.people.values() if step.by and p.id == step.by), call.person)
            self.agent_api(actor, step.do, step.body)
            if step.do == "note":
                self.at(NUDGE_SECONDS, lambda: None)


def _duration(verbs: list[ET.Element]) -> float:
    """How long a wait or hold document plays before it would start again."""
    total = 0.0
    for verb in verbs:
        if verb.tag == "Say":
            total += speaking_time((verb.text or "").strip())
        elif verb.tag == "Play":
            total += PLAY_SECONDS
        elif verb.tag == "Pause":
            total += float(verb.get("length", "1"))
    return total
