"""Telling people (R-NOTE-1..6): team channel posts and direct notes (`notifier`, `chat` for the
wire format), the managers' urgent email (`manager_email`), the agent's early warning
(`early_warning`), red flags matched (`red_flags`, pure) and raised (`red_flag_alerts`), and
promises made on the call kept as tasks (`follow_through`). Every note is stored before it is
sent. May import the loose core modules, `policy` and the adapters."""
