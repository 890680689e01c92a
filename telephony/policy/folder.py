"""Several organisations on one deployment (issue 17): every policy file in POLICIES_DIR, each
naming the numbers that reach it. Checked as a whole before anything serves: two files claiming
one number or one organisation id stop start-up (and a reload) with one line naming both."""

from __future__ import annotations

from pathlib import Path

from telephony.policy.errors import PolicyError
from telephony.policy.loading import Policy, load_policy


def load_policies(folder: Path) -> list[Policy]:
    """Every *.toml in `folder`, in name order; PolicyError for the first bad file or clash."""
    files = sorted(p for p in Path(folder).glob("*.toml") if p.is_file())
    if not files:
        raise PolicyError(str(folder), "-", "holds no policy file (*.toml)")
    policies = [load_policy(f) for f in files]
    check_together(policies)
    return policies


def check_together(policies: list[Policy]) -> None:
    """One organisation per id and per number, and with several organisations every one names
    its numbers: a call's `To` is how the service knows whose caller it is."""
    ids: dict[str, Policy] = {}
    owners: dict[str, Policy] = {}
    for policy in policies:
        twin = ids.setdefault(policy.organisation_id, policy)
        if twin is not policy:
            raise PolicyError(
                policy.file, "organisation.id", f"{policy.organisation_id!r} is also the id of {twin.file}"
            )
        for number in policy.numbers:
            owner = owners.setdefault(number, policy)
            if owner is not policy:
                raise PolicyError(policy.file, "organisation.numbers", f"{number} is also claimed by {owner.file}")
    if len(policies) > 1:
        for policy in policies:
            if not policy.numbers:
                raise PolicyError(
                    policy.file,
                    "organisation.numbers",
                    "is empty: with several organisations each names the numbers its callers dial",
                )


def check_beside(policy: Policy, others: list[Policy]) -> None:
    """One organisation's file, reloaded by its manager, checked beside the others serving
    (issue 35): its id and numbers its own. The others are not named: they are other customers."""
    for other in others:
        if other.organisation_id == policy.organisation_id:
            raise PolicyError(
                policy.file,
                "organisation.id",
                f"{policy.organisation_id!r} is another organisation's on this deployment",
            )
        for number in policy.numbers:
            if number in other.numbers:
                raise PolicyError(
                    policy.file, "organisation.numbers", f"{number} is another organisation's number on this deployment"
                )
    if others and not policy.numbers:
        raise PolicyError(
            policy.file,
            "organisation.numbers",
            "is empty: with several organisations each names the numbers its callers dial",
        )
