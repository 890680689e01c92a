#!/usr/bin/env bash
# Serve real Twilio traffic: gunicorn (webhooks, API, console), RQ workers (jobs), the scheduler
# (timers) and, with REDIS_URL unset, a private append-only redis-server: all under supervisord,
# each restarted when it exits. Ctrl-C stops everything, the private Redis too.
# Settings come from the environment (or .env): PORT (8000), BIND (0.0.0.0:$PORT), WEB_WORKERS (2),
# RQ_WORKERS (2), LOCAL_REDIS_PORT (a free one). With REDIS_SENTINELS set, Redis is found through them.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -f .env ]; then set -a; . ./.env; set +a; fi
PY=.venv/bin/python
export APP_DIR="$PWD" VENV="$PWD/.venv" RUN_DIR="$PWD/var/run"
export BIND="${BIND:-0.0.0.0:${PORT:-8000}}" WEB_WORKERS="${WEB_WORKERS:-2}" RQ_WORKERS="${RQ_WORKERS:-2}"
mkdir -p "$RUN_DIR"

port_free() { "$PY" -c "import socket,sys; h,_,p=sys.argv[1].rpartition(':'); s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind((h or '0.0.0.0', int(p)))" "$1" 2>/dev/null; }

if ! port_free "$BIND"; then
  echo "cannot start: $BIND is already in use (set PORT or BIND)" >&2; exit 2
fi
if [ -n "${REDIS_SENTINELS:-}" ]; then
  export PRIVATE_REDIS=false LOCAL_REDIS_PORT=0 LOCAL_REDIS_DIR="$PWD/var/redis"   # the sentinels name the master
elif [ -z "${REDIS_URL:-}" ]; then
  export PRIVATE_REDIS=true LOCAL_REDIS_DIR="$PWD/var/redis"
  mkdir -p "$LOCAL_REDIS_DIR"
  if [ -n "${LOCAL_REDIS_PORT:-}" ]; then
    port_free "127.0.0.1:$LOCAL_REDIS_PORT" || { echo "cannot start: LOCAL_REDIS_PORT $LOCAL_REDIS_PORT is already in use" >&2; exit 2; }
  else
    LOCAL_REDIS_PORT=$("$PY" -c "from telephony.adapters.local_redis import free_port; print(free_port())")
  fi
  export LOCAL_REDIS_PORT REDIS_URL="redis://127.0.0.1:$LOCAL_REDIS_PORT/0"
else
  export PRIVATE_REDIS=false LOCAL_REDIS_PORT=0 LOCAL_REDIS_DIR="$PWD/var/redis"
fi
"$PY" wsgi.py --check   # a bad setting or policy: one line, exit 2
if [ -n "${PROMETHEUS_MULTIPROC_DIR:-}" ]; then rm -rf "$PROMETHEUS_MULTIPROC_DIR"; mkdir -p "$PROMETHEUS_MULTIPROC_DIR"; fi
echo "serving on $BIND with $WEB_WORKERS web and $RQ_WORKERS RQ workers; Redis ${REDIS_URL:-through the sentinels $REDIS_SENTINELS}$([ "$PRIVATE_REDIS" = true ] && echo ' (private, var/redis)')"
exec .venv/bin/supervisord -c deploy/supervisord.conf
