"""Read by gunicorn from the working directory (scripts/run.sh). Threaded workers, so the
console's server-sent event streams (each open for up to 15 s, then the browser reconnects with
Last-Event-ID) never take a whole worker away from Twilio's webhooks and the API; they take at
most 8 of the 16 threads (routes/console.py, STREAMS_PER_PROCESS), and no request waits more than
1 s on Redis (telephony/adapters/store/connection.py), so a slow Redis never fills the threads."""

import os

worker_class = "gthread"
threads = int(os.environ.get("WEB_THREADS", "16"))
