"""The core: escalation procedures as state machines, knowing nothing of Flask."""
