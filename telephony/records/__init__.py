"""What is kept (R-NOTE-3): the escalation record archived when an escalation ends
(`escalation_record`), the agent's call notes (`call_notes`), purging finished escalations from
live state (`retention`), phone numbers masked below lead (`masking`) and the days a records or
reports query asks for (`days`), and the case an escalation became as kept on it (`case`). May
import the loose core modules, `policy`, `notify`, the adapters and the pure `lifecycle`;
never the rest of `escalation`, `hold` or `callbacks`, which import records."""
