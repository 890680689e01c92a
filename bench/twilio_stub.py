"""A Twilio REST stand-in for the benchmarks: answers Calls and Participants requests at once with
Twilio-shaped JSON (the SIDs the service stores), on 127.0.0.1."""

from __future__ import annotations

import json
import re
import secrets
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        """A client that went away with its kept-alive connection (a work horse ending, wrk
        stopping) resets it: not an error worth a traceback."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class TwilioStub:
    def __init__(self) -> None:
        self.requests = 0
        self.connections = 0  # TCP connections accepted: with keep-alive, about one per client thread
        # Called with (path, form, when it arrived) for every POST that creates a call, after it
        # is answered: the dialler benchmark watches the dial requests arrive here.
        self.on_create_call = None
        # Called with (path, form, when it arrived) for every other POST (a check-in's hold, a
        # limit's redirect): the timers benchmark watches those arrive here.
        self.on_update = None
        stub = self

        class Handler(BaseHTTPRequestHandler):
            # As Twilio does: HTTP/1.1, the connection kept open for the client's next request
            # (http.server's default, HTTP/1.0, closes it after every answer, so every REST
            # call paid for a new connection: issue 19). Every answer says its length. With
            # the connection kept, the body written after the headers would wait for the
            # client's delayed ACK (Nagle, 40 ms a request): no Nagle.
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def setup(self):
                stub.connections += 1
                super().setup()

            def _answer(self):
                stub.requests += 1
                arrived = time.time()
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self._reply()
                # As Twilio does: the call is placed (answered at once), and what happens on it
                # (the bench's lead taking it) comes after, not inside the REST request.
                if stub.on_create_call and self.command == "POST" and self.path.endswith("/Calls.json"):
                    stub.on_create_call(self.path, dict(parse_qsl(body.decode())), arrived)
                elif stub.on_update and self.command == "POST":
                    stub.on_update(self.path, dict(parse_qsl(body.decode())), arrived)

            def _reply(self):
                if self.command == "DELETE":
                    self.send_response(204)
                    self.end_headers()
                    return
                sid = "CA" + secrets.token_hex(16)
                body = json.dumps(
                    {"sid": sid, "call_sid": sid, "conference_sid": "CF" + secrets.token_hex(16), "status": "queued"}
                ).encode()
                self.send_response(201 if self.command == "POST" and self.path.endswith("s.json") else 200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                self.wfile.flush()

            do_GET = do_POST = do_DELETE = _answer

            def log_message(self, *args):
                pass

        self.server = _Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def capacity(self, seconds: int) -> float:
        """Requests/s this stand-in answers on its own (`wrk -t2 -c8`, nothing else in the way):
        what the dialler's dials/s are measured against in the same run."""
        out = subprocess.run(
            ["wrk", "-t2", "-c8", f"-d{seconds}s", f"{self.url}/2010-04-01/Accounts/AC0/Calls.json"],
            capture_output=True,
            text=True,
            timeout=seconds + 60,
        ).stdout
        found = re.search(r"Requests/sec:\s+([\d.]+)", out)
        return float(found.group(1)) if found else float("nan")

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
