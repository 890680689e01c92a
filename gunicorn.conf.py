"""Read by gunicorn from the working directory (scripts/run.sh). Threaded workers, so the
console's server-sent event streams (each open for up to 15 s, then the browser reconnects with
Last-Event-ID) never take a whole worker away from Twilio's webhooks and the API."""

import os

worker_class = "gthread"
threads = int(os.environ.get("WEB_THREADS", "16"))
