"""People: each person's presence, claimed atomically for one leg so two escalations never ring
the same lead at once, and failed sign-ins counted per client address."""

from __future__ import annotations

from telephony.adapters.store import keys
from telephony.adapters.store.base import text
from telephony.adapters.store.changes import ChangeStream


class PeopleStore(ChangeStream):
    def presence(self, person_id: str, default: str) -> str:
        value = self.r.get(self.k.presence(person_id))
        return text(value) if value else default

    def set_presence(self, person_id: str, presence: str) -> None:
        self.r.set(self.k.presence(person_id), presence)
        self.changed("presence", person_id)

    def claim_person(self, person_id: str, default_presence: str, holder: str) -> bool:
        """Atomically take an available person for one leg, so two escalations never ring the
        same lead at once."""
        person = [self.k.presence(person_id), self.k.holder(person_id)]
        claimed = bool(self._claim(keys=person, args=[holder, default_presence]) == 1)
        if claimed:
            self.changed("presence", person_id)
        return claimed

    def anyone_available(self, people: list[tuple[str, str]]) -> bool:
        """Whether any of these (person, default presence) is free to be rung now, in one round
        trip: a webhook's promise that a worker is about to ring one (the claim happens there)."""
        if not people:
            return False
        values = self.r.mget([self.k.presence(person_id) for person_id, _ in people])
        defaults = [default for _, default in people]
        return any(
            (text(value) if value else default) == "available" for value, default in zip(values, defaults, strict=True)
        )

    def release_person(self, person_id: str, holder: str) -> bool:
        person = [self.k.presence(person_id), self.k.holder(person_id)]
        released = bool(self._release(keys=person, args=[holder]) == 1)
        if released:
            self.changed("presence", person_id)
        return released

    def count_auth_failure(self, client: str, window_seconds: int) -> int:
        """One more failed sign-in or bearer token from this address in the current window."""
        return int(self._count_failure(keys=[keys.auth_failures(client)], args=[window_seconds]))

    def auth_failures(self, client: str, limit: int) -> tuple[int, int]:
        """(failures in the current window, seconds until it ends). Almost every request comes
        from an address with none: one GET, and the window's TTL only once the limit is reached."""
        key = keys.auth_failures(client)
        count = int(self.r.get(key) or 0)
        return count, (max(int(self.r.ttl(key)), 1) if count >= limit else 0)
