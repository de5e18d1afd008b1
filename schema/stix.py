"""Query.stixBundle: the STIX 2.1 export of a neighbourhood, as `threatgraph export stix` writes it.

The export (seed.importers.stix_export) is defined once, beside the importer whose
mapping it shares. schema/ never imports seed/, so the API hands that exporter to
the resolver through the context (api/app.py); the compiled executor leaves the
field to this resolver.
"""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from graph.reads.questions import MAX_NEIGHBOURHOOD_HOPS
from schema import arguments
from schema.context import Context

STIX_BUNDLE_DESCRIPTION = (
    "The entities within `hops` claims of an entity, the claims between them, their "
    "sources and assessors, as a STIX 2.1 bundle (a JSON object): the same bundle as "
    "`threatgraph export stix --ref REF --hops N`. TLP markings kept on import come back "
    "as `object_marking_refs`, with their marking definitions in the bundle."
)
StixRefArgument = Annotated[
    str,
    strawberry.argument(description="The centre: an id, name or alias, any case, e.g. APT31."),
]
StixHopsArgument = Annotated[
    int,
    strawberry.argument(
        description=f"How many claims out from the centre (0-{MAX_NEIGHBOURHOOD_HOPS}; "
        "0: the entity alone)."
    ),
]


async def stix_bundle(info: Info[Context, None], ref: str, hops: int, as_of: str | None) -> JSON:
    arguments.checked_ref(ref, "ref")
    arguments.checked_range(hops, "hops", 0, MAX_NEIGHBOURHOOD_HOPS)
    day = arguments.as_of({"asOf": as_of})
    exporter = info.context.stix_exporter
    if exporter is None:
        raise RuntimeError("this context has no STIX exporter")  # a bug: masked as internal
    return JSON(await exporter(info.context.graph, ref, hops, day))
