"""The Query root: every field answers with one Cypher round-trip.

Two ways answer a query operation, over the same definitions. The compiled
executor (schema/compiled/) answers the operations it covers with one
statement per root field, shaped to the selection. These resolvers answer the
rest: operations mixing in the change feed, introspection or federation, a
nested field's bad argument, and the entities that mutations return. They stay,
as a thin layer, because Strawberry's execution is what gives those their
GraphQL semantics; they add no rule of their own. Both bind arguments with
schema/arguments.py, build their Cypher from graph/reads/ (questions.py for the
question, fields.py for every field) and report errors through schema/errors.py,
so a question is defined once whichever way answers it.

Nested `sources` / `relations` on the entities returned add one batched
round-trip per level of nesting (DataLoaders), never one per result.
"""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from graph.linking.rule import DESCRIPTION as LINKED_TO_DESCRIPTION
from graph.linking.rule import LinkRole
from graph.model.likelihood import Likelihood
from graph.model.vocabulary import EntityKind
from graph.reads import kinds
from graph.reads import questions as traversal
from schema import arguments
from schema.activity import (
    EVERY_KIND,
    ActivityConnection,
    ActivitySinceArgument,
    ActivityUntilArgument,
    IncidentConnection,
    IncludeUngradedArgument,
    KindsArgument,
    LinkedToArgument,
    MinLikelihoodArgument,
    RoleArgument,
    TargetSectorArgument,
    activity_page,
    activity_question,
    incidents_page,
)
from schema.changes import CHANGES_DESCRIPTION, DEFAULT_CHANGES_PAGE, ChangeConnection, changes_page
from schema.context import Context
from schema.history import (
    HISTORY_DESCRIPTION,
    HistoryConnection,
    RefArgument,
    SinceArgument,
    UntilArgument,
    history_page,
)
from schema.pagination import (
    MAX_PAGE_SIZE,
    PageCursor,
    PageInfo,
    PageSize,
    encode_cursor,
    page_info,
)
from schema.scalars import INCLUDE_UNGRADED, AsOf
from schema.stix import STIX_BUNDLE_DESCRIPTION, StixHopsArgument, StixRefArgument, stix_bundle
from schema.types import (
    Entity,
    EvidencePath,
    EvidenceStep,
    entity_from_row,
    path_from_row,
    step_from_row,
)


@strawberry.type(description="An entity with its cursor.")
class EntityEdge:
    cursor: str = strawberry.field(description="Pass as `after` to page on from here.")
    node: Entity = strawberry.field(description="The entity.")


@strawberry.type(description="A page of entities.")
class EntityConnection:
    total_count: int = strawberry.field(description="Entities matching, over all pages.")
    edges: list[EntityEdge] = strawberry.field(description="This page's entities with cursors.")
    nodes: list[Entity] = strawberry.field(description="This page's entities.")
    page_info: PageInfo = strawberry.field(description="Where this page stands.")


@strawberry.type(description="A full-text hit with its relevance score (higher is better).")
class SearchHit:
    entity: Entity = strawberry.field(description="The entity found.")
    score: float = strawberry.field(description="Full-text relevance (higher is better).")
    cursor: str = strawberry.field(description="Pass as `after` to continue after this hit.")


@strawberry.type(description="Nodes and the claims between them, ready to draw.")
class Subgraph:
    nodes: list[Entity] = strawberry.field(description="The entities, the centre first.")
    relationships: list[EvidenceStep] = strawberry.field(
        description="The claims between those entities, in claim-id order (stable across calls)."
    )


@strawberry.type(description="Questions about the graph; every answer carries its evidence.")
class Query:
    @strawberry.field(
        description=(
            "The entity an id, name or alias names (any case). Null when nothing matches; an "
            "error (code BAD_USER_INPUT, reason AMBIGUOUS_REFERENCE) listing the candidates when "
            "several do."
        )
    )
    async def entity(
        self,
        info: Info[Context, None],
        ref: Annotated[
            str,
            strawberry.argument(
                description="An id, name or alias, any case, e.g. APT31 or agency:mss."
            ),
        ],
        as_of: AsOf = None,
    ) -> Entity | None:
        parameters = arguments.entity({"ref": ref, "asOf": as_of})
        row = await traversal.find_entity(info.context.graph, parameters, ref)
        return entity_from_row(row, parameters["as_of"]) if row else None

    @strawberry.field(
        description=(
            "Every entity of one kind (every threat actor, every incident), by name, then id, "
            "paged."
        )
    )
    async def entities(
        self,
        info: Info[Context, None],
        kind: Annotated[EntityKind, strawberry.argument(description="Which kind.")],
        first: PageSize = None,
        after: PageCursor = None,
        as_of: AsOf = None,
    ) -> EntityConnection:
        asked = {"kind": kind, "first": first, "after": after, "asOf": as_of}
        parameters = arguments.entities(asked)
        skip = parameters["root_skip"]
        page = await kinds.entities_of_kind(info.context.graph, parameters, arguments.kind(asked))
        nodes = [entity_from_row(row, parameters["as_of"]) for row in page.rows]
        return EntityConnection(
            total_count=page.total,
            edges=[EntityEdge(cursor=encode_cursor(skip + i), node=n) for i, n in enumerate(nodes)],
            nodes=nodes,
            page_info=page_info(skip, len(nodes), page.total),
        )

    @strawberry.field(
        description="Full-text search over names, aliases and descriptions, best match first."
    )
    async def search(
        self,
        info: Info[Context, None],
        text: Annotated[
            str, strawberry.argument(description="Words to look for, e.g. Electoral Register.")
        ],
        first: Annotated[
            int, strawberry.argument(description=f"At most this many hits (0-{MAX_PAGE_SIZE}).")
        ] = arguments.DEFAULT_SEARCH_HITS,
        kinds: Annotated[
            list[EntityKind] | None,
            strawberry.argument(description="Only entities of these kinds (any when null)."),
        ] = None,
        after: Annotated[
            str | None,
            strawberry.argument(description="Continue after the hit with this cursor."),
        ] = None,
        as_of: AsOf = None,
    ) -> list[SearchHit]:
        asked = {"text": text, "first": first, "kinds": kinds, "after": after, "asOf": as_of}
        parameters = arguments.search(asked)
        if parameters is None:
            return []
        rows = await traversal.search(info.context.graph, parameters)
        day, cursors = parameters["as_of"], parameters["cursors"]
        return [
            SearchHit(entity=entity_from_row(r["entity"], day), score=r["score"], cursor=c)
            for r, c in zip(rows, cursors, strict=False)
        ]

    @strawberry.field(
        description=(
            "Incidents, newest first; with linkedTo, only those linked to that entity (strongest "
            "link first), each with `linkPath`, the evidence for the link. " + LINKED_TO_DESCRIPTION
        )
    )
    async def incidents(
        self,
        info: Info[Context, None],
        linked_to: LinkedToArgument = None,
        min_likelihood: MinLikelihoodArgument = None,
        include_ungraded: IncludeUngradedArgument = True,
        since: ActivitySinceArgument = None,
        until: ActivityUntilArgument = None,
        role: RoleArgument = LinkRole.ANY,
        target_sector: TargetSectorArgument = None,
        first: PageSize = None,
        after: PageCursor = None,
        as_of: AsOf = None,
    ) -> IncidentConnection:
        return await incidents_page(info, activity_question(locals()))

    @strawberry.field(
        description=(
            "Activity (incidents and campaigns, or the `kinds` asked for), newest first; with "
            "linkedTo, only that linked to the entity (strongest link first), each with "
            "`linkPath`: the same question, evidence paths, roles and asOf as "
            "`incidents(linkedTo:)`, over every kind of activity."
        )
    )
    async def activity(
        self,
        info: Info[Context, None],
        linked_to: LinkedToArgument = None,
        kinds: KindsArgument = EVERY_KIND,
        min_likelihood: MinLikelihoodArgument = None,
        include_ungraded: IncludeUngradedArgument = True,
        since: ActivitySinceArgument = None,
        until: ActivityUntilArgument = None,
        role: RoleArgument = LinkRole.ANY,
        target_sector: TargetSectorArgument = None,
        first: PageSize = None,
        after: PageCursor = None,
        as_of: AsOf = None,
    ) -> ActivityConnection:
        return await activity_page(info, {**activity_question(locals()), "kinds": kinds})

    @strawberry.field(
        description=(
            "The shortest explained chain of claims between two entities (each step shown in "
            "its own direction), the strongest of equally short ones (then the first by claim "
            "ids, so the same graph always shows the same chain). Null when none exists "
            f"within maxHops (1-{traversal.MAX_PATH_HOPS})."
        )
    )
    async def path(
        self,
        info: Info[Context, None],
        from_: Annotated[
            str,
            strawberry.argument(
                name="from",
                description="Where the chain starts: an id, name or alias, e.g. APT31.",
            ),
        ],
        to: Annotated[
            str, strawberry.argument(description="Where the chain ends: id, name or alias.")
        ],
        max_hops: Annotated[
            int,
            strawberry.argument(
                description=f"Longest chain considered, in claims (1-{traversal.MAX_PATH_HOPS})."
            ),
        ] = arguments.DEFAULT_MAX_HOPS,
        min_likelihood: Annotated[
            Likelihood | None,
            strawberry.argument(description="Use only claims graded at least this likely."),
        ] = None,
        include_ungraded: Annotated[
            bool,
            strawberry.argument(description=INCLUDE_UNGRADED),
        ] = True,
        as_of: AsOf = None,
    ) -> EvidencePath | None:
        parameters = arguments.path(
            {
                "from": from_,
                "to": to,
                "maxHops": max_hops,
                "minLikelihood": min_likelihood,
                "includeUngraded": include_ungraded,
                "asOf": as_of,
            }
        )
        found = await traversal.shortest_path(info.context.graph, parameters, max_hops, from_, to)
        return path_from_row(found, parameters["as_of"]) if found else None

    @strawberry.field(
        description=(
            f"Everything within `hops` (1-{traversal.MAX_NEIGHBOURHOOD_HOPS}) claims of an entity, "
            "in either direction, and the claims between those nodes; at most `first` "
            f"(≤ {MAX_PAGE_SIZE}) neighbours besides the centre."
        )
    )
    async def neighbourhood(
        self,
        info: Info[Context, None],
        ref: Annotated[
            str,
            strawberry.argument(
                description="The centre: an id, name or alias, any case, e.g. APT31 or agency:mss."
            ),
        ],
        hops: Annotated[
            int,
            strawberry.argument(
                description="How many claims out from the centre "
                f"(1-{traversal.MAX_NEIGHBOURHOOD_HOPS})."
            ),
        ] = arguments.DEFAULT_HOPS,
        min_likelihood: Annotated[
            Likelihood | None,
            strawberry.argument(description="Follow only claims at least this likely."),
        ] = None,
        first: Annotated[
            int,
            strawberry.argument(
                description=f"At most this many neighbours (0-{MAX_PAGE_SIZE}), nearest "
                "first, then by id."
            ),
        ] = arguments.DEFAULT_NEIGHBOURS,
        as_of: AsOf = None,
    ) -> Subgraph:
        parameters = arguments.neighbourhood(
            {"ref": ref, "hops": hops, "minLikelihood": min_likelihood, "first": first}
            | {"asOf": as_of}
        )
        found = await traversal.neighbourhood(info.context.graph, parameters, hops, ref)
        day = parameters["as_of"]
        return Subgraph(
            nodes=[entity_from_row(row, day) for row in found["nodes"]],
            relationships=[step_from_row(row, day) for row in found["relationships"]],
        )

    @strawberry.field(
        description=(
            "Competing claims side by side: every source's claim from one entity to another, "
            "one per source, each with its own grade, quote, assessor and reportedOn; by "
            "relation, then by source."
        )
    )
    async def claims(
        self,
        info: Info[Context, None],
        from_: Annotated[
            str,
            strawberry.argument(name="from", description="The subject: id, name or alias."),
        ],
        to: Annotated[str, strawberry.argument(description="The object: id, name or alias.")],
        relation: Annotated[
            str | None,
            strawberry.argument(description="Only this relation type, e.g. ATTRIBUTED_TO."),
        ] = None,
        as_of: AsOf = None,
    ) -> list[EvidenceStep]:
        parameters = arguments.claims(
            {"from": from_, "to": to, "relation": relation, "asOf": as_of}
        )
        rows = await traversal.claims_between(info.context.graph, parameters, from_, to)
        return [step_from_row(row, parameters["as_of"]) for row in rows]

    @strawberry.field(description=HISTORY_DESCRIPTION)
    async def history(
        self,
        info: Info[Context, None],
        ref: RefArgument,
        since: SinceArgument = None,
        until: UntilArgument = None,
        first: PageSize = None,
        after: PageCursor = None,
    ) -> HistoryConnection:
        return await history_page(info, ref, since, until, first, after)

    @strawberry.field(description=CHANGES_DESCRIPTION)
    async def changes(
        self,
        info: Info[Context, None],
        after: Annotated[
            str | None,
            strawberry.argument(description="Start after this cursor (from the first when null)."),
        ] = None,
        first: Annotated[
            int, strawberry.argument(description="How many changes at most (1-500).")
        ] = DEFAULT_CHANGES_PAGE,
    ) -> ChangeConnection:
        return await changes_page(info, after, first)

    @strawberry.field(description=STIX_BUNDLE_DESCRIPTION)
    async def stix_bundle(
        self,
        info: Info[Context, None],
        ref: StixRefArgument,
        hops: StixHopsArgument = arguments.DEFAULT_HOPS,
        as_of: AsOf = None,
    ) -> JSON:
        return await stix_bundle(info, ref, hops, as_of)
