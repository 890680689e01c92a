"""Callbacks (R-CB-1..8): taking one from the caller inside the callback window (`capture`),
making it, lead first and claimed once per attempt (`dialler`), and the booked callbacks leads
see, cancel and reschedule (`booked`). May import the loose core modules, `policy`, `hold`,
`notify`, `records` and the adapters; never Flask, `routes`, `ivr` or `workers`."""
