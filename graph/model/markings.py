"""TLP markings: the STIX marking-definition ids of each TLP level, and their names.

Both TLP versions have fixed, published ids: TLP 1.0 those of the STIX 2.1
specification's `tlp` definitions, TLP 2.0 those of the OASIS property extension.
An imported entity or claim keeps the ids of its TLP markings, in the order given,
in its MARKINGS_PROPERTY (seed/importers/stix_markings.py); questions show them by
name ("TLP:AMBER").
"""

from __future__ import annotations

from typing import LiteralString

# The entity and claim property that holds the marking ids.
MARKINGS_PROPERTY: LiteralString = "markings"

TLP1_IDS = {
    "white": "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9",
    "green": "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da",
    "amber": "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82",
    "red": "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed",
}
TLP2_IDS = {
    "clear": "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
    "green": "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
    "amber": "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
    "amber+strict": "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
    "red": "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
}
# Marking-definition id -> its name, the same for both versions ("TLP:AMBER").
TLP_NAMES: dict[str, str] = {
    marking_id: f"TLP:{level.upper()}"
    for ids in (TLP1_IDS, TLP2_IDS)
    for level, marking_id in ids.items()
}


def marking_names(node_or_rel: str) -> str:
    """Cypher: the names of the TLP markings `node_or_rel` carries, in their order."""
    names = ", ".join(f"`{marking_id}`: '{name}'" for marking_id, name in TLP_NAMES.items())
    return (
        f"[tg_mk IN coalesce({node_or_rel}.{MARKINGS_PROPERTY}, []) "
        f"WHERE tg_mk IN keys({{{names}}}) | {{{names}}}[tg_mk]]"
    )
