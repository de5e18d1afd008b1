"""Identities across sources: the fields every entity has for its external ids, each
source's name for it and its possible duplicates (graph/reads/identities.py).

The three are read together, once per entity and day, through the request's
identities loader; schema/types.py puts the fields on the Entity interface.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry.types import Info

from graph.store.database import Record
from schema.context import Context

if TYPE_CHECKING:
    from schema.types import Entity, Source

SourceType = Annotated["Source", strawberry.lazy("schema.types")]
EntityType = Annotated["Entity", strawberry.lazy("schema.types")]


@strawberry.type(description="An id a source gives an entity, e.g. G0128 in MITRE ATT&CK.")
class ExternalId:
    source: str = strawberry.field(
        description=(
            "Whose id it is: mitre-attack, cve, capec, cwe; misp (a MISP galaxy uuid), iso "
            "(an ISO 3166 code), stix (a STIX id), url (a web address), else other."
        )
    )
    id: str = strawberry.field(description="The id as that source writes it, e.g. G0128.")
    url: str | None = strawberry.field(
        description="Where the source describes it, when the id says so."
    )


@strawberry.type(description="What one source calls an entity.")
class SourceName:
    source: SourceType = strawberry.field(description="The source, e.g. MITRE ATT&CK.")
    name: str = strawberry.field(description="The source's own name for it, e.g. ZIRCONIUM.")
    aliases: list[str] = strawberry.field(description="The other names that source gives.")
    ref: str | None = strawberry.field(
        description="The source's own id for it (a STIX id, a MISP uuid)."
    )
    url: str | None = strawberry.field(description="The source's page about it, if it has one.")


async def _identities(root: Any, info: Info[Context, None]) -> Record:
    row = await info.context.identities_loader(root.as_of).load(str(root.id))
    return row or {"externalIds": [], "names": [], "duplicates": []}


async def resolve_external_ids(root: Any, info: Info[Context, None]) -> list[ExternalId]:
    row = await _identities(root, info)
    return [ExternalId(source=x["source"], id=x["id"], url=x["url"]) for x in row["externalIds"]]


async def resolve_names_by_source(root: Any, info: Info[Context, None]) -> list[SourceName]:
    from schema.types import Source, entity_from_row

    row = await _identities(root, info)
    names = []
    for name in row["names"]:
        source = entity_from_row(name["source"], root.as_of)
        assert isinstance(source, Source)
        names.append(
            SourceName(
                source=source,
                name=name["name"],
                aliases=list(name["aliases"]),
                ref=name["ref"],
                url=name["url"],
            )
        )
    return names


async def resolve_possible_duplicates(root: Any, info: Info[Context, None]) -> list[EntityType]:
    from schema.types import entity_from_row

    row = await _identities(root, info)
    return [entity_from_row(other, root.as_of) for other in row["duplicates"]]


# The Entity interface's identity fields (schema/types.py).
EXTERNAL_IDS: Any = strawberry.field(
    resolver=resolve_external_ids,
    description=(
        "The ids sources give it (ATT&CK G0128, MISP uuids, STIX ids, ...), in the order "
        "they were recorded."
    ),
)
NAMES_BY_SOURCE: Any = strawberry.field(
    resolver=resolve_names_by_source,
    description=(
        "What each source that names it calls it (imports record their own names; the "
        "seed's name is `name`), by source id."
    ),
)
POSSIBLE_DUPLICATES: Any = strawberry.field(
    resolver=resolve_possible_duplicates,
    description=(
        "Entities an import found sharing a name or alias with this one but did not merge "
        "with it (recorded as ambiguous: never merged silently), by id."
    ),
)
