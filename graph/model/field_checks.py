"""Field-level checks of graph documents: text, lists of text, ids, dates and their order.

A `FieldChecker` collects the problems of one document, each naming where it
is (line and path) and what is wrong.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from typing import Any

from graph.model.dates import DATE_FORMS, date_ceiling, date_floor

MAX_STRING_CHARS = 20_000
# Names and aliases are indexed (a range index on name, keyword terms in
# lookup_keys), and Neo4j refuses index entries over about 8 kB.
MAX_NAME_CHARS = 1_000
ID_PATTERN = re.compile(r"^[a-z][a-z-]*:[a-z0-9][a-z0-9._/-]{0,199}$")
_SURROGATE = re.compile("[\ud800-\udfff]")
# The shape of a date only: the day itself is checked next, so 2021-02-30 has
# its own message (graph/model/dates.py DATE_PATTERN checks the ranges too).
DATE_PATTERN = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")


def normalise_whitespace(text: str) -> str:
    return " ".join(text.split())


class FieldChecker:
    """Collects problems for one document; each message says where and what."""

    def __init__(self, origin: str, lines: Mapping[str, int]) -> None:
        self.origin = origin
        self.lines = lines
        self.problems: list[str] = []

    def where(self, path: str) -> str:
        if not self.lines:  # a document that did not come from text (JSON-like data)
            return path or "document"
        line = self.lines.get(path)
        if line is None:
            # Fall back to the nearest enclosing path that has a line.
            parent = path
            while parent and line is None:
                shorter = re.sub(r"(\.[^.\[]*|\[\d+\])$", "", parent)
                # A top-level key ("claims") has no parent: stop rather than loop.
                parent = shorter if shorter != parent else ""
                line = self.lines.get(parent)
        if line is None:
            return path or "document"
        return f"line {line}: {path}" if path else f"line {line}"

    def add(self, path: str, message: str) -> None:
        self.problems.append(f"{self.where(path)}: {message}")

    def text(
        self, value: Any, path: str, required: bool = True, limit: int = MAX_STRING_CHARS
    ) -> str | None:
        # The checks are ordered and written for the common case (ASCII text, well
        # within the limit): a bulk load checks millions of strings.
        if type(value) is str:
            text = value
        elif value is None:
            if required:
                self.add(path, "is required")
            return None
        elif isinstance(value, bool) or not isinstance(value, (str, int, float)):
            self.add(path, f"must be text, not {type(value).__name__}")
            return None
        else:
            text = str(value)
        if required and (not text or text.isspace()):  # nothing but whitespace
            self.add(path, "must not be empty")
            return None
        if len(text) > limit:
            self.add(path, f"is {len(text)} characters long, over the limit of {limit}")
            return None
        surrogate = None if text.isascii() else _SURROGATE.search(text)
        if surrogate:
            # YAML's "\ud83d" escapes decode to lone surrogates, which no UTF-8 text holds.
            self.add(
                path,
                f"contains the lone surrogate \\u{ord(surrogate.group()):04x}; "
                "write the character itself",
            )
            return None
        return text

    def text_list(self, value: Any, path: str, limit: int = MAX_STRING_CHARS) -> list[str]:
        if value is None:
            return []
        if not isinstance(value, list):
            self.add(path, "must be a list of text")
            return []
        out = []
        for index, item in enumerate(value):
            text = self.text(item, f"{path}[{index}]", limit=limit)
            if text is not None:
                out.append(text)
        return out

    def date(self, value: Any, path: str) -> str | None:
        if value is None:
            return None
        if isinstance(value, dt.date):
            return value.isoformat()
        text = str(value) if isinstance(value, (str, int)) and not isinstance(value, bool) else None
        if text is None or not DATE_PATTERN.match(text):
            self.add(path, f"{value!r} is not a date ({DATE_FORMS})")
            return None
        parts = [int(part) for part in text.split("-")]
        try:
            dt.date(parts[0], parts[1] if len(parts) > 1 else 1, parts[2] if len(parts) > 2 else 1)
        except ValueError as error:
            self.add(path, f"{text!r} is not a real date ({error})")
            return None
        return text

    def ordered(self, item_path: str, start: tuple[str, Any], end: tuple[str, Any]) -> None:
        """Problem at item_path.<end key> when the start date is after the end date."""
        (start_key, start_value), (end_key, end_value) = start, end
        if start_value and end_value and date_floor(start_value) > date_ceiling(end_value):
            self.add(
                f"{item_path}.{end_key}",
                f"{start_key} {start_value} is after {end_key} {end_value}",
            )

    def identifier(self, value: Any, path: str) -> str | None:
        text = self.text(value, path)
        if text is None:
            return None
        if not ID_PATTERN.match(text):
            self.add(path, f"{text!r} is not an id (kind:slug in lower case, e.g. actor:apt31)")
            return None
        return text

    def unknown_keys(self, item: Mapping[str, Any], allowed: AbstractSet[str], path: str) -> None:
        for key in item:
            if key not in allowed:
                self.add(
                    f"{path}.{key}", f"unknown key {key!r} (allowed: {', '.join(sorted(allowed))})"
                )

    def property_value(self, value: Any, path: str) -> Any:
        """A label property: a date, text, a number, a truth value or a list of text."""
        if isinstance(value, dt.date):
            return value.isoformat()
        if isinstance(value, (str, int, float, bool)):
            return self.text(value, path) if isinstance(value, str) else value
        if isinstance(value, list):
            return self.text_list(value, path)
        self.add(path, f"must be text, a number or a list of text, not {type(value).__name__}")
        return None
