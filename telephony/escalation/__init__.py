"""The escalation itself, in the procedures' order: its life as states, triggers and one
transition table (`lifecycle`, pure), the caller's way in (`intake`), the warm transfer to a lead
(`warm_transfer`, never cold), the hunt for a free lead tier by tier (`lead_hunt`), listen-in and
coach (`listen_in`), the case it becomes (`case_routing`) and the abusive-caller warnings
(`warning_protocol`). May import the loose core modules, `policy`, `hold`, `notify`, `records`
and the adapters; never `callbacks`, `console`, `what_if`, `telephony.core`, Flask, `routes`,
`ivr` or `workers` (the layers in pyproject.toml)."""
