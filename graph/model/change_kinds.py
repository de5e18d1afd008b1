"""What a change in the change feed is: its kinds and its fields.

Writes record changes (graph/writes/changes.py) and the closure's upkeep reads
them (graph/linking/upkeep.py); both take these names from here.
"""

from __future__ import annotations

CREATED = "created"
UPDATED = "updated"
DELETED = "deleted"
WITHDRAWN = "withdrawn"
KINDS = {
    CREATED: "an entity or relationship that did not exist now does",
    UPDATED: "an existing one had a property or label changed (a write of equal values is none)",
    DELETED: "a claim was deleted on request (the deleteRelation mutation)",
    WITHDRAWN: "a claim or mention was removed because its source no longer makes it "
    "(a seed file reloaded without it)",
}

# The fields of a change, each stored as one list property of its ChangeSet.
FIELDS = ("kind", "entity_id", "entity_label", "relationship_id", "relation", "source_id")
