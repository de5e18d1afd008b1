"""GraphQL types: the Entity interface, one type per label, and the evidence types.

Instances are built from the plain dicts graph/reads/questions.py returns
(`entity_from_row`, `step_from_row`); leaf fields are plain attributes, so no
per-field resolver runs on hot paths. Only `sources` and `relations` on an
entity resolve lazily, through the request's DataLoaders.
"""

from __future__ import annotations

from typing import Annotated, Any

import strawberry
from strawberry.types import Info

from graph.linking.rule import LinkRole
from graph.model.likelihood import Likelihood
from graph.model.reliability import Reliability
from graph.store.database import Record
from schema import arguments, identities, uses, victims
from schema.context import Context
from schema.federation import ENTITY_KEY
from schema.pagination import PageCursor, PageInfo, PageSize, encode_cursor, page_info
from schema.scalars import MARKINGS_DESCRIPTION, RELIABILITY_DESCRIPTION, AsOf, Date, Direction


@strawberry.interface(
    description=(
        "Anything in the graph: actors, agencies, states, incidents, victims, assets, sources. "
        "Look one up by id, name or alias with `entity(ref:)`."
    )
)
class Entity:
    id: strawberry.ID = strawberry.field(description="Stable id, e.g. actor:apt31.")
    name: str = strawberry.field(description="The caption, e.g. APT31.")
    aliases: list[str] = strawberry.field(description="Other names, e.g. ZIRCONIUM.")
    description: str = strawberry.field(description="What the sources say this entity is.")
    kind: str = strawberry.field(description="The node label, e.g. ThreatActor.")
    markings: list[str] = strawberry.field(
        default_factory=list,
        description=MARKINGS_DESCRIPTION,
    )
    # The day the question that found it asks about (None: today); its nested
    # relations and attributions answer for the same day unless given their own asOf.
    as_of: strawberry.Private[str | None] = None

    external_ids = identities.EXTERNAL_IDS
    names_by_source = identities.NAMES_BY_SOURCE
    possible_duplicates = identities.POSSIBLE_DUPLICATES

    @classmethod
    async def resolve_reference(cls, info: Info[Context, None], id: strawberry.ID) -> Entity | None:
        """Federation: the entity `id` names, if it is of this type; null otherwise.

        Batched through the request's entity loader: one round-trip per `_entities`.
        """
        row = await info.context.entity_loader.load(str(id))
        return entity_from_row(row) if row is not None and row["kind"] == cls.__name__ else None

    @strawberry.field(description="Sources that mention this entity, by id.")
    async def sources(self, info: Info[Context, None]) -> list[Source]:
        rows = await info.context.sources_loader.load(str(self.id))
        return [entity_from_row(row) for row in rows]  # type: ignore[misc]

    @strawberry.field(
        description=(
            "This entity's claims, strongest first. Filter by relation type(s), direction "
            "and minimum likelihood; page with first/after."
        )
    )
    async def relations(
        self,
        info: Info[Context, None],
        types: Annotated[
            list[str] | None,
            strawberry.argument(
                description='Only these relation types, e.g. ["ATTRIBUTED_TO"] (all when null).'
            ),
        ] = None,
        direction: Annotated[
            Direction,
            strawberry.argument(description="OUT: claims with it as subject; IN: as object; BOTH."),
        ] = Direction.BOTH,
        min_likelihood: Annotated[
            Likelihood | None,
            strawberry.argument(description="Only claims graded at least this likely."),
        ] = None,
        first: PageSize = None,
        after: PageCursor = None,
        as_of: AsOf = None,
    ) -> RelationConnection:
        filters = arguments.relation_filter(
            {
                "types": types,
                "direction": direction,
                "minLikelihood": min_likelihood,
                "first": first,
                "after": after,
                "asOf": as_of,
            },
            self.as_of,
        )
        skip = filters.skip
        total, rows = await info.context.relations_loader(filters).load(str(self.id))
        steps = [step_from_row(row, filters.as_of) for row in rows]
        return RelationConnection(
            total_count=total,
            edges=[
                RelationEdge(cursor=encode_cursor(skip + i), node=s) for i, s in enumerate(steps)
            ],
            nodes=steps,
            page_info=page_info(skip, len(steps), total),
        )


@strawberry.type(description="A threat actor or intrusion set.", directives=ENTITY_KEY)
class ThreatActor(Entity):
    stix_type: str | None = strawberry.field(
        default=None, description="The STIX type it was imported as, e.g. intrusion-set."
    )
    first_seen: Date | None = strawberry.field(default=None, description="First seen active.")
    last_seen: Date | None = strawberry.field(default=None, description="Last seen active.")
    motivation: str | None = strawberry.field(
        default=None, description="Why it acts, as a source gives it (e.g. espionage)."
    )
    sophistication: str | None = strawberry.field(
        default=None, description="How capable it is, as a source gives it (STIX vocabulary)."
    )
    techniques = uses.techniques_field()
    software = uses.software_field()


@strawberry.type(
    description="A state agency or government body (MSS, GCHQ, NCSC).", directives=ENTITY_KEY
)
class Agency(Entity, victims.Victim):
    reliability: Reliability | None = strawberry.field(
        default=None, description=RELIABILITY_DESCRIPTION + " As a publisher, of its sources."
    )


@strawberry.type(description="An organisation that is not a state agency.", directives=ENTITY_KEY)
class Organisation(Entity, victims.Victim):
    reliability: Reliability | None = strawberry.field(
        default=None, description=RELIABILITY_DESCRIPTION + " As a publisher, of its sources."
    )


@strawberry.type(description="A state.", directives=ENTITY_KEY)
class Country(Entity):
    iso_code: str | None = strawberry.field(
        default=None, description="ISO 3166-1 alpha-2 code, e.g. CN."
    )


@strawberry.type(
    description="A region or other location that is not a state.", directives=ENTITY_KEY
)
class Region(Entity):
    pass


@strawberry.type(description="A named person.", directives=ENTITY_KEY)
class Person(Entity, victims.Victim):
    role: str | None = strawberry.field(
        default=None, description="Their role as the source gives it."
    )


@strawberry.type(description="A group of people, e.g. UK parliamentarians.", directives=ENTITY_KEY)
class Group(Entity, victims.Victim):
    pass


@strawberry.interface(
    description=(
        "What actors do: incidents and campaigns. `activity(linkedTo:)` lists both, with "
        "the same evidence paths, roles and asOf as `incidents(linkedTo:)`."
    )
)
class Activity(Entity):
    link_path: EvidencePath | None = strawberry.field(
        default=None,
        description=(
            "With linkedTo (`incidents`, `activity`): the strongest chain of claims from here to "
            "that entity (weakest step first decides; then the shortest; then the first by "
            "claim ids, so the same graph always shows the same chain). Null elsewhere."
        ),
    )

    # The linkedTo question that found it (arguments.LINK_QUESTION), for linkPaths;
    # None elsewhere.
    link_question: strawberry.Private[tuple[tuple[str, Any], ...] | None] = None

    @strawberry.field(
        description=(
            "With linkedTo: the next strongest chains to that entity after "
            "`linkPath`, in the same order (strongest, then shortest, then by claim ids), so "
            "every piece of evidence for the link can be seen, not only the best. Null elsewhere."
        )
    )
    async def link_paths(
        self,
        info: Info[Context, None],
        first: Annotated[
            int,
            strawberry.argument(
                description=f"At most this many chains (0-{arguments.MAX_LINK_PATHS})."
            ),
        ] = arguments.DEFAULT_LINK_PATHS,
    ) -> list[EvidencePath] | None:
        if self.link_question is None:
            return None
        parameters = arguments.link_paths("paths", {"first": first})
        question = (*self.link_question, *parameters.items())
        rows = await info.context.link_paths_loader(question).load(str(self.id))
        return [path_from_row(row, self.as_of) for row in rows]

    @strawberry.field(
        description=(
            "Every source's attribution of this activity (ATTRIBUTED_TO), side by side, each "
            "with its own grade, quote, assessor and date: strongest first, then by source."
        )
    )
    async def attributions(
        self, info: Info[Context, None], as_of: AsOf = None
    ) -> list[EvidenceStep]:
        day = arguments.as_of({"asOf": as_of}) or self.as_of
        found, _ = await info.context.attributions_loader(day).load(str(self.id))
        return [step_from_row(row, day) for row in found]

    @strawberry.field(
        description=(
            "True when two attributions name actors that neither links to the other (by the "
            "linkedTo rule, either way), or grade the same actor two or more yardstick bands "
            "apart."
        )
    )
    async def disputed(self, info: Info[Context, None]) -> bool:
        _, disputed = await info.context.attributions_loader(self.as_of).load(str(self.id))
        return disputed


@strawberry.type(description="A malicious cyber incident.", directives=ENTITY_KEY)
class Incident(Activity):
    started: Date | None = strawberry.field(default=None, description="When it began.")
    ended: Date | None = strawberry.field(default=None, description="When it ended.")
    status: str | None = strawberry.field(
        default=None, description="Where it stands, e.g. mitigated or remediated."
    )
    outcome: str | None = strawberry.field(
        default=None, description="How it ended, in the source's terms."
    )
    disclosed: Date | None = strawberry.field(default=None, description="When it was made public.")


@strawberry.type(description="A campaign of related intrusions.", directives=ENTITY_KEY)
class Campaign(Activity):
    first_seen: Date | None = strawberry.field(default=None, description="First seen active.")
    last_seen: Date | None = strawberry.field(default=None, description="Last seen active.")
    techniques = uses.techniques_field()
    software = uses.software_field()


@strawberry.type(
    description="Data or systems that can be held, targeted or taken.", directives=ENTITY_KEY
)
class Asset(Entity):
    pass


@strawberry.type(description="Software: products, malware or tools.", directives=ENTITY_KEY)
class Software(Entity):
    software_type: str | None = strawberry.field(
        default=None, description="The STIX type it was imported as: malware or tool."
    )
    techniques = uses.techniques_field()


@strawberry.type(description="A technique, e.g. an ATT&CK technique.", directives=ENTITY_KEY)
class AttackPattern(Entity):
    tactics: list[str] = strawberry.field(
        default_factory=list,
        description="The ATT&CK tactics (kill-chain phases) it serves, e.g. initial-access.",
    )


@strawberry.type(description="A vulnerability, e.g. a CVE.", directives=ENTITY_KEY)
class Vulnerability(Entity):
    pass


@strawberry.type(description="An industry or sector of society.", directives=ENTITY_KEY)
class Sector(Entity):
    pass


@strawberry.type(
    description="A published report or statement: where claims come from.", directives=ENTITY_KEY
)
class Source(Entity):
    url: str | None = strawberry.field(default=None, description="Where it is published.")
    publisher: str | None = strawberry.field(default=None, description="Publisher's entity id.")
    published: Date | None = strawberry.field(default=None, description="Publication date.")
    title: str | None = strawberry.field(
        default=None, description="Its title when it differs from the name."
    )
    reliability: Reliability | None = strawberry.field(
        default=None, description=RELIABILITY_DESCRIPTION + " Its publisher's when it has none."
    )


ENTITY_TYPES: dict[str, type[Entity]] = {
    cls.__name__: cls
    for cls in (
        ThreatActor,
        Agency,
        Organisation,
        Country,
        Region,
        Person,
        Group,
        Incident,
        Campaign,
        Asset,
        Software,
        AttackPattern,
        Vulnerability,
        Sector,
        Source,
    )
}
_FIELDS = {name: set(cls.__annotations__) for name, cls in ENTITY_TYPES.items()}


def entity_from_row(row: Record, as_of: str | None = None) -> Entity:
    """An Entity of the right concrete type from a traversal row, found by a question
    about the day `as_of` (None: today)."""
    kind = row["kind"]
    cls = ENTITY_TYPES[kind]
    extra = {key: row.get(key) for key in _FIELDS[kind] if key in row and key != "link_path"}
    if extra.get("reliability"):
        extra["reliability"] = Reliability(extra["reliability"])
    return cls(
        id=strawberry.ID(row["id"]),
        name=row["name"],
        aliases=list(row.get("aliases") or []),
        description=row.get("description") or "",
        kind=kind,
        markings=list(row.get("markings") or []),
        as_of=as_of,
        **extra,
    )


@strawberry.type(
    description=(
        "One claim: `from` —relation→ `to`, graded on the PHIA yardstick, with the verbatim "
        "quote, the sources that make it and who assessed it."
    )
)
class EvidenceStep:
    id: strawberry.ID = strawberry.field(
        description="Stable claim id: from-RELATION->to@source (for deleteRelation)."
    )
    from_: Entity = strawberry.field(name="from", description="The subject of the claim.")
    relation: str = strawberry.field(description="The relation type, e.g. ATTRIBUTED_TO.")
    to: Entity = strawberry.field(description="The object of the claim.")
    likelihood: Likelihood = strawberry.field(
        description=(
            "How likely the source judges the claim: UNGRADED for a judgment it states without "
            "an estimative term, FACT for what is not a judgment."
        )
    )
    quote: str | None = strawberry.field(
        description="The source's own sentence the claim rests on, verbatim."
    )
    sources: list[Source] = strawberry.field(description="The sources that make this claim.")
    assessed_by: Entity | None = strawberry.field(
        description="Who made the assessment, e.g. the NCSC."
    )
    valid_from: Date | None = strawberry.field(description="From when the claim holds.")
    valid_to: Date | None = strawberry.field(description="Until when the claim holds.")
    corroboration: int = strawberry.field(
        default=1,
        description="How many distinct sources make this same claim (relation and ends).",
    )
    reported_on: Date | None = strawberry.field(
        default=None,
        description=(
            "When the claim became known: the publication date of its source (or of the "
            "revision that added it); for an analyst's own claim, the day it was written. "
            "validFrom/validTo say when the relation held in the world."
        ),
    )
    source_reliability: Reliability | None = strawberry.field(
        default=None,
        description=(
            "How reliable the claim's source is (Admiralty A-F): the grade imported with the "
            "claim, else its source's, else its source's publisher's; null when none is given. "
            "It never changes the likelihood."
        ),
    )
    markings: list[str] = strawberry.field(
        default_factory=list,
        description=MARKINGS_DESCRIPTION,
    )
    withdrawn_on: Date | None = strawberry.field(
        default=None,
        description=(
            "When a revision of its source dropped the claim, or replaced it with a new grade "
            "(then `history` shows it REGRADED); null while it stands. Only answers with an "
            "earlier asOf, and history, show withdrawn claims."
        ),
    )


def step_from_row(row: Record, as_of: str | None = None) -> EvidenceStep:
    """An EvidenceStep from graph/reads/fields.py step_row, found by a question about
    the day `as_of` (None: today)."""
    return EvidenceStep(
        id=strawberry.ID(row["id"]),
        from_=entity_from_row(row["from"], as_of),
        relation=row["relation"],
        to=entity_from_row(row["to"], as_of),
        likelihood=Likelihood(row["likelihood"]),
        quote=row.get("quote"),
        sources=[entity_from_row(s, as_of) for s in row.get("sources") or []],  # type: ignore[misc]
        assessed_by=entity_from_row(row["assessedBy"], as_of) if row.get("assessedBy") else None,
        valid_from=row.get("validFrom"),
        valid_to=row.get("validTo"),
        reported_on=row.get("reportedOn"),
        withdrawn_on=row.get("withdrawnOn"),
        markings=list(row.get("markings") or []),
        source_reliability=(
            Reliability(row["sourceReliability"]) if row.get("sourceReliability") else None
        ),
        corroboration=row["corroboration"],
    )


@strawberry.type(
    description=(
        "A chain of claims. Its likelihood is its weakest graded step's: never stronger than "
        "any link; ungradedSteps counts the steps whose source gave no grade."
    )
)
class EvidencePath:
    role: LinkRole | None = strawberry.field(
        default=None,
        description=(
            "In incidents(linkedTo:): how the chain links, by its first claim: ATTRIBUTED (who "
            "did it) or TARGETED (who was hit); null for an incident linked to itself, and in "
            "path()."
        ),
    )
    likelihood: Likelihood = strawberry.field(
        description=(
            "The weakest graded step's likelihood: how strongly the chain as a whole holds. "
            "UNGRADED when no step is graded."
        )
    )
    ungraded_steps: int = strawberry.field(
        description=(
            "Steps a source states without an estimative term (UNGRADED): they do not "
            "count towards the likelihood, and a chain with fewer of them ranks first."
        )
    )
    steps: list[EvidenceStep] = strawberry.field(
        description="The claims in order, from the start of the chain to its end."
    )


def path_from_row(row: Record, as_of: str | None = None) -> EvidencePath:
    """An evidence path from a row's `likelihood` (graph/reads/fields.py path_likelihood)
    and `steps`, found by a question about the day `as_of` (None: today)."""
    steps = [step_from_row(step, as_of) for step in row["steps"]]
    return EvidencePath(
        role=LinkRole(row["role"]) if row.get("role") else None,
        likelihood=Likelihood(row["likelihood"]),
        ungraded_steps=row["ungradedSteps"],
        steps=steps,
    )


@strawberry.type(description="A claim with its cursor.")
class RelationEdge:
    cursor: str = strawberry.field(description="Pass as `after` to page on from here.")
    node: EvidenceStep = strawberry.field(description="The claim.")


@strawberry.type(description="A page of an entity's claims.")
class RelationConnection:
    total_count: int = strawberry.field(description="Claims matching, over all pages.")
    edges: list[RelationEdge] = strawberry.field(description="This page's claims with cursors.")
    nodes: list[EvidenceStep] = strawberry.field(description="This page's claims.")
    page_info: PageInfo = strawberry.field(description="Where this page stands.")
