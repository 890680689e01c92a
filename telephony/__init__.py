"""The core: the escalation procedures as state machines, knowing nothing of Flask. By capability:
`escalation` (intake, warm transfer, lead hunt), `hold`, `callbacks`, `notify`, `records`,
`policy` (the procedure as data), `console` (what staff screens read) and `adapters` (the only
code that talks to Redis, Twilio and SMTP). Loose here: the wiring (`core`, `context`), settings
(`config`), and small shared pieces (errors, clock, urls, logs, metrics, numbers, request models).
The rules are checked by import-linter (pyproject.toml) in `make test`."""
