"""The two policies' figures side by side (GET /api/reports' figures, telephony/reports/figures.py):
one row per number with the difference, as a text table and as a PNG. Pure apart from writing
the PNG file."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from telephony.records.facts import _hold_rounds, _holds

Number = int | float | None


@dataclass(frozen=True)
class Row:
    figure: str
    key: str
    current: Number
    changed: Number

    @property
    def difference(self) -> Number:
        if self.current is None or self.changed is None:
            return None
        return round(self.changed - self.current, 4)


def _flat(key: str, value: Any) -> list[tuple[str, Number]]:
    """Numbers only, nested keys joined with ':' (lists, such as escalation ids, are left out)."""
    if isinstance(value, dict):
        return [pair for k, v in value.items() for pair in _flat(f"{key}:{k}", v)]
    if value is None or (isinstance(value, int | float) and not isinstance(value, bool)):
        return [(key, value)]
    return []


def _numbers(body: dict[str, Any]) -> dict[tuple[str, str], Number]:
    out: dict[tuple[str, str], Number] = {}
    for figure, values in body.items():
        if not isinstance(values, dict):
            continue
        for key, value in values.items():
            if key != "requirement":
                out |= {(figure, k): v for k, v in _flat(key, value)}
    return out


def side_by_side(current: dict[str, Any], changed: dict[str, Any]) -> list[Row]:
    """Every number of either report, in the current report's order (a kind or tier only one
    of them has counts 0 in the other)."""
    ours, theirs = _numbers(current), _numbers(changed)
    keys = list(ours) + [k for k in theirs if k not in ours]
    counted = ("by_kind:", "by_tier:", "days:")
    rows = []
    for key in keys:
        zero: Number = 0 if key[1].startswith(counted) else None
        rows.append(Row(key[0], key[1], ours.get(key, zero), theirs.get(key, zero)))
    return rows


def _cell(value: Number) -> str:
    if value is None:
        return "-"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:g}"
    return str(int(value)) if isinstance(value, float) else str(value)


def as_text(rows: list[Row], current_name: str, changed_name: str) -> str:
    """An aligned table: figure, key, current, changed, difference (+ for more)."""
    head = ("figure", "key", current_name, changed_name, "difference")
    cells = [head]
    for row in rows:
        diff = row.difference
        sign = "+" if isinstance(diff, int | float) and diff > 0 else ""
        cells.append((row.figure, row.key, _cell(row.current), _cell(row.changed), sign + _cell(diff)))
    widths = [max(len(c[i]) for c in cells) for i in range(len(head))]
    lines = [
        "  ".join(c[i].ljust(widths[i]) if i < 2 else c[i].rjust(widths[i]) for i in range(len(head))) for c in cells
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def hold_seconds(records: Iterable[dict[str, Any]]) -> list[float]:
    """Each hold's length, measured exactly as the reports measure it (their hold rounds)."""
    return [held for record in records for held in _holds(_hold_rounds(record.get("timeline") or []))]


def plot(
    path: Path,
    current: tuple[str, list[dict[str, Any]], dict[str, Any]],
    changed: tuple[str, list[dict[str, Any]], dict[str, Any]],
) -> Path:
    """A PNG: each hold's length in order (with each policy's hold limit), and the headline counts.
    `current` and `changed` are (name, records, figures)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (holds, counts) = plt.subplots(1, 2, figsize=(12, 4.5))
    for (name, records, body), colour in ((current, "tab:blue"), (changed, "tab:orange")):
        lengths = sorted(hold_seconds(records))
        holds.plot(
            [s / 60 for s in lengths], range(1, len(lengths) + 1), drawstyle="steps-post", label=name, color=colour
        )
        holds.axvline(body["hold"]["limit_seconds"] / 60, color=colour, linestyle=":", linewidth=1)
    holds.set_xlabel("minutes on hold (dotted: the policy's hold limit)")
    holds.set_ylabel("holds at most this long")
    holds.set_title("Holds, shortest to longest")
    holds.legend()
    labels = ["escalations", "taken", "holds over limit", "callbacks booked", "callbacks reached"]

    def headline(body: dict[str, Any]) -> list[float]:
        tiers = body["escalations"]["by_tier"]
        cb = body["callbacks"]
        taken = sum(v for k, v in tiers.items() if k != "not taken")
        return [
            body["escalations"]["count"],
            taken,
            body["hold"]["over_limit"],
            cb["booked"],
            cb["reached_in_window"] + cb["reached_late"],
        ]

    at = range(len(labels))
    counts.bar([x - 0.2 for x in at], headline(current[2]), width=0.4, label=current[0], color="tab:blue")
    counts.bar([x + 0.2 for x in at], headline(changed[2]), width=0.4, label=changed[0], color="tab:orange")
    counts.set_xticks(list(at), labels, rotation=20)
    counts.set_title("Counts")
    counts.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
