"""Graph documents: the seed-file format, parsed and validated against the model.

A document (a seed file, an `ingest` mutation, an importer's output) is
checked completely before anything is written: every problem is collected
with where it is (file, line, path) and reported at once, and nothing is
written when there is any. See seed/README.md for the format.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from graph import likelihood as phia
from graph.errors import ValidationError
from graph.model import CLAIM_TYPES, LABELS, RELATION_TYPES, lookup_key, relation_id

FORMAT = "threatgraph-seed/1"
MAX_DOCUMENT_BYTES = 5 * 1024 * 1024
MAX_STRING_CHARS = 20_000
MAX_DEPTH = 12
ID_PATTERN = re.compile(r"^[a-z][a-z-]*:[a-z0-9][a-z0-9._/-]{0,199}$")
DATE_PATTERN = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")

SOURCE_KEYS = {
    "id",
    "name",
    "url",
    "publisher",
    "published",
    "text_file",
    "description",
    "aliases",
    "title",
}
ENTITY_KEYS = {"id", "label", "name", "aliases", "description"}
CLAIM_KEYS = {
    "from",
    "relation",
    "to",
    "likelihood",
    "assessed_by",
    "quote",
    "sources",
    "valid_from",
    "valid_to",
}
TOP_KEYS = {"format", "source", "entities", "claims"}


@dataclass(frozen=True)
class EntityRecord:
    id: str
    label: str
    name: str
    aliases: tuple[str, ...]
    description: str
    properties: Mapping[str, Any]

    def lookup_keys(self) -> list[str]:
        keys = {lookup_key(self.id), lookup_key(self.name)}
        keys.update(lookup_key(alias) for alias in self.aliases)
        return sorted(keys)

    def row(self) -> dict[str, Any]:
        props = {
            "name": self.name,
            "aliases": list(self.aliases),
            "description": self.description,
            "lookup_keys": self.lookup_keys(),
            **self.properties,
        }
        return {"id": self.id, "label": self.label, "props": props}


@dataclass(frozen=True)
class ClaimRecord:
    from_id: str
    relation: str
    to_id: str
    likelihood: phia.Likelihood
    sources: tuple[str, ...]
    quote: str | None
    assessed_by: str | None
    valid_from: str | None
    valid_to: str | None

    @property
    def source(self) -> str:
        """The source whose claim this is (the first cited): part of the claim's identity."""
        return self.sources[0]

    @property
    def id(self) -> str:
        return relation_id(self.from_id, self.relation, self.to_id, self.source)

    def row(self) -> dict[str, Any]:
        props: dict[str, Any] = {
            "id": self.id,
            "source": self.source,
            "likelihood": self.likelihood.value,
            "likelihood_rank": self.likelihood.rank,
            "sources": list(self.sources),
            "quote": self.quote,
            "assessed_by": self.assessed_by,
            "valid_from": self.valid_from,
            "valid_to": self.valid_to,
        }
        return {
            "id": self.id,
            "from": self.from_id,
            "to": self.to_id,
            "type": self.relation,
            "props": props,
        }


@dataclass
class GraphDocument:
    """A validated document, ready to write. `unresolved` ids must exist in the graph."""

    origin: str
    source_id: str | None
    entities: list[EntityRecord]
    claims: list[ClaimRecord]
    unresolved: dict[str, list[str]] = field(default_factory=dict)

    def declared_ids(self) -> set[str]:
        return {entity.id for entity in self.entities}


class _NoAliasLoader(yaml.SafeLoader):
    """SafeLoader that refuses anchors and aliases (no billion-laughs expansion)."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]
            raise yaml.constructor.ConstructorError(
                None,
                None,
                "YAML aliases (*name) are not allowed in graph documents",
                event.start_mark,
            )
        node = super().compose_node(parent, index)
        return node


def _line_index(node: yaml.Node, path: str, lines: dict[str, int], depth: int = 0) -> None:
    """Remember the line of every path (entities[2].label → 14) for error messages."""
    lines[path] = node.start_mark.line + 1
    if depth > MAX_DEPTH:
        raise ValidationError(
            path or "document", [f"line {lines[path]}: nested deeper than {MAX_DEPTH} levels"]
        )
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = str(key_node.value)
            _line_index(value_node, f"{path}.{key}" if path else key, lines, depth + 1)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _line_index(item, f"{path}[{index}]", lines, depth + 1)


def parse_yaml(text: str, origin: str) -> tuple[Any, dict[str, int]]:
    """YAML text → plain data and a path → line index. Errors name origin and line."""
    if len(text.encode("utf-8", errors="replace")) > MAX_DOCUMENT_BYTES:
        raise ValidationError(
            origin,
            [
                f"document is larger than {MAX_DOCUMENT_BYTES // (1024 * 1024)} MB; split it into several files"
            ],
        )
    if "\x00" in text:
        raise ValidationError(origin, ["document contains a NUL byte"])
    loader = _NoAliasLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            raise ValidationError(origin, ["document is empty"])
        lines: dict[str, int] = {}
        _line_index(node, "", lines)
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise ValidationError(
            origin, [f"{where}invalid YAML: {error.problem or error.context}"]
        ) from None
    except yaml.YAMLError as error:
        raise ValidationError(origin, [f"invalid YAML: {error}"]) from None
    finally:
        loader.dispose()
    return data, lines


def read_document_file(path: Path) -> str:
    """A seed file's text; non-UTF-8, unreadable and oversized files are ValidationErrors."""
    origin = str(path)
    try:
        size = path.stat().st_size
    except OSError as error:
        raise ValidationError(origin, [f"cannot read file: {error.strerror}"]) from None
    if size > MAX_DOCUMENT_BYTES:
        raise ValidationError(
            origin,
            [
                f"file is {size} bytes, over the {MAX_DOCUMENT_BYTES} byte limit; split it into several files"
            ],
        )
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ValidationError(
            origin, [f"not UTF-8 text (byte {error.start}: {raw[error.start : error.start + 1]!r})"]
        ) from None


def normalise_whitespace(text: str) -> str:
    return " ".join(text.split())


class _Checker:
    """Collects problems for one document; each message says where and what."""

    def __init__(self, origin: str, lines: Mapping[str, int]) -> None:
        self.origin = origin
        self.lines = lines
        self.problems: list[str] = []

    def where(self, path: str) -> str:
        line = self.lines.get(path)
        if line is None:
            # Fall back to the nearest enclosing path that has a line.
            parent = path
            while parent and line is None:
                parent = re.sub(r"(\.[^.\[]*|\[\d+\])$", "", parent)
                line = self.lines.get(parent)
        return f"line {line}: {path}" if line is not None else path

    def add(self, path: str, message: str) -> None:
        self.problems.append(f"{self.where(path)}: {message}")

    def text(self, value: Any, path: str, required: bool = True) -> str | None:
        if value is None:
            if required:
                self.add(path, "is required")
            return None
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            self.add(path, f"must be text, not {type(value).__name__}")
            return None
        text = str(value)
        if required and not text.strip():
            self.add(path, "must not be empty")
            return None
        if len(text) > MAX_STRING_CHARS:
            self.add(path, f"is {len(text)} characters long, over the limit of {MAX_STRING_CHARS}")
            return None
        return text

    def text_list(self, value: Any, path: str) -> list[str]:
        if value is None:
            return []
        if not isinstance(value, list):
            self.add(path, "must be a list of text")
            return []
        out = []
        for index, item in enumerate(value):
            text = self.text(item, f"{path}[{index}]")
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
            self.add(path, f"{value!r} is not a date (YYYY, YYYY-MM or YYYY-MM-DD)")
            return None
        parts = [int(part) for part in text.split("-")]
        try:
            dt.date(parts[0], parts[1] if len(parts) > 1 else 1, parts[2] if len(parts) > 2 else 1)
        except ValueError as error:
            self.add(path, f"{text!r} is not a real date ({error})")
            return None
        return text

    def ordered(self, start: str | None, end: str | None, path: str, names: str) -> None:
        if start and end and _date_floor(start) > _date_ceiling(end):
            self.add(path, f"{names}: {start} is after {end}")

    def identifier(self, value: Any, path: str) -> str | None:
        text = self.text(value, path)
        if text is None:
            return None
        if not ID_PATTERN.match(text):
            self.add(path, f"{text!r} is not an id (kind:slug in lower case, e.g. actor:apt31)")
            return None
        return text


def _date_floor(value: str) -> str:
    return (value + "-01-01")[:10] if len(value) == 4 else (value + "-01")[:10]


def _date_ceiling(value: str) -> str:
    return (value + "-12-31")[:10] if len(value) == 4 else (value + "-31")[:10]


def _unknown_keys(
    checker: _Checker, item: Mapping[str, Any], allowed: Iterable[str], path: str
) -> None:
    for key in item:
        if key not in allowed:
            checker.add(
                f"{path}.{key}", f"unknown key {key!r} (allowed: {', '.join(sorted(allowed))})"
            )


def _scalar_property(checker: _Checker, value: Any, path: str) -> Any:
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, (str, int, float, bool)):
        return checker.text(value, path) if isinstance(value, str) else value
    if isinstance(value, list):
        return checker.text_list(value, path)
    checker.add(path, f"must be text, a number or a list of text, not {type(value).__name__}")
    return None


def validate_document(
    data: Any,
    origin: str,
    lines: Mapping[str, int] | None = None,
    source_text: str | None = None,
) -> GraphDocument:
    """Check a parsed document against the model; raise ValidationError listing every problem.

    `source_text`, when given, is the verbatim text of the document's source:
    every quote must then be a substring of it (whitespace normalised).
    """
    checker = _Checker(origin, lines or {})
    if not isinstance(data, dict):
        raise ValidationError(
            origin, ["a graph document is a mapping with format, source, entities and claims"]
        )
    _unknown_keys(checker, data, TOP_KEYS, "")
    if data.get("format") != FORMAT:
        checker.add("format", f"must be {FORMAT!r}, not {data.get('format')!r}")

    entities: list[EntityRecord] = []
    source_id: str | None = None
    source = data.get("source")
    if source is not None:
        if not isinstance(source, dict):
            checker.add("source", "must be a mapping (id, name, url, publisher, published)")
        else:
            source_id, source_entity = _source_entity(checker, source)
            if source_entity is not None:
                entities.append(source_entity)

    raw_entities = data.get("entities") or []
    if not isinstance(raw_entities, list):
        checker.add("entities", "must be a list")
        raw_entities = []
    for index, item in enumerate(raw_entities):
        entity = _entity(checker, item, f"entities[{index}]")
        if entity is not None:
            entities.append(entity)

    labels_by_id: dict[str, str] = {}
    for index, entity in enumerate(entities):
        if entity.id in labels_by_id:
            path = (
                "source.id"
                if entity.id == source_id and index == 0
                else f"entities[{index - (1 if source_id else 0)}].id"
            )
            checker.add(path, f"duplicate id {entity.id!r}")
        labels_by_id[entity.id] = entity.label

    raw_claims = data.get("claims") or []
    if not isinstance(raw_claims, list):
        checker.add("claims", "must be a list")
        raw_claims = []
    normalised_text = normalise_whitespace(source_text) if source_text is not None else None
    claims: list[ClaimRecord] = []
    unresolved: dict[str, list[str]] = {}
    seen_claims: set[str] = set()
    for index, item in enumerate(raw_claims):
        path = f"claims[{index}]"
        claim = _claim(checker, item, path, source_id, normalised_text)
        if claim is None:
            continue
        if claim.id in seen_claims:
            checker.add(path, f"duplicate claim {claim.id!r}")
        seen_claims.add(claim.id)
        rel = RELATION_TYPES[claim.relation]
        for end, ref, allowed in (
            ("from", claim.from_id, rel.from_labels),
            ("to", claim.to_id, rel.to_labels),
        ):
            label: str | None = labels_by_id.get(ref)
            if label is None:
                unresolved.setdefault(ref, []).append(f"{checker.where(f'{path}.{end}')}")
            elif label not in allowed:
                checker.add(
                    f"{path}.{end}",
                    f"{claim.relation} cannot {'start at' if end == 'from' else 'end at'} "
                    f"a {label} ({ref}); allowed: {', '.join(allowed)}",
                )
        for cited in (*claim.sources, claim.assessed_by):
            if cited is not None and cited not in labels_by_id:
                unresolved.setdefault(cited, []).append(f"{checker.where(path)}")
        claims.append(claim)

    if not entities and not claims and not checker.problems:
        checker.add("", "document declares no entities and no claims")
    if checker.problems:
        raise ValidationError(origin, checker.problems)
    return GraphDocument(
        origin=origin, source_id=source_id, entities=entities, claims=claims, unresolved=unresolved
    )


def _source_entity(
    checker: _Checker, source: Mapping[str, Any]
) -> tuple[str | None, EntityRecord | None]:
    _unknown_keys(checker, source, SOURCE_KEYS, "source")
    source_id = checker.identifier(source.get("id"), "source.id")
    if source_id is not None and not source_id.startswith("source:"):
        checker.add("source.id", f"{source_id!r} must start with 'source:'")
    name = checker.text(source.get("name"), "source.name")
    props: dict[str, Any] = {}
    for key in ("url", "publisher", "title"):
        if source.get(key) is not None:
            props[key] = checker.text(source.get(key), f"source.{key}")
    published = checker.date(source.get("published"), "source.published")
    if published:
        props["published"] = published
    description = (
        checker.text(source.get("description"), "source.description", required=False) or ""
    )
    aliases = checker.text_list(source.get("aliases"), "source.aliases")
    if source_id is None or name is None:
        return source_id, None
    return source_id, EntityRecord(source_id, "Source", name, tuple(aliases), description, props)


def _entity(checker: _Checker, item: Any, path: str) -> EntityRecord | None:
    if not isinstance(item, dict):
        checker.add(path, "must be a mapping with id, label and name")
        return None
    entity_id = checker.identifier(item.get("id"), f"{path}.id")
    label_name = checker.text(item.get("label"), f"{path}.label")
    label = LABELS.get(label_name or "")
    if label_name is not None and label is None:
        checker.add(f"{path}.label", f"unknown label {label_name!r} (known: {', '.join(LABELS)})")
    name = checker.text(item.get("name"), f"{path}.name")
    aliases = checker.text_list(item.get("aliases"), f"{path}.aliases")
    description = checker.text(item.get("description"), f"{path}.description", required=False) or ""
    props: dict[str, Any] = {}
    if label is not None:
        _unknown_keys(checker, item, ENTITY_KEYS | set(label.extra_properties), path)
        if entity_id is not None and not entity_id.startswith(label.id_prefix + ":"):
            checker.add(
                f"{path}.id",
                f"a {label.name} id starts with {label.id_prefix + ':'!r}, not {entity_id!r}",
            )
        for key in label.extra_properties:
            if key in item and item[key] is not None:
                if key in ("started", "ended", "disclosed", "published", "first_seen", "last_seen"):
                    props[key] = checker.date(item[key], f"{path}.{key}")
                else:
                    props[key] = _scalar_property(checker, item[key], f"{path}.{key}")
        checker.ordered(props.get("started"), props.get("ended"), f"{path}.ended", "started/ended")
        checker.ordered(
            props.get("first_seen"),
            props.get("last_seen"),
            f"{path}.last_seen",
            "first_seen/last_seen",
        )
    if entity_id is None or label is None or name is None:
        return None
    return EntityRecord(entity_id, label.name, name, tuple(aliases), description, props)


def _claim(
    checker: _Checker, item: Any, path: str, source_id: str | None, source_text: str | None
) -> ClaimRecord | None:
    if not isinstance(item, dict):
        checker.add(path, "must be a mapping with from, relation, to, likelihood and quote")
        return None
    _unknown_keys(checker, item, CLAIM_KEYS, path)
    from_id = checker.identifier(item.get("from"), f"{path}.from")
    to_id = checker.identifier(item.get("to"), f"{path}.to")
    relation: str | None = checker.text(item.get("relation"), f"{path}.relation")
    if relation is not None and relation not in CLAIM_TYPES:
        checker.add(
            f"{path}.relation",
            f"unknown relation {relation!r} (known: {', '.join(sorted(CLAIM_TYPES))})",
        )
        relation = None
    term: phia.Likelihood | None = None
    if item.get("likelihood") is None:
        checker.add(
            f"{path}.likelihood", "is required (a PHIA term such as ALMOST_CERTAIN, or FACT)"
        )
    else:
        try:
            term = phia.parse(item.get("likelihood"))
        except ValueError as error:
            checker.add(f"{path}.likelihood", str(error))
    quote = checker.text(item.get("quote"), f"{path}.quote", required=source_text is not None)
    if (
        quote is not None
        and source_text is not None
        and normalise_whitespace(quote) not in source_text
    ):
        checker.add(f"{path}.quote", "is not a verbatim passage of the source text")
    assessed_by = (
        checker.identifier(item.get("assessed_by"), f"{path}.assessed_by")
        if item.get("assessed_by") is not None
        else None
    )
    sources = checker.text_list(item.get("sources"), f"{path}.sources")
    for index, ref in enumerate(sources):
        checker.identifier(ref, f"{path}.sources[{index}]")
    if not sources:
        if source_id is None:
            checker.add(f"{path}.sources", "is required when the document declares no source")
        else:
            sources = [source_id]
    valid_from = checker.date(item.get("valid_from"), f"{path}.valid_from")
    valid_to = checker.date(item.get("valid_to"), f"{path}.valid_to")
    checker.ordered(valid_from, valid_to, f"{path}.valid_to", "valid_from/valid_to")
    if from_id is None or to_id is None or relation is None or term is None or not sources:
        return None
    return ClaimRecord(
        from_id=from_id,
        relation=relation,
        to_id=to_id,
        likelihood=term,
        sources=tuple(dict.fromkeys(sources)),
        quote=normalise_whitespace(quote) if quote is not None else None,
        assessed_by=assessed_by,
        valid_from=valid_from,
        valid_to=valid_to,
    )


def document_from_text(text: str, origin: str, source_text: str | None = None) -> GraphDocument:
    """Parse and validate one document given as text (e.g. the `ingest` mutation)."""
    data, lines = parse_yaml(text, origin)
    return validate_document(data, origin, lines, source_text)
