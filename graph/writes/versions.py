"""Keeping the version of a claim that a write replaces (graph/model/known.py).

A write that changes a standing claim's grade, or makes again a claim a
revision withdrew, first copies the claim as it stood into a withdrawn
version `<id>~<day>` between the same ends, so questions as of an earlier day,
and `history`, still see it. A version current since the same day is simply
overwritten: it never stood at the end of any day.
"""

from __future__ import annotations

from typing import LiteralString

from graph.model.known import VERSION_MARK


def keep_replaced_version(relation: LiteralString, also: LiteralString = "true") -> LiteralString:
    """A Cypher CALL, run right after MERGE of the claim `r` of type `relation` between
    `a` and `b`, given `row` (its `props.likelihood` the new grade), `before` (the
    claim's properties before the write), `day` (the write's date) and `created`
    (whether the MERGE made it): keeps the replaced version and dates the new one.
    `also` is a further condition (e.g. that the write changes anything)."""
    return (
        "CALL (*) { "
        "  WITH * WHERE NOT created AND " + also + " "
        "    AND (before.withdrawn_on IS NOT NULL OR before.likelihood <> row.props.likelihood) "
        "    AND coalesce(before.known_from, before.reported_on, '') < day "
        "  CREATE (a)-[old:" + relation + "]->(b) "
        "  SET old = before {.*, id: before.id + '" + VERSION_MARK + "' + day, "
        "    withdrawn_on: coalesce(before.withdrawn_on, day), "
        "    superseded: before.withdrawn_on IS NULL} "
        "  SET r.known_from = day "
        "} "
    )
