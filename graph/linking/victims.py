"""Victims by sector and country: what a victim's sectors and country are, and which
incidents (or campaigns) targeted a sector (incidents(targetSector:)).

A victim is in a sector when a claim says so (IN_SECTOR); it is in the country its
LOCATED_IN and PART_OF claims lead to first. An incident targeted a sector when its
victim chain (rule.py's TARGETED, then PART_OF: the victim and what it belongs to)
reaches the sector itself, or a victim in it: the reconnaissance of UK
parliamentarians targeted a democratic institution because the parliamentarians
are part of Parliament. Every claim counts as it was known on $as_of.
"""

from __future__ import annotations

from typing import LiteralString

from graph.linking.rule import MAX_ONWARD_CLAIMS, TARGETED_LINK
from graph.model.dates import ACTIVITY_IN_WINDOW
from graph.model.known import AS_OF, claim_known, entity_known

SECTOR_CLAIM: LiteralString = "IN_SECTOR"
# What places a victim in a country: where it is, or what it is part of.
COUNTRY_CLAIMS: LiteralString = "LOCATED_IN|PART_OF"
# How far a victim's country is looked for, in claims (a member of a body of a state).
MAX_COUNTRY_CLAIMS: LiteralString = "4"


def sectors_of(node: str, other: str, as_of: str = AS_OF) -> str:
    """Cypher: the sectors `node` is in by a claim known on the day `as_of`, by name,
    then id, as a list of nodes."""
    rel = other + "_r"
    return (
        f"COLLECT {{ MATCH ({node})-[{rel}:{SECTOR_CLAIM}]->({other}:Sector) "
        f"WHERE {claim_known(rel, as_of)} AND {entity_known(other, as_of)} "
        f"RETURN DISTINCT {other} ORDER BY {other}.name, {other}.id }}"
    )


def country_of(node: str, other: str, as_of: str = AS_OF) -> str:
    """Cypher: a one-item list of the country `node` is in (the nearest Country its
    LOCATED_IN and PART_OF claims known on `as_of` lead to, then the first by id), or
    an empty list."""
    rel = other + "_r"
    return (
        f"COLLECT {{ MATCH p = ({node}) (()-[{rel}:{COUNTRY_CLAIMS} WHERE "
        f"{claim_known(rel, as_of)}]->()){{1,{MAX_COUNTRY_CLAIMS}}} ({other}:Country) "
        f"WHERE {entity_known(other, as_of)} "
        f"RETURN {other} ORDER BY length(p), {other}.id LIMIT 1 }}"
    )


# Activity `i` targeted the sector whose lookup key is $target_sector, by a chain of
# claims known on $as_of.
TARGETS_SECTOR: LiteralString = (
    "EXISTS { "
    "MATCH (i)-[tg_tc:" + TARGETED_LINK[0] + " WHERE " + claim_known("tg_tc") + "]->() "
    "(()-[tg_tp:" + TARGETED_LINK[1] + " WHERE " + claim_known("tg_tp") + "]->()){0,"
    "" + MAX_ONWARD_CLAIMS + "} (tg_victim) "
    "WHERE (tg_victim:Sector AND $target_sector IN tg_victim.lookup_keys) "
    "OR EXISTS { MATCH (tg_victim)-[tg_ts:" + SECTOR_CLAIM + "]->(tg_sector:Sector) "
    "WHERE " + claim_known("tg_ts") + " AND $target_sector IN tg_sector.lookup_keys } }"
)


def activity_kept(sector: bool) -> LiteralString:
    """Cypher: activity `i` is one the question keeps: in the date window $since/$until
    and, when `sector`, one that targeted the sector $target_sector. The sector test is
    in the text only when asked, so a question without one plans as before."""
    if sector:
        return ACTIVITY_IN_WINDOW + " AND " + TARGETS_SECTOR
    return ACTIVITY_IN_WINDOW
