"""The outside world: the only code that talks to Redis (`store`, `timers`, `throttle`,
`auth_failures`, `redis_clock`, `local_redis`), Twilio's REST API (`twilio_gateway`), SMTP
(`mailer`) and the team channel's webhook (`chat_webhook`). Everything above works through these
objects, so a test sees every side effect in one place. Adapters may import `telephony.errors`,
`telephony.metrics`, `telephony.clock`, each other and the pure `telephony.lifecycle`
(value types), never another domain module (escalation, hold, callbacks, notify, records, policy,
console) or `telephony.core`/`telephony.context`."""
