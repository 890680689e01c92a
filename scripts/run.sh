#!/usr/bin/env bash
# Serve real Twilio traffic: gunicorn for the webhooks and the API, an RQ worker with the
# scheduler for everything timed. Settings come from the environment (or .env).
# With REDIS_URL unset a private redis-server (append-only, under var/redis) is started.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -f .env ]; then set -a; . ./.env; set +a; fi
if [ -z "${REDIS_URL:-}" ]; then
  mkdir -p var/redis
  port="${LOCAL_REDIS_PORT:-6390}"
  redis-server --bind 127.0.0.1 --port "$port" --dir "$PWD/var/redis" --appendonly yes \
    --daemonize yes --pidfile "$PWD/var/redis/redis.pid" --logfile "$PWD/var/redis/redis.log"
  export REDIS_URL="redis://127.0.0.1:$port/0"
fi
.venv/bin/python -c "import wsgi"   # one line naming a bad setting, then exit 2
.venv/bin/rq worker --with-scheduler --url "$REDIS_URL" escalations &
worker=$!
trap 'kill $worker 2>/dev/null || true' EXIT
.venv/bin/gunicorn --preload --bind "${BIND:-0.0.0.0:${PORT:-8000}}" --workers "${WEB_WORKERS:-2}" --timeout 20 wsgi:app
