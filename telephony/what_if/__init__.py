"""The what-if replay's pure part (docs/what-if.md): the day of calls to replay, from the escalation
records or generated (`day`), and the two policies' figures side by side (`compare`). Driving
the replay through the simulator is sim/replay.py's; the core never imports sim."""
