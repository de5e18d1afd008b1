"""Graph documents: the seed-file format, validated against the model.

A document (a seed file, an `ingest` mutation, an importer's output) is
checked completely before anything is written: every problem is collected
with where it is (file, line, path) and reported at once, and nothing is
written when there is any. See seed/README.md for the format. Reading the
text is graph/model/document_yaml.py; the checks of single fields are
graph/model/field_checks.py; what a valid document holds is graph/model/records.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from graph.errors import GraphError, ValidationError
from graph.model.document_yaml import parse_yaml
from graph.model.field_checks import MAX_NAME_CHARS, FieldChecker, normalise_whitespace
from graph.model.likelihood import Likelihood, from_name
from graph.model.records import ClaimRecord, EntityRecord, GraphDocument, Reference
from graph.model.reliability import RELIABILITY_PROPERTY, reliability_problem
from graph.model.vocabulary import BODIES, CLAIM_TYPES, LABELS, RELATION_TYPES

FORMAT = "threatgraph-seed/1"

SOURCE_KEYS = {
    "id",
    "name",
    "url",
    "publisher",
    "published",
    "revised",
    "text_file",
    "description",
    "aliases",
    "title",
    "reliability",
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
    checker = FieldChecker(origin, lines or {})
    if not isinstance(data, dict):
        raise ValidationError(
            origin,
            [
                "line 1: a graph document is a mapping with format, source, entities and claims, "
                f"not {type(data).__name__}"
            ],
        )
    checker.unknown_keys(data, TOP_KEYS, "")
    if data.get("format") != FORMAT:
        checker.add("format", f"must be {FORMAT!r}, not {data.get('format')!r}")

    declared: list[tuple[str, EntityRecord]] = []
    source_id: str | None = None
    reported_on: str | None = None
    revised: str | None = None
    source = data.get("source")
    if source is not None:
        if not isinstance(source, dict):
            checker.add("source", "must be a mapping (id, name, url, publisher, published)")
        else:
            source_id, source_entity = _source_entity(checker, source)
            if source_entity is not None:
                declared.append(("source.id", source_entity))
                # Its claims became known when this version of the source came out.
                props = source_entity.properties
                reported_on = props.get("revised") or props.get("published")
                revised = props.get("revised")

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
        claim = _claim(checker, item, path, source_id, normalised_text, quote_needed, reported_on)
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
        origin=origin,
        source_id=source_id,
        entities=entities,
        claims=claims,
        unresolved=unresolved,
        reported_on=reported_on,
        revised=revised,
    )


def wrong_label(ref: str, label: str, role: str, allowed: tuple[str, ...]) -> str:
    return f"{ref} is {with_article(label)}, which cannot be {role} (allowed: {', '.join(allowed)})"


def with_article(label: str) -> str:
    """The label with its indefinite article: 'a ThreatActor', 'an Incident'."""
    return f"{'an' if label[:1] in 'AEIOU' else 'a'} {label}"


def _source_entity(
    checker: FieldChecker, source: Mapping[str, Any]
) -> tuple[str | None, EntityRecord | None]:
    checker.unknown_keys(source, SOURCE_KEYS, "source")
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
    reliability = source.get(RELIABILITY_PROPERTY)
    if reliability is not None:
        problem = reliability_problem(reliability)
        if problem:
            checker.add(f"source.{RELIABILITY_PROPERTY}", problem)
        props[RELIABILITY_PROPERTY] = reliability
    revised = checker.date(source.get("revised"), "source.revised")
    checker.ordered("source", ("published", published), ("revised", revised))
    if revised:
        props["revised"] = revised
    description = (
        checker.text(source.get("description"), "source.description", required=False) or ""
    )
    aliases = checker.text_list(source.get("aliases"), "source.aliases", MAX_NAME_CHARS)
    if source_id is None or name is None:
        return source_id, None
    return source_id, EntityRecord(source_id, "Source", name, tuple(aliases), description, props)


def _entity(checker: FieldChecker, item: Any, path: str) -> EntityRecord | None:
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
        checker.unknown_keys(item, _ENTITY_KEYS_BY_LABEL[label.name], path)
        if entity_id is not None and not entity_id.startswith(label.id_prefix + ":"):
            checker.add(
                f"{path}.id",
                f"{with_article(label.name)} id starts with {label.id_prefix + ':'!r}, "
                f"not {entity_id!r}",
            )
        for key in label.extra_properties:
            if key in item and item[key] is not None:
                if key in ("started", "ended", "disclosed", "published", "first_seen", "last_seen"):
                    props[key] = checker.date(item[key], f"{path}.{key}")
                elif key == "tactics":
                    props[key] = checker.text_list(item[key], f"{path}.{key}", MAX_NAME_CHARS)
                elif key == RELIABILITY_PROPERTY:
                    problem = reliability_problem(item[key])
                    if problem:
                        checker.add(f"{path}.{key}", problem)
                    props[key] = item[key]
                else:
                    props[key] = checker.property_value(item[key], f"{path}.{key}")
        for start_key, end_key in (("started", "ended"), ("first_seen", "last_seen")):
            checker.ordered(path, (start_key, props.get(start_key)), (end_key, props.get(end_key)))
    if entity_id is None or label is None or name is None:
        return None
    return EntityRecord(entity_id, label.name, name, tuple(aliases), description, props)


def _claim(
    checker: FieldChecker,
    item: Any,
    path: str,
    source_id: str | None,
    source_text: str | None,
    require_quote: bool,
    reported_on: str | None = None,
) -> ClaimRecord | None:
    if not isinstance(item, dict):
        checker.add(path, "must be a mapping with from, relation, to, likelihood and quote")
        return None
    checker.unknown_keys(item, CLAIM_KEYS, path)
    from_id = checker.identifier(item.get("from"), f"{path}.from")
    to_id = checker.identifier(item.get("to"), f"{path}.to")
    relation: str | None = checker.text(item.get("relation"), f"{path}.relation")
    if relation is not None and relation not in CLAIM_TYPES:
        checker.add(
            f"{path}.relation",
            f"unknown relation {relation!r} (known: {', '.join(sorted(CLAIM_TYPES))})",
        )
        relation = None
    term: Likelihood | None = None
    if item.get("likelihood") is None:
        checker.add(
            f"{path}.likelihood", "is required (a PHIA term such as ALMOST_CERTAIN, or FACT)"
        )
    else:
        try:
            term = from_name(item.get("likelihood"))
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
        reported_on=reported_on,
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
