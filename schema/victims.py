"""Victims by sector and country: the `Victim` interface, which the bodies and people
an incident can target (Organisation, Agency, Group, Person) implement.

Both fields are read together, once per entity and day, through the request's
victims loader (graph/reads/victims.py); what they mean is
graph/linking/victims.py's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry.types import Info

from graph.store.database import Record
from schema.context import Context

if TYPE_CHECKING:
    from schema.types import Country, Sector

SectorType = Annotated["Sector", strawberry.lazy("schema.types")]
CountryType = Annotated["Country", strawberry.lazy("schema.types")]


async def _victim(root: Any, info: Info[Context, None]) -> Record:
    return await info.context.victims_loader(root.as_of).load(str(root.id))


@strawberry.interface(
    description=(
        "A body or person an incident can target, with the sectors and the country the "
        "claims place it in (`incidents(targetSector:)` filters on the sectors)."
    )
)
class Victim:
    @strawberry.field(
        description=(
            "The sectors it is in (IN_SECTOR claims, e.g. from the seed, a STIX identity's "
            '`sectors`), by name; `relations(types: ["IN_SECTOR"])` gives the claims.'
        )
    )
    async def sectors(self, info: Info[Context, None]) -> list[SectorType]:
        from schema.types import Sector, entity_from_row

        row = await _victim(self, info)
        found = [entity_from_row(s, getattr(self, "as_of", None)) for s in row["sectors"]]
        return [s for s in found if isinstance(s, Sector)]

    @strawberry.field(
        description=(
            "The country it is in: the nearest one its LOCATED_IN and PART_OF claims lead to "
            "(then the first by id); null when none does."
        )
    )
    async def country(self, info: Info[Context, None]) -> CountryType | None:
        from schema.types import Country, entity_from_row

        row = await _victim(self, info)
        if row["country"] is None:
            return None
        found = entity_from_row(row["country"], getattr(self, "as_of", None))
        return found if isinstance(found, Country) else None
