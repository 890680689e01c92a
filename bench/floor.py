"""The floor: the least a webhook can cost here. A bare Flask app under the same gunicorn config
that checks X-Twilio-Signature and returns a constant TwiML document of the service's size."""

from __future__ import annotations

import os

from flask import Flask, Response, request
from twilio.request_validator import RequestValidator

app = Flask(__name__)
_validator = RequestValidator(os.environ["TWILIO_AUTH_TOKEN"])
_base = os.environ["PUBLIC_BASE_URL"]
_twiml = os.environ.get("FLOOR_TWIML") or "<Response><Say>x</Say></Response>"


@app.route("/<path:path>", methods=["GET", "POST"])
def answer(path: str):
    query = request.query_string.decode()
    url = f"{_base}/{path}" + (f"?{query}" if query else "")
    if not path.startswith("api/") and not _validator.validate(
        url, request.form, request.headers.get("X-Twilio-Signature", "")
    ):
        return "forbidden", 403
    return Response(_twiml, mimetype="text/xml")
