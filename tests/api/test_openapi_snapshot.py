"""The outside interface does not move by accident (issue 16): `/api/openapi.json` must equal the
saved snapshot. A deliberate change to the API rewrites the snapshot in the same commit
(`UPDATE_SNAPSHOTS=1 make test`) and says so in docs/api.md."""

from __future__ import annotations

import json
import os
from pathlib import Path

SNAPSHOT = Path(__file__).parent.parent / "snapshots" / "openapi.json"


def test_openapi_document_matches_the_saved_snapshot(harness):
    doc = harness.client.get("/api/openapi.json").json
    text = json.dumps(doc, indent=2, sort_keys=True) + "\n"
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        SNAPSHOT.write_text(text)
    saved = json.loads(SNAPSHOT.read_text())
    assert doc == saved, "the API document changed; if on purpose, UPDATE_SNAPSHOTS=1 and document it"
