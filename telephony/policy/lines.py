"""Where in a policy file's text a key is set, so an error can name the line a manager edits
(issue 35: `people[5].role` is the sixth `[[people]]` entry's `role`, not the first's).

TOML keeps no positions once parsed, so the text is read line by line as TOML lays it out: table
headers (`[a.b]`, and `[[a.b]]` counted per parent, the way the parsed arrays are indexed), keys
(dotted ones too) and the values that run on over several lines (arrays, multi-line strings),
whose lines are not keys. Pure: no file is read here."""

from __future__ import annotations

import re

Path = tuple[str | int, ...]


def line_of(text: str, key: str) -> int | None:
    """The line where `key` (as PolicyError names it: `people[5].role`) is set; else the line of
    the nearest enclosing table or key that is written (an index into an inline array, a missing
    key's table); None when none of it is written (a missing table)."""
    said = _positions(text)
    path = key_path(key)
    while path:
        if path in said:
            return said[path]
        path = path[:-1]
    return None


def key_path(key: str) -> Path:
    """'case_routing.rules[2].tags' -> ('case_routing', 'rules', 2, 'tags')."""
    path: list[str | int] = []
    for part in key.split("."):
        name, *indexes = re.split(r"\[(\d+)\]", part.strip())
        if name:
            path.append(name.strip('"'))
        path.extend(int(i) for i in indexes if i)
    return tuple(path)


def _positions(text: str) -> dict[Path, int]:
    """Every table header, array-of-tables entry and key written in `text`, by its full path,
    with the line it is first written on."""
    said: dict[Path, int] = {}
    entries: dict[Path, int] = {}  # an array of tables' path -> the index of its latest entry
    table: Path = ()
    scanner = _ValueScanner()
    for n, raw in enumerate(text.splitlines(), start=1):
        if scanner.open:
            scanner.feed(raw)
            continue
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        header = re.match(r"(\[\[?)\s*(.+?)\s*(\]\]?)\s*(#.*)?$", line)
        if header and line.startswith("["):
            names = _dotted(header.group(2))
            if header.group(1) == "[[":
                parent = _resolve(names[:-1], entries)
                array = (*parent, names[-1])
                entries[array] = entries.get(array, -1) + 1
                said.setdefault(array, n)
                table = (*array, entries[array])
            else:
                table = _resolve(names, entries)
            said.setdefault(table, n)
            continue
        name, equals, value = _split_key(line)
        if not equals:
            continue
        said.setdefault((*table, *_dotted(name)), n)
        scanner.feed(value)
    return said


def _resolve(names: list[str], entries: dict[Path, int]) -> Path:
    """A header's names as a path, each array of tables in it standing for its latest entry."""
    path: Path = ()
    for name in names:
        path = (*path, name)
        if path in entries:
            path = (*path, entries[path])
    return path


def _dotted(key: str) -> list[str]:
    """'a."b.c" . d' -> ['a', 'b.c', 'd']."""
    return [dq or sq or bare for dq, sq, bare in re.findall(r'"([^"]*)"|\'([^\']*)\'|([^."\'\s]+)', key)]


def _split_key(line: str) -> tuple[str, bool, str]:
    """A key/value line split at its first `=` outside quotes."""
    quote = ""
    for i, char in enumerate(line):
        if quote:
            quote = "" if char == quote else quote
        elif char in "\"'":
            quote = char
        elif char == "=":
            return line[:i], True, line[i + 1 :]
    return line, False, ""


class _ValueScanner:
    """Follows a value across lines: open while inside an array, inline table or multi-line string."""

    def __init__(self) -> None:
        self.depth = 0
        self.string = ""  # the delimiter of the multi-line string we are inside, if any

    @property
    def open(self) -> bool:
        return self.depth > 0 or bool(self.string)

    def feed(self, text: str) -> None:
        i = 0
        while i < len(text):
            if self.string:
                if text.startswith(self.string, i):
                    i += 3
                    self.string = ""
                    continue
                i += 2 if text[i] == "\\" and self.string == '"""' else 1
                continue
            char = text[i]
            if text.startswith('"""', i) or text.startswith("'''", i):
                self.string = text[i : i + 3]
                i += 3
            elif char in "\"'":
                end = _string_end(text, i)
                i = end + 1
            elif char == "#":
                return
            else:
                if char in "[{":
                    self.depth += 1
                elif char in "]}":
                    self.depth = max(0, self.depth - 1)
                i += 1


def _string_end(text: str, start: int) -> int:
    """The index of the quote closing the one-line string opened at `start`."""
    quote = text[start]
    i = start + 1
    while i < len(text):
        if quote == '"' and text[i] == "\\":
            i += 2
            continue
        if text[i] == quote:
            return i
        i += 1
    return len(text)
