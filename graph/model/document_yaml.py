"""Graph documents as text: reading a seed file, size limits, and YAML parsed safely.

`parse_yaml` refuses aliases and deep nesting, keeps dates as text, and indexes
the line of every path (entities[2].label → 14) so that problems can name it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from graph.errors import ValidationError

MAX_DOCUMENT_BYTES = 5 * 1024 * 1024
MAX_DEPTH = 12


class _RefusedYAML(Exception):
    """YAML that parses but that graph documents refuse (aliases, deep nesting)."""

    def __init__(self, problem: str, event: Any) -> None:
        super().__init__(problem)
        mark = event.start_mark
        self.message = f"line {mark.line + 1}, column {mark.column + 1}: {problem}"


def _as_text(loader: yaml.SafeLoader, node: yaml.Node) -> str:
    return str(loader.construct_scalar(node))  # type: ignore[arg-type]


class _DocumentLoader(yaml.SafeLoader):
    """SafeLoader for graph documents.

    - refuses aliases (no billion-laughs expansion) and nesting deeper than MAX_DEPTH
      while composing, before anything is expanded or recursed into;
    - keeps dates as text (validated later, so 2021-02-30 is a clear problem, not a crash).
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()  # type: ignore[no-untyped-call]
        if isinstance(event, yaml.AliasEvent):
            raise _RefusedYAML("YAML aliases (*name) are not allowed in graph documents", event)
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise _RefusedYAML(f"nested deeper than {MAX_DEPTH} levels", event)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


_DocumentLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if not tag.endswith(":timestamp")]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_DocumentLoader.add_constructor("tag:yaml.org,2002:timestamp", _as_text)


def _line_index(node: yaml.Node, path: str, lines: dict[str, int], problems: list[str]) -> None:
    """Remember the line of every path (entities[2].label → 14); note duplicate keys."""
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value)
            child = f"{path}.{key}" if path else key
            line = key_node.start_mark.line + 1
            if key in seen:
                problems.append(
                    f"line {line}: {child}: duplicate key {key!r} (first on line {seen[key]})"
                )
                continue
            seen[key] = line
            _line_index(value_node, child, lines, problems)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _line_index(item, f"{path}[{index}]", lines, problems)


def parse_yaml(text: str, origin: str) -> tuple[Any, dict[str, int]]:
    """YAML text → plain data and a path → line index. Errors name origin and line."""
    size = len(text.encode("utf-8", errors="replace"))
    if size > MAX_DOCUMENT_BYTES:
        raise ValidationError(origin, [_too_large(size)])
    if "\x00" in text:
        line = text.count("\n", 0, text.index("\x00")) + 1
        raise ValidationError(origin, [f"line {line}: document contains a NUL byte"])
    try:
        # The reader refuses control characters as it is built: inside the try.
        loader = _DocumentLoader(text)
    except yaml.reader.ReaderError as error:
        line = text.count("\n", 0, error.position) + 1
        raise ValidationError(
            origin, [f"line {line}: character #x{error.character:04x} is not allowed in YAML"]
        ) from None
    try:
        node = loader.get_single_node()
        if node is None:
            raise ValidationError(origin, ["document is empty (no YAML content)"])
        lines: dict[str, int] = {}
        problems: list[str] = []
        _line_index(node, "", lines, problems)
        if problems:
            raise ValidationError(origin, problems)
        data = loader.construct_document(node)
    except _RefusedYAML as error:
        raise ValidationError(origin, [error.message]) from None
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        what = error.problem or error.context
        raise ValidationError(origin, [f"{where}invalid YAML: {what}"]) from None
    except yaml.YAMLError as error:
        raise ValidationError(origin, [f"invalid YAML: {error}"]) from None
    except RecursionError:  # pragma: no cover - the depth limit comes first
        raise ValidationError(origin, [f"nested deeper than {MAX_DEPTH} levels"]) from None
    finally:
        loader.dispose()
    return data, lines


def _too_large(size: int) -> str:
    return (
        f"document is {size} bytes, over the limit of {MAX_DOCUMENT_BYTES} bytes "
        f"({MAX_DOCUMENT_BYTES // (1024 * 1024)} MB); split it into several files"
    )


def read_document_file(path: Path) -> str:
    """A seed file's text; non-UTF-8, unreadable and oversized files are ValidationErrors."""
    origin = str(path)
    try:
        size = path.stat().st_size
        if size > MAX_DOCUMENT_BYTES:
            raise ValidationError(origin, [_too_large(size)])
        raw = path.read_bytes()
    except OSError as error:
        raise ValidationError(origin, [f"cannot read file: {error.strerror}"]) from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw.count(b"\n", 0, error.start) + 1
        column = error.start - raw.rfind(b"\n", 0, error.start)
        raise ValidationError(
            origin,
            [
                f"line {line}, column {column}: not UTF-8 text (byte 0x{raw[error.start]:02x}); "
                "save the file as UTF-8"
            ],
        ) from None
