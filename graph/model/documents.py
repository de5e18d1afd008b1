"""Graph documents: the seed-file format, parsed and validated against the model.

A document (a seed file, an `ingest` mutation, an importer's output) is
checked completely before anything is written: every problem is collected
with where it is (file, line, path) and reported at once, and nothing is
written when there is any. See seed/README.md for the format.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import yaml

from graph.errors import GraphError, ValidationError
from graph.model import likelihood as phia
from graph.model.vocabulary import (
    BODIES,
    CLAIM_TYPES,
    LABELS,
    RELATION_TYPES,
    lookup_key,
    relation_id,
)

FORMAT = "threatgraph-seed/1"
MAX_DOCUMENT_BYTES = 5 * 1024 * 1024
MAX_STRING_CHARS = 20_000
# Names and aliases are indexed (a range index on name, keyword terms in
# lookup_keys), and Neo4j refuses index entries over about 8 kB.
MAX_NAME_CHARS = 1_000
MAX_DEPTH = 12
ID_PATTERN = re.compile(r"^[a-z][a-z-]*:[a-z0-9][a-z0-9._/-]{0,199}$")
_SURROGATE = re.compile("[\ud800-\udfff]")
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
# What each end of a claim is, for messages about it.
_FROM_ROLE = {relation: f"the 'from' end of {relation}" for relation in RELATION_TYPES}
_TO_ROLE = {relation: f"the 'to' end of {relation}" for relation in RELATION_TYPES}
# The keys an entity of each label may have.
_ENTITY_KEYS_BY_LABEL = {
    name: ENTITY_KEYS | set(label.extra_properties) for name, label in LABELS.items()
}


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
        """Parameters for the loader: every property the label knows is set (None removes it),
        so the node is exactly what was declared (the loader also removes the other kind
        labels, graph/writes/loading.py)."""
        props = {
            **dict.fromkeys(LABELS[self.label].extra_properties),
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


class Reference(NamedTuple):
    """An id a document uses but does not declare: it must be in the load or the graph.

    (A named tuple: a bulk load makes one per claim end, and a tuple is made fastest.)
    """

    id: str
    place: str  # "line 40: claims[3].to", for messages
    role: str  # what the id is used as ("the 'to' end of ATTRIBUTED_TO", "a source")
    allowed: tuple[str, ...]  # labels the referenced entity may have


@dataclass
class GraphDocument:
    """A validated document, ready to write. `unresolved` ids must exist in the load or graph."""

    origin: str
    source_id: str | None
    entities: list[EntityRecord]
    claims: list[ClaimRecord]
    unresolved: dict[str, list[Reference]] = field(default_factory=dict)

    def declared_ids(self) -> set[str]:
        return {entity.id for entity in self.entities}


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


def normalise_whitespace(text: str) -> str:
    return " ".join(text.split())


class _Checker:
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
            self.add(path, f"{value!r} is not a date (YYYY, YYYY-MM or YYYY-MM-DD)")
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
        if start_value and end_value and _date_floor(start_value) > _date_ceiling(end_value):
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


def _date_floor(value: str) -> str:
    return (value + "-01-01")[:10] if len(value) == 4 else (value + "-01")[:10]


def _date_ceiling(value: str) -> str:
    return (value + "-12-31")[:10] if len(value) == 4 else (value + "-31")[:10]


def _unknown_keys(
    checker: _Checker, item: Mapping[str, Any], allowed: AbstractSet[str], path: str
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
    require_quotes: bool = False,
) -> GraphDocument:
    """Check a parsed document against the model; raise ValidationError listing every problem.

    `source_text`, when given, is the verbatim text of the document's source:
    every quote must then be a substring of it (whitespace normalised), and
    every claim must have one. `require_quotes` asks for a quote on every claim
    even without the text (seed files).
    """
    checker = _Checker(origin, lines or {})
    if not isinstance(data, dict):
        raise ValidationError(
            origin,
            [
                "line 1: a graph document is a mapping with format, source, entities and claims, "
                f"not {type(data).__name__}"
            ],
        )
    _unknown_keys(checker, data, TOP_KEYS, "")
    if data.get("format") != FORMAT:
        checker.add("format", f"must be {FORMAT!r}, not {data.get('format')!r}")

    declared: list[tuple[str, EntityRecord]] = []
    source_id: str | None = None
    source = data.get("source")
    if source is not None:
        if not isinstance(source, dict):
            checker.add("source", "must be a mapping (id, name, url, publisher, published)")
        else:
            source_id, source_entity = _source_entity(checker, source)
            if source_entity is not None:
                declared.append(("source.id", source_entity))

    raw_entities = data.get("entities")
    if raw_entities is None:
        raw_entities = []
    if not isinstance(raw_entities, list):
        checker.add("entities", "must be a list")
        raw_entities = []
    for index, item in enumerate(raw_entities):
        entity = _entity(checker, item, f"entities[{index}]")
        if entity is not None:
            declared.append((f"entities[{index}].id", entity))

    labels_by_id: dict[str, str] = {}
    first_path: dict[str, str] = {}
    entities: list[EntityRecord] = []
    for path, entity in declared:
        if entity.id in labels_by_id:
            first = checker.where(first_path[entity.id])
            checker.add(path, f"duplicate id {entity.id!r} (first declared at {first})")
            continue
        labels_by_id[entity.id] = entity.label
        first_path[entity.id] = path
        entities.append(entity)

    raw_claims = data.get("claims")
    if raw_claims is None:
        raw_claims = []
    if not isinstance(raw_claims, list):
        checker.add("claims", "must be a list")
        raw_claims = []
    normalised_text = normalise_whitespace(source_text) if source_text is not None else None
    claims: list[ClaimRecord] = []
    unresolved: dict[str, list[Reference]] = {}
    seen_claims: dict[str, str] = {}

    def use(ref: str, path: str, role: str, allowed: tuple[str, ...]) -> None:
        label = labels_by_id.get(ref)
        if label is None:
            unresolved.setdefault(ref, []).append(
                Reference(ref, checker.where(path), role, allowed)
            )
        elif label not in allowed:
            checker.add(path, wrong_label(ref, label, role, allowed))

    for index, item in enumerate(raw_claims):
        path = f"claims[{index}]"
        quote_needed = require_quotes or source_text is not None
        claim = _claim(checker, item, path, source_id, normalised_text, quote_needed)
        if claim is None:
            continue
        if claim.id in seen_claims:
            checker.add(
                path,
                f"duplicate claim: {claim.from_id} {claim.relation} {claim.to_id} is already "
                f"claimed at {checker.where(seen_claims[claim.id])}",
            )
            continue
        seen_claims[claim.id] = path
        rel = RELATION_TYPES[claim.relation]
        use(claim.from_id, f"{path}.from", _FROM_ROLE[claim.relation], rel.from_labels)
        use(claim.to_id, f"{path}.to", _TO_ROLE[claim.relation], rel.to_labels)
        cited = item.get("sources") if isinstance(item.get("sources"), list) else []
        for ref in claim.sources:
            where = f"{path}.sources[{cited.index(ref)}]" if ref in cited else "source.id"
            use(ref, where, "a claim's source", ("Source",))
        if claim.assessed_by is not None:
            use(claim.assessed_by, f"{path}.assessed_by", "assessed_by", BODIES)
        claims.append(claim)

    if not entities and not claims and not checker.problems:
        checker.add("", "document declares no entities and no claims")
    if checker.problems:
        raise ValidationError(origin, checker.problems)
    return GraphDocument(
        origin=origin, source_id=source_id, entities=entities, claims=claims, unresolved=unresolved
    )


def wrong_label(ref: str, label: str, role: str, allowed: tuple[str, ...]) -> str:
    return f"{ref} is {a(label)}, which cannot be {role} (allowed: {', '.join(allowed)})"


def a(label: str) -> str:
    """The label with its indefinite article: 'a ThreatActor', 'an Incident'."""
    return f"{'an' if label[:1] in 'AEIOU' else 'a'} {label}"


def _source_entity(
    checker: _Checker, source: Mapping[str, Any]
) -> tuple[str | None, EntityRecord | None]:
    _unknown_keys(checker, source, SOURCE_KEYS, "source")
    source_id = checker.identifier(source.get("id"), "source.id")
    if source_id is not None and not source_id.startswith("source:"):
        checker.add("source.id", f"{source_id!r} must start with 'source:'")
    name = checker.text(source.get("name"), "source.name", limit=MAX_NAME_CHARS)
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
    aliases = checker.text_list(source.get("aliases"), "source.aliases", MAX_NAME_CHARS)
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
    name = checker.text(item.get("name"), f"{path}.name", limit=MAX_NAME_CHARS)
    aliases = checker.text_list(item.get("aliases"), f"{path}.aliases", MAX_NAME_CHARS)
    description = checker.text(item.get("description"), f"{path}.description", required=False) or ""
    props: dict[str, Any] = {}
    if label is not None:
        _unknown_keys(checker, item, _ENTITY_KEYS_BY_LABEL[label.name], path)
        if entity_id is not None and not entity_id.startswith(label.id_prefix + ":"):
            checker.add(
                f"{path}.id",
                f"{a(label.name)} id starts with {label.id_prefix + ':'!r}, not {entity_id!r}",
            )
        for key in label.extra_properties:
            if key in item and item[key] is not None:
                if key in ("started", "ended", "disclosed", "published", "first_seen", "last_seen"):
                    props[key] = checker.date(item[key], f"{path}.{key}")
                else:
                    props[key] = _scalar_property(checker, item[key], f"{path}.{key}")
        for start_key, end_key in (("started", "ended"), ("first_seen", "last_seen")):
            checker.ordered(path, (start_key, props.get(start_key)), (end_key, props.get(end_key)))
    if entity_id is None or label is None or name is None:
        return None
    return EntityRecord(entity_id, label.name, name, tuple(aliases), description, props)


def _claim(
    checker: _Checker,
    item: Any,
    path: str,
    source_id: str | None,
    source_text: str | None,
    require_quote: bool,
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
    quote = checker.text(item.get("quote"), f"{path}.quote", required=require_quote)
    if (
        quote is not None
        and source_text is not None
        and normalise_whitespace(quote) not in source_text
    ):
        shown = normalise_whitespace(quote)
        shown = shown if len(shown) <= 60 else shown[:57] + "..."
        checker.add(f"{path}.quote", f"{shown!r} is not a verbatim passage of the source text")
    assessed_by = (
        checker.identifier(item.get("assessed_by"), f"{path}.assessed_by")
        if item.get("assessed_by") is not None
        else None
    )
    # A document with a source is that source's word: its claims are the source's
    # claims (cited first); `sources` adds further sources that say the same.
    sources = [source_id] if source_id is not None else []
    raw_sources = item.get("sources")
    if raw_sources is not None and not isinstance(raw_sources, list):
        checker.add(f"{path}.sources", "must be a list of source ids")
    elif raw_sources is not None:
        for index, ref in enumerate(raw_sources):
            valid = checker.identifier(ref, f"{path}.sources[{index}]")
            if valid is not None:
                sources.append(valid)
    if not sources and "sources" not in item:
        checker.add(f"{path}.sources", "is required when the document declares no source")
    elif not sources and raw_sources == []:
        checker.add(f"{path}.sources", "must list at least one source id")
    valid_from = checker.date(item.get("valid_from"), f"{path}.valid_from")
    valid_to = checker.date(item.get("valid_to"), f"{path}.valid_to")
    checker.ordered(path, ("valid_from", valid_from), ("valid_to", valid_to))
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


class LoadValidationError(ValidationError):
    """Problems in several documents of one load, each line naming its own document."""

    def __init__(self, failures: list[ValidationError]) -> None:
        self.failures = failures
        self.origin = ", ".join(failure.origin for failure in failures)
        self.problems = [f"{f.origin}: {problem}" for f in failures for problem in f.problems]
        shown = "\n".join(f"  {problem}" for problem in self.problems)
        GraphError.__init__(
            self,
            f"{len(failures)} documents: {len(self.problems)} problem(s), nothing written\n{shown}",
        )


def combine_failures(failures: list[ValidationError]) -> ValidationError:
    """One error for a load: the failure itself when only one document failed."""
    return failures[0] if len(failures) == 1 else LoadValidationError(failures)
