"""The documents the single-item mutations write: one entity, or one claim.

`upsertEntity` and `upsertRelation` (schema/mutation.py) write these, and so does
the start-up rehearsal of them (graph/warm_up.py), which must run the very same
statements with the same parameters to have Neo4j plan them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from graph.model.documents import FORMAT, validate_document
from graph.model.records import GraphDocument

# The change feed's origin of each mutation's writes.
ENTITY_ORIGIN = "mutation:upsertEntity"
RELATION_ORIGIN = "mutation:upsertRelation"


def entity_document(entity: Mapping[str, Any]) -> GraphDocument:
    """The document of one entity (id, label, name, aliases, description, and any
    properties of its label); ValidationError names what is wrong."""
    return validate_document({"format": FORMAT, "entities": [dict(entity)]}, "upsertEntity.input")


def claim_document(claim: Mapping[str, Any]) -> GraphDocument:
    """The document of one claim (from, relation, to, likelihood, quote, sources,
    assessed_by, valid_from, valid_to); a blank quote is no quote."""
    written = dict(claim)
    if isinstance(written.get("quote"), str) and not written["quote"].strip():
        written["quote"] = None
    return validate_document({"format": FORMAT, "claims": [written]}, "upsertRelation.input")
