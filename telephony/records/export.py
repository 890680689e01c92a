"""The export's formats (GET /api/records, R-NOTE-3): CSV a spreadsheet opens safely and JSON,
both streamed a record at a time, and what an agent may see of a record (numbers masked)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from typing import Any

from telephony.logs import mask_numbers

# A spreadsheet runs a cell that starts with one of these as a formula (OWASP: CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

CSV_COLUMNS = (
    "id",
    "created_at",
    "organisation",
    "kind",
    "state",
    "finished",
    "caller_name",
    "contact_name",
    "account",
    "contact_number",
    "segment",
    "region",
    "client_link",
    "agent",
    "taken_by",
    "taken_by_role",
    "reason",
    "deescalation_steps",
    "resolution_offered",
    "what_happened",
    "callback_number",
    "callback_time_frame",
    "callback_window_start",
    "callback_window_end",
    "callback_deadline",
    "callback_status",
    "case_department",
    "case_owner",
    "case_status",
    "tags",
    "early_warning",
    "crm_note",
    "updated_at",
)


def neutralise(cell: str) -> str:
    """A cell a spreadsheet would run as a formula is kept as text: a leading apostrophe."""
    return f"'{cell}" if cell.startswith(FORMULA_STARTS) else cell


def masked(value: Any) -> Any:
    """Every phone number in a record down to its last four digits (for agents)."""
    if isinstance(value, str):
        return mask_numbers(value)
    if isinstance(value, list):
        return [masked(v) for v in value]
    if isinstance(value, dict):
        return {k: masked(v) for k, v in value.items()}
    return value


def cell_text(value: Any) -> str:
    return ", ".join(str(v) for v in value) if isinstance(value, list) else str(value)


def csv_lines(records: Iterator[dict[str, Any]]) -> Iterator[str]:
    """A header row, then one row per record; lists are one item a line; every cell that would
    start a formula is neutralised."""
    out = io.StringIO()
    writer = csv.writer(out)

    def row(cells: Iterable[Any]) -> str:
        writer.writerow(cells)
        text = out.getvalue()
        out.seek(0)
        out.truncate()
        return text

    yield row(CSV_COLUMNS)
    for record in records:
        cells = []
        for column in CSV_COLUMNS:
            value = record.get(column)
            if isinstance(value, list):
                value = "\n".join(str(v) for v in value)
            elif isinstance(value, dict):
                value = "; ".join(f"{k}: {cell_text(v)}" for k, v in value.items() if v)
            elif isinstance(value, bool):
                value = "yes" if value else "no"
            cells.append(neutralise("" if value is None else str(value)))
        yield row(cells)


def json_pieces(head: dict[str, str], records: Iterator[dict[str, Any]]) -> Iterator[str]:
    """{"from", "to", "time_zone", "records": [...]}, one record a piece."""
    yield json.dumps(head)[:-1] + ', "records": ['
    for n, record in enumerate(records):
        yield ("," if n else "") + json.dumps(record)
    yield "]}"
