"""Follow-through (R-NOTE-6, seed 000): "always follow through - if you say you are going to email
them after the call or that you are going to open a ticket for them, do these things
immediately." A promise made on the call becomes a task: its owner is the agent who made it, it
is due by a time (the policy's `follow_through.due_minutes` unless the agent gives one), and it
belongs to the call and its escalation. A task still open at its due time is flagged to the
owner's leader, once."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import AwareDatetime, Field

from telephony.adapters.timers import job_id
from telephony.clock import iso
from telephony.commands import TaskOverdue
from telephony.config import ApiToken
from telephony.context import Context, new_id
from telephony.errors import Conflict, Forbidden, InvalidRequest, NotFound
from telephony.escalation_request import RequiredText300, StrictModel, parse
from telephony.notify.notifier import Notifier

TASK_KINDS = ("email", "ticket", "callback", "other")
TASK_STATUSES = ("open", "done")


class TaskRequest(StrictModel):
    """POST /api/tasks: the agent has promised the caller something."""

    call_sid: str = Field(pattern=r"^CA[0-9a-fA-F]{32}$", description="the call the promise was made on")
    kind: Literal["email", "ticket", "callback", "other"] = Field(description="what was promised")
    title: RequiredText300 = Field(description="the promise, in the agent's words")
    due_at: AwareDatetime | None = Field(
        None, strict=False, description="ISO 8601 with offset; unset: follow_through.due_minutes from now"
    )
    escalation_id: str | None = Field(
        None, pattern=r"^[A-Za-z0-9_-]{1,80}$", description="unset: the call's open escalation, if any"
    )


class FollowThrough:
    def __init__(self, ctx: Context, notifier: Notifier):
        self.ctx = ctx
        self.notify = notifier

    def create(self, actor: ApiToken, body: Any) -> dict[str, Any]:
        req = parse(TaskRequest, body)
        call = self.ctx.caller_call(req.call_sid)
        if actor.role == "agent" and call.get("agent_id") != actor.person_id:
            raise Forbidden(
                "A task is made by the agent who made the promise, on their own call.", code="not_your_call"
            )
        esc_id = req.escalation_id or self.ctx.store.open_escalation_id(req.call_sid) or ""
        if req.escalation_id:
            esc = self.ctx.store.escalation(req.escalation_id)
            if esc is None:
                raise NotFound(f"No escalation {req.escalation_id}.", code="escalation_not_found")
            if esc.get("call_sid") != req.call_sid:
                raise InvalidRequest(
                    f"Escalation {req.escalation_id} is not of call {req.call_sid}.",
                    code="invalid_field",
                    field="escalation_id",
                )
        now = self.ctx.clock.now()
        due = req.due_at or now + timedelta(minutes=self.ctx.policy.follow_through.due_minutes)
        if due <= now:
            raise InvalidRequest(
                "'due_at' is in the past: a promise is due from now on.", code="invalid_field", field="due_at"
            )
        task_id = new_id("task")
        fields = {
            "id": task_id,
            "owner": actor.person_id,
            "kind": req.kind,
            "title": req.title,
            "call_sid": req.call_sid,
            "escalation_id": esc_id,
            "created_at": self.ctx.now_iso(),
            "due_at": iso(due) or "",
            "status": "open",
        }
        self.ctx.store.save_task(task_id, fields, now.timestamp())
        self.ctx.timers.at(due, TaskOverdue(task_id), key=job_id("task_overdue", task_id))
        if esc_id:
            self.ctx.store.add_event(
                esc_id,
                self.ctx.event("task_created", f"{req.kind}: {req.title} ({actor.person_id}, due {fields['due_at']})"),
            )
        return self.view(task_id)

    def list(self, actor: ApiToken, status: str | None = None) -> list[dict[str, Any]]:
        """Mine; a lead or supervisor also sees the tasks of the people they lead; a manager all."""
        tasks = [self.ctx.store.task(i) or {} for i in self.ctx.store.task_ids()]
        shown = [t for t in tasks if t and self.visible(actor, t) and (not status or t.get("status") == status)]
        return [self.view(t["id"]) for t in sorted(shown, key=lambda t: t.get("due_at", ""))]

    def done(self, actor: ApiToken, task_id: str) -> dict[str, Any]:
        task = self.ctx.store.task(task_id)
        if task is None:
            raise NotFound(f"No task {task_id}.", code="task_not_found")
        if not self.visible(actor, task):
            raise Forbidden("Only the task's owner, or their leader, may mark it done.", code="not_your_task")
        if not self.ctx.store.finish_task(task_id, done_at=self.ctx.now_iso(), done_by=actor.person_id):
            raise Conflict(f"Task {task_id} is done already.", code="already_done")
        if task.get("escalation_id"):
            self.ctx.store.add_event(
                task["escalation_id"],
                self.ctx.event("task_done", f"{task['kind']}: {task['title']} ({actor.person_id})"),
            )
        return self.view(task_id)

    def overdue(self, task_id: str) -> bool:
        """The due time passed with the task open: its owner's leader is told, once (R-NOTE-6)."""
        task = self.ctx.store.task(task_id)
        if task is None or task.get("status") != "open" or task.get("overdue_flagged_at"):
            return False
        if not self.ctx.store.flag_task_overdue(task_id, self.ctx.now_iso()):
            return False
        owner = task["owner"]
        text = (
            f"Overdue follow-through: {self.ctx.name(owner)} promised the caller '{task['title']}' ({task['kind']}), "
            f"due {task['due_at']}, and it is not done."
        )
        for leader in self.ctx.policy.leaders_of(owner):
            self.notify.person(leader.id, task.get("escalation_id", ""), text)
        if task.get("escalation_id"):
            self.ctx.store.add_event(
                task["escalation_id"], self.ctx.event("task_overdue", f"{task['title']} ({owner})")
            )
        return True

    def visible(self, actor: ApiToken, task: dict[str, str]) -> bool:
        owner = task.get("owner", "")
        if actor.role == "manager" or owner == actor.person_id:
            return True
        if actor.role == "agent":
            return False
        return any(p.id == actor.person_id for p in self.ctx.policy.leaders_of(owner))

    def view(self, task_id: str) -> dict[str, Any]:
        task = self.ctx.store.task(task_id)
        if task is None:
            raise NotFound(f"No task {task_id}.", code="task_not_found")
        overdue = task["status"] == "open" and datetime.fromisoformat(task["due_at"]) <= self.ctx.clock.now()
        return {
            "id": task["id"],
            "owner": task["owner"],
            "kind": task["kind"],
            "title": task["title"],
            "call_sid": task["call_sid"],
            "escalation_id": task.get("escalation_id") or None,
            "created_at": task["created_at"],
            "due_at": task["due_at"],
            "status": task["status"],
            "overdue": overdue,
            "overdue_flagged_at": task.get("overdue_flagged_at") or None,
            "done_at": task.get("done_at") or None,
            "done_by": task.get("done_by") or None,
        }
