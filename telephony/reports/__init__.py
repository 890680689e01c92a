"""Managers' numbers (GET /api/reports): figures over the escalation records archive for a range
of days, each naming the requirement it checks. Reads records only through
telephony.records (never the live keys or Redis directly); knows nothing of Flask."""
