"""Issue 35 item 1: a policy error names the line a manager edits, counting the entries of an
array of tables (`[[people]]`, `[[case_routing.rules]]`) as the key's index does."""

from __future__ import annotations

import pytest

from telephony.policy.errors import PolicyError
from telephony.policy.lines import line_of
from telephony.policy.loading import load_policy
from tests.support import ROOT

SEED_001 = ROOT / "policies" / "seed-001-tech-support.toml"


def written(text: str, start: str, nth: int) -> int:
    """The line of the nth (0-based) line starting with `start`."""
    return [n for n, ln in enumerate(text.splitlines(), 1) if ln.startswith(start)][nth]


@pytest.mark.parametrize(
    "key, start, nth",
    [
        ("case_routing.rules[0].owner", "owner = ", 1),
        ("case_routing.rules[2].owner", "owner = ", 3),
        ("case_routing.rules[1].tags", "tags = ", 3),
        ("case_routing.owner", "owner = ", 0),
        ("people[0].role", "role = ", 0),
        ("people[3].endpoint", "endpoint = ", 3),
    ],
)
def test_a_key_repeated_across_entries_is_found_at_its_own_entry_R_ESC_8(key, start, nth):
    text = SEED_001.read_text()
    assert line_of(text, key) == written(text, start, nth)


def test_an_index_into_an_array_value_or_a_missing_key_falls_back_to_what_is_written():
    text = SEED_001.read_text()
    assert line_of(text, "red_flags.phrases[3]") == written(text, "phrases = [", 0), "the array's own line"
    assert line_of(text, "case_routing.rules[1].not_written") == written(text, "[[case_routing.rules]]", 1)
    assert line_of(text, "no_such_table.key") is None


def test_continued_values_and_quoted_keys_are_not_read_as_keys():
    text = '[hold]\nmessage = """\nrole = 1\n[[people]]\n"""\nlist = [\n  "a", # role = 2\n]\n"quoted" = 3\n[[people]]\nrole = "agent"\n'
    assert line_of(text, "people[0].role") == 11
    assert line_of(text, "hold.list") == 6
    assert line_of(text, "hold.quoted") == 9 and line_of(text, "hold.unwritten") == 1


def test_a_file_that_fails_its_checks_says_the_line(tmp_path):
    text = SEED_001.read_text()
    owner = written(text, "owner = ", 3)
    lines = text.splitlines()
    lines[owner - 1] = 'owner = "nobody"'
    bad = tmp_path / "bad.toml"
    bad.write_text("\n".join(lines) + "\n")
    with pytest.raises(PolicyError) as error:
        load_policy(bad)
    assert (error.value.key, error.value.line) == ("case_routing.rules[2].owner", owner)
