"""What importers hand to the graph, and what an import reports.

Importers (STIX bundles, MISP galaxies, MITRE ATT&CK) describe what a source
says as an `ImportBatch`: candidate entities keyed by the source's own ids,
claims between them, and which sources mention which entities.
graph/writes/importing.py resolves and writes a batch; an `ImportSummary`
counts what that changed.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from graph.model.likelihood import Likelihood
from graph.model.vocabulary import LABELS, lookup_key


@dataclass
class Candidate:
    """One entity as a source describes it. `key` is unique within its batch."""

    key: str
    label: str
    name: str
    aliases: tuple[str, ...] = ()
    description: str = ""
    external_ids: tuple[str, ...] = ()
    properties: dict[str, Any] = field(default_factory=dict)
    stix_id: str | None = None
    preferred_id: str | None = None


@dataclass
class ImportClaim:
    """One claim a source makes. Endpoints are candidate keys or graph references."""

    from_key: str
    relation: str
    to_key: str
    likelihood: Likelihood
    source_key: str
    source_ref: str
    quote: str | None = None
    extra_source_keys: tuple[str, ...] = ()
    assessed_by_key: str | None = None
    valid_from: str | None = None
    valid_to: str | None = None
    properties: dict[str, Any] = field(default_factory=dict)
    # When the source made the claim known (YYYY-MM-DD); None: the day it is imported.
    reported_on: str | None = None
    # When the source last changed it (STIX `modified`): the day a new grade takes effect
    # on a re-import (graph/writes/versions.py); None: the day it is imported.
    changed_on: str | None = None


@dataclass
class Mention:
    """A source mentions an entity; `view` is how the source describes it."""

    source_key: str
    entity_key: str
    source_ref: str
    view: dict[str, Any] = field(default_factory=dict)


@dataclass
class ImportBatch:
    """Everything one bundle / galaxy says, written in one transaction."""

    origin: str
    candidates: dict[str, Candidate] = field(default_factory=dict)
    claims: list[ImportClaim] = field(default_factory=list)
    mentions: list[Mention] = field(default_factory=list)
    # Keys used by claims/mentions that are not candidates: ids (or external
    # ids) of entities that must already be in the graph.
    references: set[str] = field(default_factory=set)
    skipped: Counter[str] = field(default_factory=Counter)

    def add(self, candidate: Candidate) -> Candidate:
        """Add a candidate; a second one with the same key is merged into the first."""
        existing = self.candidates.get(candidate.key)
        if existing is None:
            self.candidates[candidate.key] = candidate
            return candidate
        existing.aliases = _union_names(existing.name, existing.aliases, candidate.aliases)
        existing.external_ids = tuple(
            dict.fromkeys((*existing.external_ids, *candidate.external_ids))
        )
        if not existing.description:
            existing.description = candidate.description
        for key, value in candidate.properties.items():
            existing.properties.setdefault(key, value)
        return existing


def _zero_counts() -> Counter[str]:
    return Counter({"created": 0, "updated": 0, "unchanged": 0})


@dataclass
class ImportSummary:
    """What imports did: counts, skips with reasons, ambiguities."""

    origins: list[str] = field(default_factory=list)
    entities: Counter[str] = field(default_factory=lambda: _zero_counts())
    claims: Counter[str] = field(default_factory=lambda: _zero_counts())
    mentions: Counter[str] = field(default_factory=lambda: _zero_counts())
    merged: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    ambiguities: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def add(self, other: ImportSummary) -> None:
        self.origins += other.origins
        self.entities.update(other.entities)
        self.claims.update(other.claims)
        self.mentions.update(other.mentions)
        self.merged += other.merged
        self.skipped.update(other.skipped)
        self.ambiguities += other.ambiguities
        self.seconds += other.seconds

    @staticmethod
    def _counts(counter: Counter[str]) -> str:
        return ", ".join(f"{counter[k]} {k}" for k in ("created", "updated", "unchanged"))

    def describe(self, max_ambiguities: int = 20) -> str:
        lines = [
            f"imported {len(self.origins)} batch(es) in {self.seconds:.1f} s",
            f"  entities: {self._counts(self.entities)} "
            f"({self.merged} matched an entity already in the graph)",
            f"  claims:   {self._counts(self.claims)}",
            f"  mentions: {self._counts(self.mentions)}",
        ]
        if self.skipped:
            lines.append(f"  skipped:  {sum(self.skipped.values())}")
            lines += [f"    {n} {reason}" for reason, n in sorted(self.skipped.items())]
        if self.ambiguities:
            lines.append(f"  ambiguities: {len(self.ambiguities)} (not merged)")
            lines += [f"    {a}" for a in self.ambiguities[:max_ambiguities]]
            if len(self.ambiguities) > max_ambiguities:
                lines.append(f"    ... and {len(self.ambiguities) - max_ambiguities} more")
        return "\n".join(lines)


def _union_names(name: str, first: Iterable[str], second: Iterable[str]) -> tuple[str, ...]:
    seen = {lookup_key(name)}
    out: list[str] = []
    for alias in (*first, *second):
        key = lookup_key(alias)
        if key and key not in seen:
            seen.add(key)
            out.append(alias.strip())
    return tuple(out)


def slug(text: str, limit: int = 80) -> str:
    """A lower-case id slug of a name ('APT 31 (China)' -> 'apt-31-china')."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    cleaned = re.sub(r"[^a-z0-9._/]+", "-", ascii_text.lower()).strip("-._/")
    cleaned = re.sub(r"-{2,}", "-", cleaned)[:limit].strip("-._/")
    return cleaned


def short_hash(text: str, length: int = 10) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:length]


def check_label(label: str) -> str:
    if label not in LABELS:
        raise ValueError(f"unknown label {label!r}")
    return label
