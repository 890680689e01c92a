"""What a lead hears before deciding to take a call (R-WARM-2), as plain data: the lead hunt
writes it, the IVR speaks it, so the IVR needs nothing of the hunt itself."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Briefing:
    """What the lead hears before deciding (R-WARM-2). `live` is False if the caller has gone."""

    live: bool
    intro: str = ""
    details: tuple[str, ...] = ()
    prompt: str = ""
