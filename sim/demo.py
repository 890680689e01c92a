"""`make demo`: play a simulated escalation call end to end with no Twilio account, printing what
each person hears and does as it happens.

    python -m sim.demo [--scenario escalation|agent-drops|callback|hold-limit] [--policy FILE]
                       [--fast | --speed N] [--exit-after-scenario] [--chaos] [--requests]
                       [--twilio-faults SHARE]

The cast comes from the policy file (its first agent, the people its tiers ring), so every
policy in policies/ plays.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

from sim.experience import check as check_experience
from sim.rest import RestFaults
from sim.runner import Simulation
from sim.scenarios import DEFAULT_POLICY, SCENARIOS
from telephony.policy.errors import PolicyError
from telephony.policy.loading import load_policy


class _closing:
    def __init__(self, sim: Simulation):
        self.sim = sim

    def __enter__(self) -> Simulation:
        return self.sim

    def __exit__(self, *exc) -> None:
        self.sim.__exit__(*exc)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="make demo ARGS=", description="Play an escalated call through the local Twilio simulator."
    )
    parser.add_argument("--scenario", choices=sorted(SCENARIOS), default="escalation")
    parser.add_argument("--policy", type=Path, default=DEFAULT_POLICY)
    parser.add_argument("--fast", action="store_true", help="virtual clock: the whole call in a few seconds")
    parser.add_argument("--speed", type=float, default=1.0, help="with no --fast: how many times faster than real time")
    parser.add_argument("--exit-after-scenario", action="store_true", help="do not stay up serving the API afterwards")
    parser.add_argument("--chaos", action="store_true", help="deliver status callbacks duplicated and out of order")
    parser.add_argument("--requests", action="store_true", help="also print every webhook and REST request")
    parser.add_argument(
        "--twilio-faults",
        type=float,
        default=0.0,
        metavar="SHARE",
        help="answer this share (0-1) of REST requests with 500, 429 + Retry-After or a hang (sim/rest.py)",
    )
    parser.add_argument("--port", type=int, default=5000, help="where the service listens (127.0.0.1)")
    parser.add_argument(
        "--organisations",
        action="store_true",
        help="two organisations on one deployment, their callers ringing at once (issue 17)",
    )
    args = parser.parse_args(argv)
    if args.organisations:
        from sim.organisations_demo import play

        os.environ.setdefault("LOG_FORMAT", "text")
        os.environ.setdefault("LOG_LEVEL", "WARNING")
        return play(fast=args.fast, port=args.port)

    os.environ.setdefault("LOG_FORMAT", "text")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    logging.getLogger("rq").setLevel(logging.WARNING)
    try:
        policy = load_policy(args.policy)
        scenario = SCENARIOS[args.scenario](policy)
    except (OSError, PolicyError) as exc:
        print(f"cannot start the demo: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:
        print(f"cannot start the demo: {exc}", file=sys.stderr)
        return 2
    except (IndexError, KeyError) as exc:
        print(f"cannot start the demo: {args.policy} has nobody to play this scenario ({exc!r})", file=sys.stderr)
        return 2
    print(f"Scenario '{scenario.name}': {scenario.about}")
    print(f"Policy: {args.policy}   clock: {'virtual (fast)' if args.fast else f'{args.speed:g}x real time'}")
    print(
        "API sign-in tokens (Authorization: Bearer <token>): "
        + ", ".join(f"{p.token} ({p.role})" for p in scenario.people if p.token)
        + "\n"
    )
    with tempfile.TemporaryDirectory(prefix="escalations-demo-") as tmp:
        sim = Simulation(
            scenario.people,
            args.policy,
            Path(tmp),
            live=True,
            speed=None if args.fast else args.speed,
            chaos=args.chaos,
            service_port=args.port,
            start=scenario.start,
            rest_faults=RestFaults(fraction=args.twilio_faults, hang_seconds=6.0) if args.twilio_faults else None,
        )
        sim.transcript.show_requests = args.requests
        try:
            sim.__enter__()
        except OSError as exc:
            print(f'cannot start the demo: {exc} (is port {args.port} busy? try ARGS="--port 5055")', file=sys.stderr)
            return 2
        with _closing(sim):
            print_sign_in(sim)
            sim.world.incoming_call(scenario.caller, after=1)
            print(sim.play_out(scenario.seconds))
            experience = check_experience(sim.transcript, scenario.people, policy)
            problems = scenario.check(sim) + [f"simulator: {e}" for e in sim.world.errors] + experience.problems
            print()
            print("\n".join(experience.lines()))
            for esc in sim.escalations():
                print(f"Escalation {esc['id']}: {esc['state']} (tier {esc['tier']}, assignee {esc['assignee']})")
                print(
                    f"  CRM note (GET /api/escalations/{esc['id']}/record): {sim.core.records.build(esc['id'])['crm_note']}"
                )
            for cb in sim.callbacks():
                print(
                    f"Callback {cb['id']}: {cb['status']} to {cb['number']}, window {cb['window_start']} to {cb['window_end']}"
                )
            for mail in sim.emails():
                print(
                    f"Email (urgent, {mail.message['Importance']} importance) to {mail.message['To']}: "
                    f"{mail.message['Subject']!r}, taken by the loopback SMTP server"
                )
            if problems:
                print("\nThe scenario did NOT go as the procedure says:")
                for problem in problems:
                    print(f"  - {problem}")
                return 1
            print("\nThe scenario went as the procedure says.")
            if not args.exit_after_scenario and sys.stdin.isatty():
                print(f"The service and its console stay up at {sim.base}/ (API under /api); Ctrl-C to stop.")
                try:
                    while True:
                        time.sleep(1)
                except KeyboardInterrupt:
                    pass
    return 0


def print_sign_in(sim: Simulation) -> None:
    """The console plays along: open it and sign in as anyone in the cast to watch the call move."""
    print(f"Console: {sim.base}/ (sign in with one of the tokens above; the board follows the call)\n")


if __name__ == "__main__":
    sys.exit(main())
