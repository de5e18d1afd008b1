"""TLP markings in STIX 2.1: which marking definitions threatgraph keeps, and their objects.

An imported object's `object_marking_refs` that name a TLP marking (TLP 1.0, the
`tlp` definitions of the STIX 2.1 specification, or TLP 2.0, the OASIS property
extension; their ids are graph/model/markings.py's) are kept, in the order given,
as the `markings` property of the entity or claim the object becomes. The
exporter writes them back as the same refs, with these definitions in the bundle.
Both TLP versions have fixed, published ids and objects, so a marking is
recognised by its id whether or not the bundle carries its definition; any other
marking definition is skipped and counted.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import stix2  # type: ignore[import-untyped,unused-ignore]

from graph.model.markings import TLP2_IDS

TLP2_EXTENSION = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d"


def _tlp2(level: str, marking_id: str) -> dict[str, Any]:
    return {
        "type": "marking-definition",
        "spec_version": "2.1",
        "id": marking_id,
        "created": "2022-10-01T00:00:00.000Z",
        "name": f"TLP:{level.upper()}",
        "extensions": {TLP2_EXTENSION: {"extension_type": "property-extension", "tlp_2_0": level}},
    }


def _tlp1(definition: Any) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(definition.serialize())
    return loaded


# Marking-definition id -> the marking-definition object, as published.
TLP_DEFINITIONS: dict[str, dict[str, Any]] = {
    **{
        str(definition.id): _tlp1(definition)
        for definition in (stix2.TLP_WHITE, stix2.TLP_GREEN, stix2.TLP_AMBER, stix2.TLP_RED)
    },
    **{marking_id: _tlp2(level, marking_id) for level, marking_id in TLP2_IDS.items()},
}


def kept_markings(obj: dict[str, Any], skipped: Any) -> list[str]:
    """The TLP marking ids an object carries, in its order; other markings are counted."""
    refs = obj.get("object_marking_refs") or []
    kept = [ref for ref in refs if ref in TLP_DEFINITIONS]
    if len(kept) < len(refs):
        skipped["object markings other than TLP (not kept)"] += len(refs) - len(kept)
    return list(dict.fromkeys(kept))


def marking_definitions(marking_ids: Iterable[str]) -> list[dict[str, Any]]:
    """The marking-definition objects a bundle carries for these ids, in id order."""
    return [dict(TLP_DEFINITIONS[i]) for i in sorted(set(marking_ids)) if i in TLP_DEFINITIONS]
