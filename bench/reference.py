"""The benchmark's questions answered in plain Python over the generated documents.

Nothing here reads Neo4j or runs the project's Cypher: the answers are worked out
from the claims the generator wrote, so that every target (direct Cypher, our API,
the peer) is checked against something none of them computed (bench/answers.py).
The rules are the ones the project documents: "linked to" (graph/linking/rule.py's
docstring: forwards only, an attribution then affiliations or parts, a targeting
then parts, at most six claims; a chain as strong as its weakest claim), look-up by
alias (case- and spacing-insensitive), the neighbourhood (every entity within two
claims in either direction, nearest first, then by id) and the shortest path (the
fewest claims, the strongest of those).
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from bench.generate import SyntheticGraph
from graph.model.likelihood import Likelihood

# A chain's first claim and the claims that may follow it, by role.
FIRST_AND_ONWARD = {"ATTRIBUTED_TO": {"AFFILIATED_WITH", "PART_OF"}, "TARGETED": {"PART_OF"}}
MAX_CLAIMS = 6


@dataclass(frozen=True)
class Claim:
    start: str
    relation: str
    end: str
    likelihood: str
    quote: str
    source: str

    @property
    def rank(self) -> int:
        rank = Likelihood(self.likelihood).rank
        if rank is None:
            raise ValueError(f"the generated graph has an ungraded claim: {self}")
        return rank

    def key(self) -> tuple[str, str, str, str, str]:
        return (self.start, self.relation, self.end, self.likelihood, self.quote)


@dataclass(frozen=True)
class Linked:
    total: int
    page: list[tuple[str, int]]  # (incident id, strength rank), answer order
    started: dict[str, str]  # every linked incident's start date


def likelihood_name(rank: int) -> str:
    return next(term.value for term in Likelihood if term.rank == rank)


def _words(text: str) -> list[str]:
    """Lucene's standard analyser, as far as the generated text needs: lower-cased
    runs of letters and digits."""
    return re.findall(r"[0-9a-z]+", text.lower())


class Reference:
    """The generated graph as Python structures, and each question's answer."""

    def __init__(self, graph: SyntheticGraph) -> None:
        self.entities: dict[str, dict[str, Any]] = {}
        self.claims: list[Claim] = []
        for document in graph.documents:
            source = document.get("source", {}).get("id", "")
            for entity in document["entities"]:
                self.entities[entity["id"]] = entity
            if source:
                self.entities[source] = {**document["source"], "label": "Source"}
            for claim in document["claims"]:
                self.claims.append(
                    Claim(
                        claim["from"],
                        claim["relation"],
                        claim["to"],
                        claim["likelihood"],
                        claim["quote"],
                        source,
                    )
                )
        self.outgoing: dict[str, list[Claim]] = defaultdict(list)
        self.incoming: dict[str, list[Claim]] = defaultdict(list)
        for claim in self.claims:
            self.outgoing[claim.start].append(claim)
            self.incoming[claim.end].append(claim)
        self.by_key = {claim.key(): claim for claim in self.claims}
        self._by_alias: defaultdict[str, list[dict[str, Any]]] | None = None
        self._matches: dict[str, set[str]] = {}
        self._shortest: dict[tuple[str, str, int], tuple[int, int] | None] = {}

    # -- incidents linked to a target ------------------------------------------------

    def known(self, claim: Claim, as_of: str | None) -> bool:
        """Whether a claim was known on `as_of` (None: now): its report's date."""
        return as_of is None or self.entities[claim.source].get("published", "") <= as_of

    def linked(self, target: str, first: int, as_of: str | None = None) -> Linked:
        """Incidents linked to `target` by claims known on `as_of`, strongest first, then
        newest, then by id."""
        strength: dict[str, int] = {}
        for relation, onward in FIRST_AND_ONWARD.items():
            # best[n]: the strongest onward chain from n to the target, at most k claims.
            best: dict[str, int] = {target: 99}
            for _ in range(MAX_CLAIMS - 1):
                grown = dict(best)
                for node, rank in best.items():
                    for claim in self.incoming[node]:
                        if claim.relation in onward and self.known(claim, as_of):
                            reach = min(rank, claim.rank)
                            if reach > grown.get(claim.start, -1):
                                grown[claim.start] = reach
                best = grown
            for hop, rank in best.items():
                for claim in self.incoming[hop]:
                    if claim.relation == relation and self.known(claim, as_of):
                        reach = min(rank, claim.rank)
                        if reach > strength.get(claim.start, -1):
                            strength[claim.start] = reach
        started = {i: self.entities[i].get("started", "") for i in strength}
        order = sorted(strength, key=lambda i: (-strength[i], _descending(started[i]), i))
        return Linked(len(order), [(i, strength[i]) for i in order[:first]], started)

    def attributions(self, incident: str) -> list[Claim]:
        """The incident's attributions, strongest first, then by source."""
        found = [c for c in self.outgoing[incident] if c.relation == "ATTRIBUTED_TO"]
        return sorted(found, key=lambda c: (-c.rank, c.source))

    # -- entity by alias -------------------------------------------------------------

    def by_alias(self, alias: str) -> dict[str, Any]:
        if self._by_alias is None:  # made once: a 1M graph's scan per look-up took seconds
            self._by_alias = defaultdict(list)
            for entity in self.entities.values():
                for name in entity.get("aliases", []):
                    self._by_alias[" ".join(name.casefold().split())].append(entity)
        found = self._by_alias.get(" ".join(alias.casefold().split()), [])
        if len(found) != 1:
            raise ValueError(f"the alias {alias!r} names {len(found)} entities")
        return found[0]

    # -- neighbourhood and paths -----------------------------------------------------

    def _around(self, node: str) -> list[tuple[str, Claim]]:
        """Each neighbour of `node` through one claim, either direction."""
        return [(c.end, c) for c in self.outgoing[node]] + [
            (c.start, c) for c in self.incoming[node]
        ]

    def distances(self, centre: str, hops: int) -> dict[str, int]:
        distance = {centre: 0}
        frontier = [centre]
        for step in range(1, hops + 1):
            reached = []
            for node in frontier:
                for neighbour, _ in self._around(node):
                    if neighbour not in distance:
                        distance[neighbour] = step
                        reached.append(neighbour)
            frontier = reached
        return distance

    def neighbourhood(self, centre: str, hops: int, first: int) -> tuple[list[str], set[str]]:
        """The centre then its nearest `first` (by distance, then id), and the whole ring."""
        distance = self.distances(centre, hops)
        ring = sorted((n for n in distance if n != centre), key=lambda n: (distance[n], n))
        return [centre, *ring[:first]], set(ring)

    def claims_among(self, members: list[str]) -> list[tuple[str, str, str, str, str]]:
        inside = set(members)
        return sorted(
            claim.key()
            for member in members
            for claim in self.outgoing[member]
            if claim.end in inside
        )

    def shortest(self, origin: str, destination: str, max_hops: int) -> tuple[int, int] | None:
        """(claims on a shortest path, the strongest weakest claim among those paths)."""
        asked = (origin, destination, max_hops)
        if asked not in self._shortest:  # every target's answer is checked against it
            self._shortest[asked] = self._walk_to(origin, destination, max_hops)
        return self._shortest[asked]

    def _walk_to(self, origin: str, destination: str, max_hops: int) -> tuple[int, int] | None:
        best = {origin: 99}
        layer = {origin}
        seen = {origin}
        for hops in range(1, max_hops + 1):
            reached: dict[str, int] = {}
            for node in layer:
                for neighbour, claim in self._around(node):
                    if neighbour in seen:
                        continue
                    reach = min(best[node], claim.rank)
                    if reach > reached.get(neighbour, -1):
                        reached[neighbour] = reach
            if destination in reached:
                return hops, reached[destination]
            best.update(reached)
            seen.update(reached)
            layer = set(reached)
        return None

    # -- search ----------------------------------------------------------------------

    def search_matches(self, text: str) -> set[str]:
        """Entities whose name, aliases or description hold a word of `text`, or a word
        starting with one of three or more letters (graph/reads/lookup.py's query)."""
        if text in self._matches:  # every target's answer is checked against the same set
            return self._matches[text]
        words = [w.lower() for w in text.split()]
        prefixes = [w for w in words if len(w) >= 3]
        found = set()
        for entity_id, entity in self.entities.items():
            fields = [entity.get("name", ""), *entity.get("aliases", [])]
            fields.append(entity.get("description", ""))
            tokens = {t for field in fields for t in _words(field)}
            if any(w in tokens for w in words) or any(
                t.startswith(p) for p in prefixes for t in tokens
            ):
                found.add(entity_id)
        self._matches[text] = found
        return found


def _descending(text: str) -> tuple[int, ...]:
    """A sort key putting later strings first."""
    return (*(-ord(ch) for ch in text), 1)
