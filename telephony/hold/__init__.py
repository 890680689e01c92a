"""The caller on hold (R-HOLD-2..4): a check-in every 2 minutes, never more than 5 minutes without
a way out (`limits`), what a lead who accepted is told while the caller holds and when the call
changes under them (`lead_notice`), and the wording helpers the IVR speaks with (`wording`, pure).
May import the loose core modules, `policy`, `records`, `notify`, the adapters and the pure
`lifecycle`; never the rest of `escalation`, which imports hold."""
