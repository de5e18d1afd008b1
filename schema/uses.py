"""What an actor, campaign or piece of software uses: its ATT&CK techniques and its
software, each with the claims that say so (graph/reads/identities.py uses_of).

schema/types.py puts `techniques` on ThreatActor, Campaign and Software and
`software` on ThreatActor and Campaign.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry.types import Info

from graph.store.database import Record
from schema import arguments
from schema.context import Context
from schema.pagination import PageCursor, PageInfo, PageSize, encode_cursor, page_info
from schema.scalars import AsOf

if TYPE_CHECKING:
    from schema.types import AttackPattern, EvidenceStep, Software

AttackPatternType = Annotated["AttackPattern", strawberry.lazy("schema.types")]
SoftwareType = Annotated["Software", strawberry.lazy("schema.types")]
EvidenceStepType = Annotated["EvidenceStep", strawberry.lazy("schema.types")]

_CLAIMS = (
    "The claims that it is used (USES, or USED_BY the other way), strongest first, then "
    "by source: each with its source, quote (ATT&CK's procedure text), date and grade."
)


@strawberry.type(description="An ATT&CK technique (or other attack pattern) in use.")
class TechniqueUse:
    external_id: str | None = strawberry.field(
        description="Its ATT&CK id, e.g. T1566.002 (null for a technique without one)."
    )
    name: str = strawberry.field(description="The technique's name, e.g. Spearphishing Link.")
    tactics: list[str] = strawberry.field(
        description="The ATT&CK tactics (kill-chain phases) it serves, e.g. initial-access."
    )
    technique: AttackPatternType = strawberry.field(description="The technique itself.")
    claims: list[EvidenceStepType] = strawberry.field(description=_CLAIMS)


@strawberry.type(description="A piece of software (malware or tool) in use.")
class SoftwareUse:
    external_id: str | None = strawberry.field(
        description="Its ATT&CK id, e.g. S0154 (null for software without one)."
    )
    name: str = strawberry.field(description="The software's name.")
    software_type: str | None = strawberry.field(description="malware or tool, when known.")
    software: SoftwareType = strawberry.field(description="The software itself.")
    claims: list[EvidenceStepType] = strawberry.field(description=_CLAIMS)


@strawberry.type(description="A technique in use with its cursor.")
class TechniqueUseEdge:
    cursor: str = strawberry.field(description="Pass as `after` to page on from here.")
    node: TechniqueUse = strawberry.field(description="The technique in use.")


@strawberry.type(description="A page of the techniques an entity uses, by ATT&CK id.")
class TechniqueUseConnection:
    total_count: int = strawberry.field(description="Techniques used, over all pages.")
    edges: list[TechniqueUseEdge] = strawberry.field(description="This page, with cursors.")
    nodes: list[TechniqueUse] = strawberry.field(description="This page's techniques.")
    page_info: PageInfo = strawberry.field(description="Where this page stands.")


@strawberry.type(description="Software in use with its cursor.")
class SoftwareUseEdge:
    cursor: str = strawberry.field(description="Pass as `after` to page on from here.")
    node: SoftwareUse = strawberry.field(description="The software in use.")


@strawberry.type(description="A page of the software an entity uses, by ATT&CK id.")
class SoftwareUseConnection:
    total_count: int = strawberry.field(description="Software used, over all pages.")
    edges: list[SoftwareUseEdge] = strawberry.field(description="This page, with cursors.")
    nodes: list[SoftwareUse] = strawberry.field(description="This page's software.")
    page_info: PageInfo = strawberry.field(description="Where this page stands.")


async def _page(
    root: Any,
    info: Info[Context, None],
    used: str,
    first: int | None,
    after: str | None,
    as_of: str | None,
) -> tuple[int, int, list[Record]]:
    filters = arguments.use_filter(
        used, {"first": first, "after": after, "asOf": as_of}, root.as_of
    )
    total, rows = await info.context.uses_loader(filters).load(str(root.id))
    return filters.skip, total, rows


def _claims(row: Record, as_of: str | None) -> list[EvidenceStep]:
    from schema.types import step_from_row

    return [step_from_row(claim, as_of) for claim in row["claims"]]


async def resolve_techniques(
    root: Any,
    info: Info[Context, None],
    first: PageSize = None,
    after: PageCursor = None,
    as_of: AsOf = None,
) -> TechniqueUseConnection:
    from schema.types import AttackPattern, entity_from_row

    skip, total, rows = await _page(root, info, "techniques", first, after, as_of)
    day = arguments.as_of({"asOf": as_of}) or root.as_of
    uses = []
    for row in rows:
        technique = entity_from_row(row["used"], day)
        assert isinstance(technique, AttackPattern)
        uses.append(
            TechniqueUse(
                external_id=row["externalId"],
                name=technique.name,
                tactics=list(technique.tactics),
                technique=technique,
                claims=_claims(row, day),
            )
        )
    return TechniqueUseConnection(
        total_count=total,
        edges=[
            TechniqueUseEdge(cursor=encode_cursor(skip + i), node=u) for i, u in enumerate(uses)
        ],
        nodes=uses,
        page_info=page_info(skip, len(uses), total),
    )


async def resolve_software(
    root: Any,
    info: Info[Context, None],
    first: PageSize = None,
    after: PageCursor = None,
    as_of: AsOf = None,
) -> SoftwareUseConnection:
    from schema.types import Software, entity_from_row

    skip, total, rows = await _page(root, info, "software", first, after, as_of)
    day = arguments.as_of({"asOf": as_of}) or root.as_of
    uses = []
    for row in rows:
        software = entity_from_row(row["used"], day)
        assert isinstance(software, Software)
        uses.append(
            SoftwareUse(
                external_id=row["externalId"],
                name=software.name,
                software_type=software.software_type,
                software=software,
                claims=_claims(row, day),
            )
        )
    return SoftwareUseConnection(
        total_count=total,
        edges=[SoftwareUseEdge(cursor=encode_cursor(skip + i), node=u) for i, u in enumerate(uses)],
        nodes=uses,
        page_info=page_info(skip, len(uses), total),
    )


def techniques_field() -> Any:
    """`techniques`, for each type that has it (a field belongs to one type)."""
    return strawberry.field(
        resolver=resolve_techniques,
        description=(
            "The ATT&CK techniques it uses (empty until `threatgraph import attack`), by ATT&CK "
            "id, each with its tactics and the claims that say so; page with first/after."
        ),
    )


def software_field() -> Any:
    """`software`, for each type that has it."""
    return strawberry.field(
        resolver=resolve_software,
        description=(
            "The software (malware and tools) it uses (empty until `threatgraph import "
            "attack`), by ATT&CK id, each with the claims that say so; page with first/after."
        ),
    )
