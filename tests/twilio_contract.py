"""A fake of Twilio's REST API for tests, judged by Twilio's own OpenAPI description
(`tests/twilio/twilio_api_v2010.json`, MIT, with its licence): every request the service sends must name an
operation that exists, use only parameters that operation accepts, and enum values it allows."""

from __future__ import annotations

import json
import os
import re
import secrets
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import responses

API_HOST = "https://api.twilio.com"
_CAN_BE = re.compile(r"Can be: (.*?)(?:\.\s|\.$|$)", re.S)
_TICKED = re.compile(r"`([^`]+)`")


def spec_path() -> Path:
    return Path(os.environ.get("TWILIO_OPENAPI_SPEC") or Path(__file__).parent / "twilio" / "twilio_api_v2010.json")


@dataclass(frozen=True)
class Operation:
    operation_id: str
    method: str
    template: str
    pattern: re.Pattern
    path_params: dict[str, dict]
    body: dict[str, dict]
    required: tuple[str, ...]
    success: int
    response_schema: dict


@dataclass
class TwilioRequest:
    operation_id: str
    method: str
    path: str
    path_params: dict[str, str]
    params: dict[str, list[str]]

    def param(self, name: str) -> str | None:
        values = self.params.get(name)
        return values[0] if values else None


class TwilioSpec:
    def __init__(self, document: dict):
        self.doc = document
        self.operations: list[Operation] = []
        for template, item in document["paths"].items():
            shared = item.get("parameters", [])
            for method in ("get", "post", "delete"):
                op = item.get(method)
                if not op:
                    continue
                params = {p["name"]: p for p in shared + op.get("parameters", [])}
                path_params = {n: self.resolve(p.get("schema", {})) for n, p in params.items() if p["in"] == "path"}
                body_schema = self.resolve(
                    op.get("requestBody", {})
                    .get("content", {})
                    .get("application/x-www-form-urlencoded", {})
                    .get("schema", {})
                )
                body = {n: self.resolve(s) for n, s in body_schema.get("properties", {}).items()}
                for n, p in params.items():
                    if p["in"] == "query":
                        body[n] = self.resolve(p.get("schema", {}))
                codes = sorted(int(c) for c in op.get("responses", {}) if c.isdigit() and c.startswith("2"))
                success = codes[0] if codes else 200
                content = op.get("responses", {}).get(str(success), {}).get("content", {})
                response_schema = self.resolve(content.get("application/json", {}).get("schema", {}))
                regex = "^" + re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template)) + "$"
                self.operations.append(
                    Operation(
                        op["operationId"],
                        method.upper(),
                        template,
                        re.compile(regex),
                        path_params,
                        body,
                        tuple(body_schema.get("required", [])),
                        success,
                        response_schema,
                    )
                )

    @classmethod
    @lru_cache(maxsize=1)
    def load(cls) -> TwilioSpec:
        return cls(json.loads(spec_path().read_text()))

    def resolve(self, schema: dict) -> dict:
        while "$ref" in schema:
            node = self.doc
            for part in schema["$ref"].lstrip("#/").split("/"):
                node = node[part]
            schema = {**node, **{k: v for k, v in schema.items() if k != "$ref"}}
        return schema

    def find(self, method: str, path: str) -> tuple[Operation | None, dict[str, str]]:
        for op in self.operations:
            match = op.pattern.match(path)
            if match and op.method == method:
                return op, match.groupdict()
        return None, {}

    @staticmethod
    def allowed_values(schema: dict) -> list[str] | None:
        """Enum values, from the schema or from the description's "Can be: `a`, `b`"."""
        description = schema.get("description", "")
        if schema.get("type") == "array":
            schema = schema.get("items", {})
        if "enum" in schema:
            return [str(v) for v in schema["enum"]]
        if schema.get("type") not in (None, "string"):
            return None
        match = _CAN_BE.search(schema.get("description") or description)
        values = _TICKED.findall(match.group(1)) if match else []
        return values if len(values) >= 2 else None

    def check(self, op: Operation, path_params: dict[str, str], params: dict[str, list[str]]) -> list[str]:
        errors = []
        for name, value in path_params.items():
            pattern = op.path_params.get(name, {}).get("pattern")
            if pattern and not re.match(pattern, value):
                errors.append(f"{op.operation_id}: path parameter {name}={value!r} does not match {pattern}")
        for name in op.required:
            if name not in params:
                errors.append(f"{op.operation_id}: required parameter {name} is missing")
        for name, values in params.items():
            schema = op.body.get(name)
            if schema is None:
                errors.append(f"{op.operation_id}: unknown parameter {name} (accepted: {', '.join(sorted(op.body))})")
                continue
            if len(values) > 1 and schema.get("type") != "array":
                errors.append(f"{op.operation_id}: {name} given {len(values)} times but is not a list")
            kind = (schema.get("items", {}) if schema.get("type") == "array" else schema).get("type")
            allowed = self.allowed_values(schema)
            for value in values:
                if kind == "boolean" and value not in ("true", "false"):
                    errors.append(f"{op.operation_id}: {name}={value!r} is not a boolean")
                if kind == "integer" and not re.fullmatch(r"-?\d+", value):
                    errors.append(f"{op.operation_id}: {name}={value!r} is not an integer")
                if allowed is not None:
                    words = value.split(" ") if schema.get("type") == "array" else [value]
                    bad = [w for w in words if w not in allowed]
                    if bad:
                        errors.append(f"{op.operation_id}: {name}={value!r} not one of {', '.join(allowed)}")
        return errors


def _sid(prefix: str) -> str:
    return prefix + secrets.token_hex(16)


@dataclass
class FakeTwilioRest:
    """Answers like Twilio for every valid request, records them, and collects violations."""

    spec: TwilioSpec
    violations: list[str] = field(default_factory=list)
    recorded: list[TwilioRequest] = field(default_factory=list)
    conferences: dict[str, str] = field(default_factory=dict)
    failures: dict[str, list[tuple[int, int, str]]] = field(default_factory=dict)
    calls: list[dict] = field(default_factory=list)
    statuses: dict[str, str] = field(default_factory=dict)  # FetchCall: what Twilio says of a call

    def requests(self, operation_id: str | None = None) -> list[TwilioRequest]:
        return [r for r in self.recorded if operation_id is None or r.operation_id == operation_id]

    def fail_next(
        self, operation_id: str, status: int = 429, code: int = 20429, message: str = "Too Many Requests"
    ) -> None:
        self.failures.setdefault(operation_id, []).append((status, code, message))

    def __call__(self, request):
        url = urlparse(request.url)
        body = request.body or ""
        if isinstance(body, bytes):
            body = body.decode()
        params = parse_qs(body, keep_blank_values=True)
        for key, values in parse_qs(url.query, keep_blank_values=True).items():
            params.setdefault(key, []).extend(values)
        op, path_params = self.spec.find(request.method, url.path)
        if op is None:
            self.violations.append(f"no Twilio operation {request.method} {url.path}")
            return self._error(404, 20404, f"The requested resource {url.path} was not found")
        errors = self.spec.check(op, path_params, params)
        if errors:
            self.violations.extend(errors)
            return self._error(400, 21200, "; ".join(errors))
        queued = self.failures.get(op.operation_id)
        if queued:
            status, code, message = queued.pop(0)
            return self._error(status, code, message)
        self.recorded.append(TwilioRequest(op.operation_id, request.method, url.path, path_params, params))
        if op.success == 204:
            return (204, {}, "")
        return (op.success, {"Content-Type": "application/json"}, json.dumps(self._answer(op, path_params, params)))

    def _answer(self, op: Operation, path_params: dict[str, str], params: dict[str, list[str]]) -> dict:
        answer: dict = {name: None for name in op.response_schema.get("properties", {})}
        first = {k: v[0] for k, v in params.items()}
        answer["account_sid"] = path_params.get("AccountSid")
        if op.operation_id == "CreateCall":
            answer.update(
                sid=_sid("CA"),
                to=first.get("To"),
                **{"from": first.get("From")},
                status="queued",
                direction="outbound-api",
            )
            self.calls.append({"sid": answer["sid"], "to": answer["to"], "from": answer["from"], "status": "queued"})
        elif op.operation_id == "ListCall":
            wanted = {k.lower(): v for k, v in first.items() if k in ("To", "From")}
            answer.pop("account_sid")
            answer.update(
                calls=[c for c in reversed(self.calls) if all(c[k] == v for k, v in wanted.items())],
                page=0,
                page_size=50,
                start=0,
                next_page_uri=None,
                previous_page_uri=None,
            )
        elif op.operation_id == "FetchCall":
            answer.update(sid=path_params["Sid"], status=self.statuses.get(path_params["Sid"], "in-progress"))
        elif op.operation_id == "UpdateCall":
            answer.update(sid=path_params["Sid"], status=first.get("Status", "in-progress"))
        elif op.operation_id == "CreateParticipant":
            name = path_params["ConferenceSid"]
            conference = name if name.startswith("CF") else self.conferences.setdefault(name, _sid("CF"))
            answer.update(
                call_sid=_sid("CA"),
                conference_sid=conference,
                label=first.get("Label"),
                hold=False,
                muted=False,
                status="queued",
            )
        elif op.operation_id == "UpdateParticipant":
            answer.update(
                call_sid=path_params["CallSid"],
                conference_sid=path_params["ConferenceSid"],
                hold=first.get("Hold") == "true",
                muted=first.get("Muted") == "true",
                status="connected",
            )
        elif op.operation_id == "UpdateConference":
            answer.update(sid=path_params["Sid"], status=first.get("Status", "in-progress"))
        return answer

    @staticmethod
    def _error(status: int, code: int, message: str):
        body = {
            "code": code,
            "message": message,
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
        }
        return (status, {"Content-Type": "application/json"}, json.dumps(body))


def intercept(mock: responses.RequestsMock, fake: FakeTwilioRest) -> None:
    pattern = re.compile(re.escape(API_HOST) + r"/.*")
    for method in (responses.GET, responses.POST, responses.DELETE):
        mock.add_callback(method, pattern, callback=fake)


class _Forwarded:
    """What FakeTwilioRest reads of a request (method, url, body), from a real HTTP request."""

    def __init__(self, method: str, url: str, body: bytes):
        self.method, self.url, self.body = method, url, body


class TwilioStandIn:
    """A real HTTP server on 127.0.0.1 that answers as FakeTwilioRest (so every request is still
    judged by Twilio's OpenAPI file), or, for the operations in `hang`, takes the request and
    never answers: the service's own timeouts are what end it. For `hang_after_accepting` Twilio
    has done the work (the call is placed and listed) but the answer never comes back. With
    `delay_seconds` every answer is that slow; `arrived` counts the requests as they come in."""

    def __init__(self, fake: FakeTwilioRest):
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.fake = fake
        self.hang: set[str] = set()
        self.hang_after_accepting: set[str] = set()
        self.hung: list[str] = []
        self.delay_seconds = 0.0
        self.arrived = 0
        self.released = threading.Event()
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self):
                stand_in.arrived += 1
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if stand_in.delay_seconds:
                    stand_in.released.wait(stand_in.delay_seconds)
                url = f"{API_HOST}{self.path}"
                op, _ = fake.spec.find(self.command, urlparse(url).path)
                if op is not None and op.operation_id in stand_in.hang:
                    stand_in.hung.append(op.operation_id)
                    stand_in.released.wait(30)
                    return
                status, headers, text = fake(_Forwarded(self.command, url, body))
                if op is not None and op.operation_id in stand_in.hang_after_accepting:
                    stand_in.hung.append(op.operation_id)
                    stand_in.released.wait(30)
                    return
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                data = text.encode() if isinstance(text, str) else text
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_DELETE = _answer

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.released.set()
        self.server.shutdown()
        self.server.server_close()
