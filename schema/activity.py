"""Query.incidents and Query.activity: activity, or activity linked to an entity.

`activity` lists incidents and campaigns (the `kinds` it is given), `incidents`
incidents alone; both take the same arguments, defined here once, and answer
with graph/reads/activity.py's one statement. Each node implements `Activity`
(schema/types.py): its `kind`, and with linkedTo its `linkPath` and `linkPaths`.
"""

from __future__ import annotations

from typing import Annotated, Any

import strawberry
from strawberry.types import Info

from graph.linking.rule import ActivityKind, LinkRole
from graph.model.likelihood import Likelihood
from graph.reads import activity as reads
from graph.store.database import Record
from schema import arguments
from schema.context import Context
from schema.pagination import PageInfo, encode_cursor, page_info
from schema.scalars import INCLUDE_UNGRADED, Date
from schema.types import Activity, Incident, entity_from_row, path_from_row

LinkedToArgument = Annotated[
    str | None,
    strawberry.argument(description="Only activity linked to this entity (id, name or alias)."),
]
MinLikelihoodArgument = Annotated[
    Likelihood | None,
    strawberry.argument(description="Only links whose graded steps are all at least this likely."),
]
IncludeUngradedArgument = Annotated[bool, strawberry.argument(description=INCLUDE_UNGRADED)]
ActivitySinceArgument = Annotated[
    Date | None,
    strawberry.argument(
        description="Only activity still going on on or after this date (by its end, else its "
        "start; a campaign's last, else first sighting)."
    ),
]
ActivityUntilArgument = Annotated[
    Date | None,
    strawberry.argument(
        description="Only activity begun on or before this date (an incident's start, a "
        "campaign's first sighting)."
    ),
]
RoleArgument = Annotated[
    LinkRole,
    strawberry.argument(
        description="With linkedTo: follow only chains of this role (who did it, who was hit), "
        "or ANY."
    ),
]
TargetSectorArgument = Annotated[
    str | None,
    strawberry.argument(
        description="Only activity that targeted this sector (id, name or alias), or a victim "
        "in it or part of one in it (IN_SECTOR)."
    ),
]
KindsArgument = Annotated[
    list[ActivityKind],
    strawberry.argument(description="Which kinds of activity (at least one)."),
]
EVERY_KIND = list(ActivityKind)


@strawberry.type(description="An incident with its cursor.")
class IncidentEdge:
    cursor: str = strawberry.field(description="Pass as `after` to page on from here.")
    node: Incident = strawberry.field(description="The incident.")


@strawberry.type(description="A page of incidents.")
class IncidentConnection:
    total_count: int = strawberry.field(description="Incidents matching, over all pages.")
    edges: list[IncidentEdge] = strawberry.field(description="This page's incidents with cursors.")
    nodes: list[Incident] = strawberry.field(description="This page's incidents.")
    page_info: PageInfo = strawberry.field(description="Where this page stands.")


@strawberry.type(description="An incident or campaign with its cursor.")
class ActivityEdge:
    cursor: str = strawberry.field(description="Pass as `after` to page on from here.")
    node: Activity = strawberry.field(description="The incident or campaign.")


@strawberry.type(description="A page of activity: incidents and campaigns.")
class ActivityConnection:
    total_count: int = strawberry.field(description="Activity matching, over all pages.")
    edges: list[ActivityEdge] = strawberry.field(description="This page's activity with cursors.")
    nodes: list[Activity] = strawberry.field(description="This page's activity.")
    page_info: PageInfo = strawberry.field(description="Where this page stands.")


def activity_question(given: dict[str, Any]) -> dict[str, Any]:
    """The arguments of incidents or activity, by their GraphQL names, from their
    resolver's parameters (its `locals()`)."""
    return {
        "linkedTo": given["linked_to"],
        "minLikelihood": given["min_likelihood"],
        "includeUngraded": given["include_ungraded"],
        "since": given["since"],
        "until": given["until"],
        "first": given["first"],
        "after": given["after"],
        "asOf": given["as_of"],
        "role": given["role"],
        "targetSector": given["target_sector"],
    }


def activity_with_path(
    row: Record, as_of: str | None = None, question: dict[str, Any] | None = None
) -> Activity:
    """An incident or campaign of a page; `question`, the parameters of the linkedTo
    question when one was asked (its linkPaths follow them)."""
    found = entity_from_row(row["activity"], as_of)
    assert isinstance(found, Activity)
    if row.get("steps") is not None:
        found.link_path = path_from_row(row, as_of)
    if question is not None:
        found.link_question = tuple((name, question[name]) for name in arguments.LINK_QUESTION)
    return found


async def page_of_activity(
    info: Info[Context, None], asked: dict[str, Any]
) -> tuple[int, int, list[Activity]]:
    """(total, skip, nodes) of the page the GraphQL arguments `asked` ask for; `kinds`
    absent means incidents alone."""
    parameters = arguments.incidents(asked)
    linked_to = asked.get("linkedTo")
    page = await reads.activity(
        info.context.graph, parameters, linked_to, arguments.activity_labels(asked)
    )
    question = parameters if linked_to is not None else None
    nodes = [activity_with_path(row, parameters["as_of"], question) for row in page.rows]
    return page.total, parameters["root_skip"], nodes


async def incidents_page(info: Info[Context, None], asked: dict[str, Any]) -> IncidentConnection:
    total, skip, nodes = await page_of_activity(info, asked)
    incidents: list[Incident] = []
    for node in nodes:
        assert isinstance(node, Incident)  # no `kinds`: incidents alone
        incidents.append(node)
    return IncidentConnection(
        total_count=total,
        edges=[
            IncidentEdge(cursor=encode_cursor(skip + i), node=n) for i, n in enumerate(incidents)
        ],
        nodes=incidents,
        page_info=page_info(skip, len(incidents), total),
    )


async def activity_page(info: Info[Context, None], asked: dict[str, Any]) -> ActivityConnection:
    total, skip, nodes = await page_of_activity(info, asked)
    return ActivityConnection(
        total_count=total,
        edges=[ActivityEdge(cursor=encode_cursor(skip + i), node=n) for i, n in enumerate(nodes)],
        nodes=nodes,
        page_info=page_info(skip, len(nodes), total),
    )
