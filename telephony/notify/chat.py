"""What a team channel post looks like on the wire (R-NOTE-1): Slack's incoming webhooks take
`{"text": ...}`; Microsoft Teams' (an Incoming Webhook or a Workflows "when a webhook request is
received" flow) take a message with one Adaptive Card attachment. The first line of a note is
its headline."""

from __future__ import annotations

from typing import Any

ADAPTIVE_CARD = "application/vnd.microsoft.card.adaptive"


def chat_payload(text: str, style: str) -> dict[str, Any]:
    if style != "teams":
        return {"text": text}
    headline, *rest = text.split("\n")
    blocks = [{"type": "TextBlock", "text": headline, "weight": "Bolder", "size": "Medium", "wrap": True}]
    blocks += [{"type": "TextBlock", "text": line, "wrap": True, "spacing": "None"} for line in rest if line]
    return {
        "type": "message",
        "attachments": [
            {
                "contentType": ADAPTIVE_CARD,
                "contentUrl": None,
                "content": {
                    "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                    "type": "AdaptiveCard",
                    "version": "1.2",
                    "body": blocks,
                },
            }
        ],
    }
