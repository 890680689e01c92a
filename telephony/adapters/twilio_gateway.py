"""The one module that talks to Twilio's REST API, so tests see every side effect in one place."""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode, urlsplit

import twilio
from requests import PreparedRequest, Response, Session
from requests.structures import CaseInsensitiveDict
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.base.version import Version
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from telephony.errors import TelephonyFailure
from telephony.metrics import TWILIO_ERRORS

log = logging.getLogger(__name__)

# Twilio's answer to changing a call that has already ended (everyone hung up at once): the call
# is gone, which is what a hang-up or a redirect off the call wanted anyway; not a failure, no retry.
CALL_NOT_IN_PROGRESS = 21220

CALL_PROGRESS_EVENTS = ["initiated", "ringing", "answered", "completed"]
CONFERENCE_EVENTS = ["start", "end", "join", "leave", "hold", "announcement"]


@dataclass(frozen=True)
class Joined:
    call_sid: str
    conference_sid: str


RETRY_AFTER_LIMIT_SECONDS = 3.0  # a 429 asking for longer gives up: the step's own retries come later


class EnvironmentOnceSession(Session):
    """requests reads the proxy and CA settings from the environment again on every request (about
    a tenth of a check-in job's CPU, measured with cProfile); they do not change while a process
    runs, so read them once per host: the same proxies, no_proxy and CA bundle, without the cost."""

    def __init__(self) -> None:
        super().__init__()
        self._settings: dict[tuple[str, str], dict[str, Any]] = {}

    def merge_environment_settings(self, url: Any, proxies: Any, stream: Any, verify: Any, cert: Any) -> Any:
        if proxies or stream is not None or verify is not None or cert is not None:
            return super().merge_environment_settings(url, proxies, stream, verify, cert)
        parts = urlsplit(url)
        key = (parts.scheme, parts.netloc)
        if key not in self._settings:
            self._settings[key] = super().merge_environment_settings(url, proxies, stream, verify, cert)
        found = self._settings[key]
        return {**found, "proxies": dict(found["proxies"])}


class HttpClient(TwilioHttpClient):
    """Twilio's HTTP client, remembering (per thread) the Retry-After of a 429, which
    TwilioRestException does not carry, so the retry waits as long as Twilio asked."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        pooled: Session | None = getattr(self, "session", None)
        if pooled is not None:  # the same connection pools, the environment read once
            once = EnvironmentOnceSession()
            for prefix, adapter in pooled.adapters.items():
                once.mount(prefix, adapter)
            self.session = once
        self._last = threading.local()

    def request(self, *args: Any, **kwargs: Any) -> Any:
        self._last.retry_after = None
        response = super().request(*args, **kwargs)
        if response.status_code == 429:
            try:
                self._last.retry_after = float((response.headers or {}).get("Retry-After", ""))
            except ValueError:
                self._last.retry_after = None
        return response

    def retry_after(self) -> float | None:
        return getattr(self._last, "retry_after", None)

    def post_form(self, url: str, form: Mapping[str, str | list[str]], auth: tuple[str, str]) -> Response:
        """The lean form POST the workers' hot calls use (a check-in's hold, a limit's redirect, a dial):
        the request Twilio's SDK would send (same URL, form body, basic auth, headers), prepared
        once by hand and handed to the same connection pool with the same proxy and CA settings,
        without the SDK's and requests' per-request layers (about a third of a check-in's CPU,
        bench/profiles/check-in.txt). Retry-After of a 429 is remembered as for any request."""
        self._last.retry_after = None
        session = self.session or Session()
        prepared = PreparedRequest()
        prepared.method = "POST"
        prepared.url = url
        prepared.headers = CaseInsensitiveDict(
            {
                "User-Agent": _USER_AGENT,
                "Accept-Charset": "utf-8",
                "Accept": "application/json",
                "Content-Type": "application/x-www-form-urlencoded",
                "Authorization": _basic(auth),
            }
        )
        prepared.body = urlencode(form, doseq=True)
        prepared.headers["Content-Length"] = str(len(prepared.body))
        prepared.hooks = {"response": []}
        settings = session.merge_environment_settings(url, {}, None, None, None)
        response = session.get_adapter(url).send(
            prepared,
            timeout=self.timeout,
            verify=settings["verify"],
            proxies=settings["proxies"],
            cert=settings["cert"],
            stream=False,
        )
        if response.status_code == 429:
            try:
                self._last.retry_after = float(response.headers.get("Retry-After", ""))
            except ValueError:
                self._last.retry_after = None
        return response


_USER_AGENT = f"twilio-python/{twilio.__version__} (escalations lean form post)"


def _basic(auth: tuple[str, str]) -> str:
    return "Basic " + base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()


def make_client(account_sid: str, auth_token: str, api_base_url: str | None = None, timeout: float = 5.0) -> Client:
    """A Twilio client whose every request gives up after `timeout` seconds to connect and again
    to read, so a hung Twilio never holds a web request or a worker (TWILIO_API_BASE_URL: the
    local simulator)."""
    client = Client(account_sid, auth_token, http_client=HttpClient(timeout=timeout))
    if api_base_url:
        client.api.base_url = api_base_url
    return client


class TwilioGateway:
    retry_delays: tuple[float, ...] = (0.5, 1.0, 2.0)

    def __init__(
        self,
        client: Client,
        caller_id: str,
        throttle: Callable[[], None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.client = client
        self.caller_id = caller_id
        self.throttle = throttle or (lambda: None)
        self.sleep = sleep

    def dial_into_conference(
        self,
        conference: str,
        to: str,
        *,
        label: str,
        status_callback: str,
        conference_status_callback: str,
        timeout: int,
        start_conference_on_enter: bool,
        end_conference_on_exit: bool,
    ) -> Joined:
        """Ring someone straight into a conference (used for agents, who are briefed by screen)."""
        participant = self._do(
            "dial into conference",
            lambda: self.client.conferences(conference).participants.create(
                from_=self.caller_id,
                to=to,
                label=label,
                timeout=timeout,
                beep="false",
                start_conference_on_enter=start_conference_on_enter,
                end_conference_on_exit=end_conference_on_exit,
                status_callback=status_callback,
                status_callback_event=CALL_PROGRESS_EVENTS,
                conference_status_callback=conference_status_callback,
                conference_status_callback_event=CONFERENCE_EVENTS,
            ),
            outbound=True,
        )
        return Joined(call_sid=participant.call_sid, conference_sid=participant.conference_sid)

    def call(
        self, to: str, *, url: str, status_callback: str, timeout: int, machine_detection: str | None = None
    ) -> str:
        """An outbound call that first runs our TwiML (a lead hears the announcement, R-WARM-2);
        with machine detection the TwiML request says who answered (AnsweredBy)."""
        form: dict[str, str | list[str]] = {
            "To": to,
            "From": self.caller_id,
            "Url": url,
            "Method": "POST",
            "Timeout": str(timeout),
            "StatusCallback": status_callback,
            "StatusCallbackEvent": CALL_PROGRESS_EVENTS,
            "StatusCallbackMethod": "POST",
        }
        if machine_detection:
            form["MachineDetection"] = machine_detection
        call = self._do("place call", lambda: self._post("Calls.json", form, "Unable to create record"), outbound=True)
        return str(call["sid"])

    def hold(self, conference_sid: str, call_sid: str, hold_url: str) -> None:
        """Hold one participant, never the whole conference (the lean POST: check-ins make it
        by the thousand)."""
        self._do(
            "hold",
            lambda: self._post(
                f"Conferences/{conference_sid}/Participants/{call_sid}.json",
                {"Hold": "true", "HoldUrl": hold_url, "HoldMethod": "POST"},
            ),
        )

    def _post(
        self, path: str, form: Mapping[str, str | list[str]], failed: str = "Unable to update record"
    ) -> dict[str, Any]:
        """POST a form to the account's `path` (e.g. Calls/CA....json) the lean way
        (HttpClient.post_form) when the client is ours; Twilio's error raised as the SDK raises
        it (TwilioRestException with status and code), so _do treats both the same."""
        http = self.client.http_client
        uri = f"{self.client.api.base_url}/2010-04-01/Accounts/{self.client.account_sid}/{path}"
        if isinstance(http, HttpClient):
            response = http.post_form(uri, form, (self.client.username or "", self.client.password or ""))
        else:
            response = http.request("POST", uri, data=form, auth=self.client.auth)
        if response.status_code < 200 or response.status_code >= 400:
            raise Version.exception("POST", uri, response, failed)
        payload = json.loads(response.text) if response.text else {}
        return payload if isinstance(payload, dict) else {}

    def unhold(self, conference_sid: str, call_sid: str, announce_url: str | None = None) -> None:
        """Off hold; with `announce_url` the participant is first told who they are with."""
        extra = {"announce_url": announce_url, "announce_method": "POST"} if announce_url else {}
        self._do(
            "unhold",
            lambda: self.client.conferences(conference_sid).participants(call_sid).update(hold=False, **extra),
        )

    def announce_to(self, conference_sid: str, call_sid: str, url: str) -> bool:
        """Say something to one participant only; the conference sends `announcement-end`. False
        when the participant had already gone (their call ended, 21220, or they are no longer in
        the conference, 404): nobody to tell, nothing failed."""
        announced = self._do(
            "announce",
            lambda: (
                self.client.conferences(conference_sid)
                .participants(call_sid)
                .update(announce_url=url, announce_method="POST")
            ),
            missing_ok=True,
            gone_ok=True,
        )
        return announced is not None

    def remove_from_conference(self, conference_sid: str, call_sid: str) -> None:
        self._do(
            "remove participant",
            lambda: self.client.conferences(conference_sid).participants(call_sid).delete(),
            missing_ok=True,
        )

    def end_conference(self, conference_sid: str) -> None:
        self._do(
            "end conference",
            lambda: self.client.conferences(conference_sid).update(status="completed"),
            missing_ok=True,
        )

    def hang_up(self, call_sid: str) -> None:
        self._do(
            "hang up",
            lambda: self.client.calls(call_sid).update(status="completed"),
            missing_ok=True,
        )

    def cancel(self, call_sid: str) -> None:
        """Stop ringing someone; a call already answered is hung up instead."""
        try:
            self.client.calls(call_sid).update(status="canceled")
        except TwilioRestException:
            self.hang_up(call_sid)
        except (TwilioException, OSError) as exc:
            raise TelephonyFailure(f"Twilio could not cancel the call: {exc}", transient=True) from exc

    def calls_placed(self, to: str, since: datetime) -> list[tuple[str, str]]:
        """(SID, status) of the calls placed to `to` from our number since `since`: how a dial
        whose answer was lost (the worker died mid-request) is found again, not placed twice."""
        calls = self._do(
            "list calls",
            lambda: self.client.calls.list(to=to, from_=self.caller_id, start_time_after=since, limit=20),
        )
        return [(c.sid, c.status) for c in calls or []]

    def call_status(self, call_sid: str) -> str | None:
        """What Twilio says of a call now (`queued`, `ringing`, `in-progress`, `completed`,
        `busy`, `failed`, `no-answer`, `canceled`); None when Twilio has no such call. The
        reconciler asks it of calls whose status callbacks may have been lost (issue 34)."""
        call = self._do("fetch call", lambda: self.client.calls(call_sid).fetch(), missing_ok=True)
        return None if call is None else str(call.status)

    def redirect(self, call_sid: str, url: str) -> bool:
        """Take a live call to new TwiML (e.g. off a conference hold to a keypad menu). False when
        the call had already ended (Twilio's 21220): nothing to redirect, nothing failed."""
        redirected = self._do(
            "redirect", lambda: self._post(f"Calls/{call_sid}.json", {"Url": url, "Method": "POST"}), gone_ok=True
        )
        return redirected is not None

    def listen_in(
        self, conference_sid: str, to: str, *, coach_call_sid: str | None, status_callback: str, timeout: int
    ) -> str:
        """R-WARM-7: a lead joins a live call muted (monitor), or as a coach heard only by the
        agent (Coaching + CallSidToCoach). No beep on joining or leaving, and never starting or
        ending the conference: the caller hears nothing of it."""
        mode = {"coaching": True, "call_sid_to_coach": coach_call_sid} if coach_call_sid else {"muted": True}
        participant = self._do(
            "listen in",
            lambda: self.client.conferences(conference_sid).participants.create(
                from_=self.caller_id,
                to=to,
                label="listener",
                timeout=timeout,
                beep="false",
                start_conference_on_enter=False,
                end_conference_on_exit=False,
                status_callback=status_callback,
                status_callback_event=CALL_PROGRESS_EVENTS,
                **mode,
            ),
            outbound=True,
        )
        return str(participant.call_sid)

    def set_listening(self, conference_sid: str, call_sid: str, *, coach_call_sid: str | None) -> None:
        """Monitor <-> coach in one update, so there is no moment in which the caller hears the lead."""
        mode = (
            {"coaching": True, "call_sid_to_coach": coach_call_sid, "muted": False}
            if coach_call_sid
            else {"coaching": False, "muted": True}
        )
        self._do(
            "switch listening", lambda: self.client.conferences(conference_sid).participants(call_sid).update(**mode)
        )

    def _retry_after(self) -> float | None:
        http = getattr(self.client, "http_client", None)
        return http.retry_after() if isinstance(http, HttpClient) else None

    def _do(
        self,
        what: str,
        action: Callable[[], Any],
        missing_ok: bool = False,
        outbound: bool = False,
        gone_ok: bool = False,
    ) -> Any:
        """One REST call; Twilio's 429 (too many requests) is retried with back-off, never sooner
        than its Retry-After asks (one longer than RETRY_AFTER_LIMIT_SECONDS gives up), and every
        try of an outbound call takes its own slot of OUTBOUND_CALLS_PER_SECOND (a retry that did
        not went over it: found by tests/chaos). Anything else becomes a TelephonyFailure naming
        what could not be done: `transient` when Twilio was unreachable, timed out or failed
        (worth trying again later), not when it refused this request (a bad number: try someone
        else). With `gone_ok`, a call that has already ended (21220) is "already gone": None, logged
        at info; elsewhere (putting a caller on hold) an ended leg is a failure, never half a step."""
        for delay in (*self.retry_delays, None):
            if outbound:
                self.throttle()
            try:
                return action()
            except TwilioRestException as exc:
                if (missing_ok and exc.status == 404) or (gone_ok and exc.code == CALL_NOT_IN_PROGRESS):
                    log.info("%s: already gone (%s)", what, exc.msg)
                    return None
                asked = self._retry_after() if exc.status == 429 else None
                if exc.status == 429 and delay is not None and (asked or 0) <= RETRY_AFTER_LIMIT_SECONDS:
                    wait = max(delay, asked or 0)
                    log.warning("%s: Twilio says too many requests; again in %.1f s", what, wait)
                    self.sleep(wait)
                    continue
                TWILIO_ERRORS.labels(operation=what, status=str(exc.status)).inc()
                raise TelephonyFailure(
                    f"Twilio refused to {what}: {exc.msg} (HTTP {exc.status}, code {exc.code})",
                    code="telephony_failure",
                    transient=exc.status >= 500 or exc.status == 429,
                ) from exc
            except (TwilioException, OSError) as exc:
                TWILIO_ERRORS.labels(operation=what, status="0").inc()
                raise TelephonyFailure(f"Twilio could not be reached to {what}: {exc}", transient=True) from exc
        raise AssertionError("unreachable")
