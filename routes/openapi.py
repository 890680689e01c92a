"""The agent and lead API as OpenAPI 3.0, served at /api/openapi.json (CONTRACT.md)."""

_ERROR = {"$ref": "#/components/schemas/Error"}


def _resp(description: str, schema: dict | None = None) -> dict:
    body = {"description": description}
    if schema:
        body["content"] = {"application/json": {"schema": schema}}
    return body


_ERRORS = {
    "400": _resp("Bad body or query: which field and why", _ERROR),
    "401": _resp("No valid bearer token", _ERROR),
    "403": _resp("This role may not do this", _ERROR),
}

OPENAPI = {
    "openapi": "3.0.3",
    "info": {"title": "Escalated calls: agent and lead API", "version": "1.0.0"},
    "components": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        "schemas": {
            "Error": {
                "type": "object",
                "required": ["error", "message"],
                "properties": {"error": {"type": "string"}, "message": {"type": "string"}},
            },
            "EscalationRequest": {
                "type": "object",
                "required": ["call_sid", "kind", "reason"],
                "properties": {
                    "call_sid": {"type": "string", "pattern": "^CA[0-9a-fA-F]{32}$"},
                    "kind": {
                        "type": "string",
                        "enum": [
                            "manager_request",
                            "supervisor_demanded",
                            "formal_complaint",
                            "abusive",
                            "no_authority",
                        ],
                    },
                    "reason": {"type": "string"},
                    "client": {
                        "type": "object",
                        "properties": {
                            k: {"type": "string"}
                            for k in ("name", "account", "link", "segment", "region", "contact_name")
                        },
                    },
                    "resolution_offered": {"type": "string"},
                    "caller_agreed_to_hold": {"type": "boolean"},
                    "idempotency_key": {"type": "string"},
                },
            },
            "Escalation": {
                "type": "object",
                "properties": {
                    "id": {"type": "string"},
                    "call_sid": {"type": "string"},
                    "kind": {"type": "string"},
                    "state": {
                        "type": "string",
                        "enum": [
                            "dialing_lead",
                            "briefing",
                            "connected",
                            "callback_scheduled",
                            "resolved",
                            "abandoned",
                            "failed",
                        ],
                    },
                    "tier": {"type": "string", "nullable": True},
                    "assignee": {"type": "string", "nullable": True},
                    "created_at": {"type": "string", "format": "date-time"},
                    "hold_started_at": {"type": "string", "nullable": True},
                    "callback": {"type": "object", "nullable": True},
                    "timeline": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {
                                "at": {"type": "string"},
                                "event": {"type": "string"},
                                "detail": {"type": "string"},
                            },
                        },
                    },
                },
            },
        },
    },
    "security": [{"bearer": []}],
    "paths": {
        "/api/escalations": {
            "post": {
                "summary": "The agent presses escalate: hold the caller, ring the tier (R-WARM, R-ESC)",
                "requestBody": {
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/EscalationRequest"}}}
                },
                "responses": {
                    "201": _resp(
                        "The escalation (a repeated idempotency_key returns the same one)",
                        {"$ref": "#/components/schemas/Escalation"},
                    ),
                    **_ERRORS,
                    "404": _resp("Unknown or finished call", _ERROR),
                    "409": _resp("The call already has an open escalation, or is not with an agent yet", _ERROR),
                    "502": _resp("Twilio refused; nothing was changed", _ERROR),
                },
            },
            "get": {
                "summary": "Escalations, optionally in one state",
                "parameters": [{"name": "state", "in": "query", "schema": {"type": "string"}}],
                "responses": {"200": _resp("{escalations: [...]}"), **_ERRORS},
            },
        },
        "/api/escalations/{id}": {
            "get": {
                "summary": "State and timeline of one escalation",
                "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}],
                "responses": {
                    "200": _resp("The escalation", {"$ref": "#/components/schemas/Escalation"}),
                    **_ERRORS,
                    "404": _resp("No such escalation", _ERROR),
                },
            }
        },
        "/api/escalations/{id}/connect": {
            "post": {
                "summary": "Bring the caller off hold to the briefed lead; the agent leaves unless stay_to_introduce (R-WARM-4)",
                "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}],
                "requestBody": {
                    "content": {
                        "application/json": {
                            "schema": {"type": "object", "properties": {"stay_to_introduce": {"type": "boolean"}}}
                        }
                    }
                },
                "responses": {
                    "200": _resp("The escalation, now connected", {"$ref": "#/components/schemas/Escalation"}),
                    **_ERRORS,
                    "404": _resp("No such escalation", _ERROR),
                    "409": _resp("No lead has accepted yet", _ERROR),
                    "502": _resp("Twilio refused; the caller is still on hold with the lead briefed", _ERROR),
                },
            }
        },
        "/api/callbacks": {
            "get": {
                "summary": "Callbacks, optionally with one status (R-CB)",
                "parameters": [{"name": "status", "in": "query", "schema": {"type": "string"}}],
                "responses": {"200": _resp("{callbacks: [...]}"), **_ERRORS},
            }
        },
        "/api/callbacks/{id}/cancel": {
            "post": {
                "summary": "A lead cancels a callback",
                "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}],
                "responses": {
                    "200": _resp("The callback"),
                    **_ERRORS,
                    "404": _resp("No such callback", _ERROR),
                    "409": _resp("Already made or cancelled", _ERROR),
                },
            }
        },
        "/api/callbacks/{id}/reschedule": {
            "post": {
                "summary": "A lead moves a callback to a new window (ISO 8601 with offset)",
                "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}],
                "requestBody": {
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["window_start", "window_end"],
                                "properties": {
                                    "window_start": {"type": "string", "format": "date-time"},
                                    "window_end": {"type": "string", "format": "date-time"},
                                },
                            }
                        }
                    }
                },
                "responses": {
                    "200": _resp("The callback"),
                    **_ERRORS,
                    "404": _resp("No such callback", _ERROR),
                    "409": _resp("Already made or cancelled", _ERROR),
                },
            }
        },
        "/api/calls": {
            "get": {
                "summary": "Live calls: an agent sees their own, leads and above see all",
                "responses": {"200": _resp("{calls: [...]}"), **_ERRORS},
            }
        },
        "/api/people/{id}/presence": {
            "put": {
                "summary": "Set presence (available, busy, offline); an agent coming available takes the longest-waiting caller",
                "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}],
                "requestBody": {
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "properties": {
                                    "presence": {"type": "string", "enum": ["available", "busy", "offline"]}
                                },
                            }
                        }
                    }
                },
                "responses": {"200": _resp("The person's presence"), **_ERRORS, "404": _resp("No such person", _ERROR)},
            }
        },
        "/api/console": {
            "get": {
                "summary": "The console's state: who is signed in, the service's clock (now), the hold check-in "
                "and limit, people and their presence, the optional features this API has, whether the softphone is on",
                "responses": {"200": _resp("{now, me, hold, people, features, softphone}"), **_ERRORS},
            }
        },
        "/api/events": {
            "get": {
                "summary": "Server-sent events (text/event-stream): one 'change' event {kind, id} per change to an "
                "escalation, callback, call or presence; send Last-Event-ID to replay what a reconnect missed",
                "parameters": [
                    {"name": "Last-Event-ID", "in": "header", "required": False, "schema": {"type": "string"}}
                ],
                "responses": {
                    "200": {"description": "An event stream", "content": {"text/event-stream": {}}},
                    **_ERRORS,
                },
            }
        },
        "/api/voice-token": {
            "post": {
                "summary": "A short-lived Twilio Voice SDK access token for the signed-in person's client: identity",
                "responses": {
                    "200": _resp("{token, identity, ttl}"),
                    **_ERRORS,
                    "409": _resp("This person is not reached at a client: endpoint", _ERROR),
                    "503": _resp("softphone offline (no Twilio API key set)", _ERROR),
                },
            }
        },
        "/api/openapi.json": {
            "get": {"summary": "This document", "security": [], "responses": {"200": _resp("OpenAPI 3.0")}}
        },
    },
}
