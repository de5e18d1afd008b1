"""Deterministic STIX 2.1 bundles of any size, for fault, concurrency and soak tests.

Every object's id is a uuid5 of its name, so two bundles that share names
share objects (overlapping bundles), and the same call always writes the
same bytes.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import orjson

NAMESPACE = uuid.UUID("0b6c1f4e-2a8e-4d8e-9a55-7c3e1d2f4b60")
TIMESTAMP = "2024-03-25T00:00:00.000Z"


def stix_id(kind: str, name: str) -> str:
    return f"{kind}--{uuid.uuid5(NAMESPACE, f'{kind}/{name}')}"


def actor(name: str, **extra: Any) -> dict[str, Any]:
    return {
        "type": "intrusion-set",
        "spec_version": "2.1",
        "id": stix_id("intrusion-set", name),
        "created": TIMESTAMP,
        "modified": TIMESTAMP,
        "name": name,
        **extra,
    }


def organisation(name: str) -> dict[str, Any]:
    return {
        "type": "identity",
        "spec_version": "2.1",
        "id": stix_id("identity", name),
        "created": TIMESTAMP,
        "modified": TIMESTAMP,
        "name": name,
        "identity_class": "organization",
    }


def targets(source: dict[str, Any], target: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "relationship",
        "spec_version": "2.1",
        "id": stix_id("relationship", f"{source['id']} targets {target['id']}"),
        "created": TIMESTAMP,
        "modified": TIMESTAMP,
        "relationship_type": "targets",
        "source_ref": source["id"],
        "target_ref": target["id"],
        "confidence": 75,
    }


def bundle(name: str, objects: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "bundle", "id": stix_id("bundle", name), "objects": objects}


def actor_bundle(name: str, prefix: str, first: int, count: int) -> dict[str, Any]:
    """`count` actors named '<prefix> <n>' (n from `first`), each targeting its own victim."""
    objects: list[dict[str, Any]] = []
    for number in range(first, first + count):
        attacker = actor(f"{prefix} Actor {number:05d}", description=f"Actor number {number}.")
        victim = organisation(f"{prefix} Victim {number:05d}")
        objects += [attacker, victim, targets(attacker, victim)]
    return bundle(name, objects)


def write_bundle(path: Path, data: dict[str, Any]) -> Path:
    path.write_bytes(orjson.dumps(data))
    return path
