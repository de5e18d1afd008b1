"""What a validated graph document holds: entity and claim records (with the rows the
loader writes for them), the ids it uses but does not declare, and the document itself."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from graph.model.likelihood import Likelihood
from graph.model.vocabulary import LABELS, lookup_key, relation_id


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
        labels, graph/writes/batch_write.py)."""
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
    likelihood: Likelihood
    sources: tuple[str, ...]
    quote: str | None
    assessed_by: str | None
    valid_from: str | None
    valid_to: str | None
    # When the claim became known: its source's publication (or revision) date; None
    # for an analyst's own claim, which becomes known on the day it is written.
    reported_on: str | None = None

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
            "reported_on": self.reported_on,
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
    # Its source's publication date, or its revision's: when what it says became known.
    reported_on: str | None = None
    # The revision's date, when the document is a revision of its source: the day its
    # source dropped the claims it no longer makes, or regraded them. Without one, a
    # change is dated the day it is loaded.
    revised: str | None = None

    def declared_ids(self) -> set[str]:
        return {entity.id for entity in self.entities}
