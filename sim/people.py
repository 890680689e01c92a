"""Scripted people: who answers, after how long, what they press or say, when they hang up, and
what an agent does in their softphone."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Reply:
    """What a person does at a prompt: press digits or say words, if the prompt contains `heard`."""

    digits: str = ""
    speech: str = ""
    heard: str = ""
    after: float = 1.0


@dataclass
class Talk:
    """Something a caller says to the person they are talking with, `after` seconds from the
    moment they first hear someone (their agent): heard by the live transcription, if any."""

    text: str
    after: float = 5.0


@dataclass
class AgentStep:
    """An agent's softphone action: `escalate` or `connect` (API calls), `warn`,
    `act_on_warnings`, `note` (an agent's note on the call), or `hang_up`; or, with `by` (a person's id), a lead's console button on the
    agent's call: `listen`, `coach`, `stop_listening`. `when` is `joined` (the agent is with the
    caller) or `lead_joined` (a lead is in the room)."""

    do: str
    when: str = "joined"
    after: float = 10.0
    body: dict = field(default_factory=dict)
    by: str = ""


@dataclass
class Person:
    name: str
    role: str
    endpoint: str
    answer_after: float | None = 4.0
    answers: list[float | None] = field(default_factory=list)
    busy: bool = False
    machine: bool = False
    replies: list[Reply] = field(default_factory=list)
    hang_up_after: float | None = None
    token: str = ""
    steps: list[AgentStep] = field(default_factory=list)
    voicemail: str = ""
    id: str = ""
    talk: list[Talk] = field(default_factory=list)

    def next_answer(self) -> float | None:
        """How long this ring takes to be answered (None: never): per call if scripted so."""
        return self.answers.pop(0) if self.answers else self.answer_after

    def reply_to(self, prompt: str) -> Reply | None:
        """The first unused reply that fits this prompt; each is used once."""
        for reply in self.replies:
            if not reply.heard or reply.heard.lower() in prompt.lower():
                self.replies.remove(reply)
                return reply
        return None
