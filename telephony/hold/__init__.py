"""The caller on hold (R-HOLD-2..4): a check-in every 2 minutes, never more than 5 minutes without
a way out (`limits`), and the wording helpers the IVR speaks with (`wording`, pure). May import
the loose core modules, `policy`, `notify`, `escalation.lead_notice` and the adapters."""
