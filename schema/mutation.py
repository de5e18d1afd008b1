"""The Mutation root: every write needs a bearer token and is validated like a seed file.

Writes go through graph.model.documents (the seed format's rules) and
graph.writes.loading (one transaction, all or nothing), so an API write can never
store what a seed file could not.
"""

from __future__ import annotations

from typing import Annotated, Any

import strawberry
from strawberry.permission import BasePermission
from strawberry.types import Info

from graph.model.documents import FORMAT, document_from_text, validate_document
from graph.model.likelihood import Likelihood
from graph.reads import questions as traversal
from graph.reads.questions import ref_parameters
from graph.writes.claims import delete_relation
from graph.writes.loading import load_documents
from schema.context import Context
from schema.errors import Forbidden, UserInputError
from schema.scalars import Date
from schema.types import Entity, EvidenceStep, entity_from_row, step_from_row

MAX_INGEST_CHARS = 2 * 1024 * 1024


class WriterOnly(BasePermission):
    message = "a valid bearer token is required (Authorization: Bearer <token>)"
    error_extensions = {"code": Forbidden.code}  # noqa: RUF012 - Strawberry reads it per class

    def has_permission(self, source: Any, info: Info[Context, None], **kwargs: Any) -> bool:
        return info.context.is_writer


@strawberry.input(description="A key and a value for a kind-specific property (e.g. started).")
class PropertyInput:
    key: str = strawberry.field(description="A property of the entity's kind, e.g. started.")
    value: str = strawberry.field(description="Its value, e.g. 2021.")


@strawberry.input(description="An entity to create or update, keyed by id.")
class EntityInput:
    id: str = strawberry.field(description="Stable id: the label's prefix, e.g. actor:apt31.")
    label: str = strawberry.field(description="One of the concrete Entity types, e.g. ThreatActor.")
    name: str = strawberry.field(description="The caption, e.g. APT31.")
    aliases: list[str] | None = strawberry.field(
        default=None, description="Other names it goes by."
    )
    description: str | None = strawberry.field(
        default=None, description="What the sources say it is."
    )
    properties: list[PropertyInput] | None = strawberry.field(
        default=None, description="Kind-specific properties (e.g. started for an Incident)."
    )


@strawberry.input(
    description="A claim: likelihood, at least one source and the quote are required."
)
class RelationInput:
    from_: str = strawberry.field(name="from", description="The subject's id, e.g. actor:apt31.")
    relation: str = strawberry.field(description="The relation type, e.g. ATTRIBUTED_TO.")
    to: str = strawberry.field(description="The object's id, e.g. agency:mss.")
    likelihood: Likelihood = strawberry.field(
        description="The source's grade (FACT when it states the claim without hedging)."
    )
    quote: str = strawberry.field(description="The source's sentence, verbatim.")
    sources: list[str] = strawberry.field(description="Ids of the sources making the claim.")
    assessed_by: str | None = strawberry.field(
        default=None, description="The id of who made the assessment, e.g. agency:ncsc."
    )
    valid_from: Date | None = strawberry.field(
        default=None, description="From when the claim holds."
    )
    valid_to: Date | None = strawberry.field(
        default=None, description="Until when the claim holds."
    )


@strawberry.type(description="What an ingest wrote.")
class IngestResult:
    entities_written: int = strawberry.field(description="Entities written (new or updated).")
    entities_created: int = strawberry.field(description="Of those, entities that were new.")
    claims_written: int = strawberry.field(description="Claims written (new or updated).")
    claims_created: int = strawberry.field(description="Of those, claims that were new.")


@strawberry.type(description="Writes; each needs a bearer token (Authorization: Bearer ...).")
class Mutation:
    @strawberry.mutation(permission_classes=[WriterOnly], description="Create or update an entity.")
    async def upsert_entity(
        self,
        info: Info[Context, None],
        input: Annotated[EntityInput, strawberry.argument(description="The entity.")],
    ) -> Entity:
        item: dict[str, Any] = {
            "id": input.id,
            "label": input.label,
            "name": input.name,
            "aliases": input.aliases or [],
            "description": input.description or "",
        }
        for prop in input.properties or []:
            item[prop.key] = prop.value
        document = validate_document({"format": FORMAT, "entities": [item]}, "upsertEntity.input")
        graph = info.context.graph
        await load_documents(
            graph, [document], replace_source_claims=False, origin="mutation:upsertEntity"
        )
        parameters = {**ref_parameters("target", input.id), "as_of": None}
        row = await traversal.find_entity(graph, parameters, input.id)
        assert row is not None
        return entity_from_row(row)

    @strawberry.mutation(
        permission_classes=[WriterOnly],
        description=(
            "Create or update one source's claim (keyed by from, relation, to and first source)."
        ),
    )
    async def upsert_relation(
        self,
        info: Info[Context, None],
        input: Annotated[RelationInput, strawberry.argument(description="The claim.")],
    ) -> EvidenceStep:
        claim = {
            "from": input.from_,
            "relation": input.relation,
            "to": input.to,
            "likelihood": input.likelihood.value,
            "quote": input.quote,
            "sources": input.sources,
            "assessed_by": input.assessed_by,
            "valid_from": input.valid_from,
            "valid_to": input.valid_to,
        }
        if not input.quote.strip():
            claim["quote"] = None
        document = validate_document({"format": FORMAT, "claims": [claim]}, "upsertRelation.input")
        graph = info.context.graph
        await load_documents(
            graph, [document], replace_source_claims=False, origin="mutation:upsertRelation"
        )
        written = document.claims[0]
        row = await traversal.find_claim(graph, written.relation, written.id)
        return step_from_row(row)

    @strawberry.mutation(permission_classes=[WriterOnly], description="Delete one claim by its id.")
    async def delete_relation(
        self,
        info: Info[Context, None],
        id: Annotated[strawberry.ID, strawberry.argument(description="The claim's id.")],
    ) -> bool:
        return await delete_relation(info.context.graph, str(id))

    @strawberry.mutation(
        permission_classes=[WriterOnly],
        description="Load a whole document in the seed-file format (YAML), all or nothing.",
    )
    async def ingest(
        self,
        info: Info[Context, None],
        seed: Annotated[
            str,
            strawberry.argument(description="The document's YAML (seed format, seed/README.md)."),
        ],
    ) -> IngestResult:
        if len(seed) > MAX_INGEST_CHARS:
            raise UserInputError(f"seed: at most {MAX_INGEST_CHARS} characters")
        document = document_from_text(seed, "ingest.seed")
        summary = await load_documents(
            info.context.graph, [document], replace_source_claims=False, origin="mutation:ingest"
        )
        return IngestResult(
            entities_written=summary.entities_written,
            entities_created=summary.entities_created,
            claims_written=summary.claims_written,
            claims_created=summary.claims_created,
        )
