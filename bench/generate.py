"""A deterministic synthetic threat-intelligence graph, as seed-format documents.

`generate(nodes, seed)` returns graph documents (the same dicts a seed YAML
file parses to) that the project's own loader validates and writes. The shape
follows real attribution reporting:

- states (Country) and sectors;
- agencies in hierarchies: top-level agencies PART_OF a state, sub-agencies
  PART_OF a top-level agency;
- threat actors with aliases, AFFILIATED_WITH agencies with heavy-tailed
  fan-out (Zipf): a few hub agencies own most actors, as the MSS or GRU do;
- organisations LOCATED_IN countries, software USED by actors;
- incidents ATTRIBUTED_TO actors (again heavy-tailed) and TARGETED at
  organisations and sectors;
- sources (reports): every claim is made by a source with a verbatim quote.

Each document is one source's report: it declares the entities it is first to
mention and makes its claims. Documents come in dependency order (states and
agencies, then actors, then incidents), so any prefix of the list loads on
its own. The same (nodes, seed) always gives the same documents.
"""

from __future__ import annotations

import bisect
import itertools
import random
from dataclasses import dataclass, field
from typing import Any

FORMAT = "threatgraph-seed/1"
SECTOR_NAMES = (
    "government",
    "defence",
    "energy",
    "telecommunications",
    "finance",
    "healthcare",
    "education",
    "manufacturing",
    "transport",
    "water",
    "media",
    "legal",
    "retail",
    "aerospace",
    "think tanks",
    "elections",
    "technology",
    "maritime",
    "pharmaceuticals",
    "agriculture",
)
COLOURS = ("Crimson", "Azure", "Amber", "Jade", "Onyx", "Ivory", "Cobalt", "Scarlet", "Umber")
WEATHER = ("Typhoon", "Blizzard", "Sandstorm", "Tempest", "Cyclone", "Sleet", "Monsoon", "Squall")
ANIMALS = ("Panda", "Bear", "Kitten", "Chollima", "Spider", "Falcon", "Viper", "Jackal", "Lynx")
LIKELIHOODS = ("REALISTIC_POSSIBILITY", "LIKELY", "HIGHLY_LIKELY", "ALMOST_CERTAIN", "FACT")
LIKELIHOOD_WEIGHTS = (1, 3, 4, 5, 2)


@dataclass(frozen=True)
class Shape:
    """How many nodes of each kind a graph of `nodes` nodes has (they add up to `nodes`)."""

    countries: int
    sectors: int
    agencies: int
    actors: int
    software: int
    organisations: int
    incidents: int
    sources: int

    @property
    def total(self) -> int:
        return (
            self.countries
            + self.sectors
            + self.agencies
            + self.actors
            + self.software
            + self.organisations
            + self.incidents
            + self.sources
        )


def shape_for(nodes: int) -> Shape:
    """Proportions of a mature CTI graph: half incidents, a tenth sources, few agencies."""
    if nodes < 200:
        raise ValueError(f"nodes: at least 200 for a meaningful graph, not {nodes}")
    countries = min(195, max(20, nodes // 500))
    sectors = len(SECTOR_NAMES)
    agencies = max(10, nodes // 100)
    actors = max(20, nodes * 4 // 100)
    software = max(10, nodes // 100)
    incidents = nodes // 2
    sources = nodes // 10
    organisations = nodes - (countries + sectors + agencies + actors + software + incidents)
    organisations -= sources
    return Shape(countries, sectors, agencies, actors, software, organisations, incidents, sources)


class _Zipf:
    """Draws indexes 0..n-1 with weight 1/(i+1)^s: heavy-tailed fan-out."""

    def __init__(self, n: int, exponent: float) -> None:
        self.cumulative = list(itertools.accumulate(1 / (i + 1) ** exponent for i in range(n)))

    def draw(self, rng: random.Random) -> int:
        point = rng.random() * self.cumulative[-1]
        return min(bisect.bisect_left(self.cumulative, point), len(self.cumulative) - 1)


@dataclass
class _Claim:
    from_id: str
    relation: str
    to_id: str
    quote: str
    likelihood: str


@dataclass
class SyntheticGraph:
    """The generated documents plus the landmarks the benchmark asks about."""

    shape: Shape
    documents: list[dict[str, Any]]
    hub_agency: str  # the agency with the most affiliated actors
    aliases: list[str]  # actor aliases, for look-ups by alias
    actors: list[str]
    far_pairs: list[tuple[str, str]]  # (incident, country) pairs a few hops apart
    search_words: list[str]
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def claim_count(self) -> int:
        return sum(len(document["claims"]) for document in self.documents)


def _likelihood(rng: random.Random) -> str:
    return rng.choices(LIKELIHOODS, LIKELIHOOD_WEIGHTS)[0]


def generate(nodes: int, seed: int = 7) -> SyntheticGraph:
    """A graph of exactly `nodes` nodes (sources included), the same for the same seed."""
    rng = random.Random(seed)
    shape = shape_for(nodes)
    entities: dict[str, dict[str, Any]] = {}
    claims: list[_Claim] = []

    def entity(label: str, entity_id: str, name: str, **extra: Any) -> str:
        entities[entity_id] = {"id": entity_id, "label": label, "name": name, **extra}
        return entity_id

    countries = [
        entity("Country", f"country:c{i:03d}", f"State {i}", iso_code=f"S{i:03d}")
        for i in range(shape.countries)
    ]
    sectors = [entity("Sector", f"sector:s{i:02d}", name) for i, name in enumerate(SECTOR_NAMES)]

    # Agencies: about a fifth are top-level (PART_OF a state), the rest sub-agencies.
    top_count = max(2, shape.agencies // 5)
    state_of_agency = _Zipf(len(countries), 1.1)
    agencies: list[str] = []
    for i in range(shape.agencies):
        agency = entity(
            "Agency",
            f"agency:a{i:06d}",
            f"Agency {i}",
            aliases=[f"A{i}-SVC"],
            description=f"A state agency, bureau {i}.",
        )
        if i < top_count:
            parent = countries[state_of_agency.draw(rng)]
            text = f"Agency {i} is a state body of {entities[parent]['name']}."
        else:
            parent = agencies[rng.randrange(top_count)]
            text = f"Agency {i} is a bureau of {entities[parent]['name']}."
        claims.append(_Claim(agency, "PART_OF", parent, text, "FACT"))
        agencies.append(agency)

    software = [
        entity("Software", f"software:w{i:05d}", f"Tool{i}", software_type="malware")
        for i in range(shape.software)
    ]

    # Actors: heavy-tailed affiliation, so agency 0 is the hub.
    affiliation = _Zipf(len(agencies), 1.2)
    tool_choice = _Zipf(len(software), 1.0)
    actors: list[str] = []
    aliases: list[str] = []
    for i in range(shape.actors):
        names = [
            f"{rng.choice(COLOURS)} {rng.choice(WEATHER)} {i}",
            f"{rng.choice(ANIMALS)} {i}",
        ]
        actor = entity(
            "ThreatActor",
            f"actor:t{i:06d}",
            f"APT-{i}",
            aliases=names,
            description=f"An intrusion set tracked as APT-{i}, also {names[0]}.",
        )
        actors.append(actor)
        aliases.append(names[0])
        for agency_index in sorted({affiliation.draw(rng) for _ in range(rng.choice((1, 1, 2)))}):
            agency = agencies[agency_index]
            text = f"APT-{i} is affiliated with {entities[agency]['name']}."
            claims.append(_Claim(actor, "AFFILIATED_WITH", agency, text, _likelihood(rng)))
        for tool_index in sorted({tool_choice.draw(rng) for _ in range(rng.randint(1, 3))}):
            tool = software[tool_index]
            text = f"APT-{i} uses {entities[tool]['name']}."
            claims.append(_Claim(actor, "USES", tool, text, _likelihood(rng)))

    organisation_country = _Zipf(len(countries), 0.8)
    organisations: list[str] = []
    for i in range(shape.organisations):
        org = entity("Organisation", f"org:o{i:07d}", f"Organisation {i}")
        country = countries[organisation_country.draw(rng)]
        text = f"Organisation {i} is based in {entities[country]['name']}."
        claims.append(_Claim(org, "LOCATED_IN", country, text, "FACT"))
        organisations.append(org)

    attribution = _Zipf(len(actors), 1.1)
    victim = _Zipf(len(organisations), 0.6)
    incidents: list[str] = []
    far_pairs: list[tuple[str, str]] = []
    for i in range(shape.incidents):
        year = 2010 + rng.randrange(15)
        started = f"{year}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        incident = entity(
            "Incident",
            f"incident:i{i:07d}",
            f"Incident {i}",
            started=started,
            description=f"Intrusion {i}, disclosed in {year}.",
        )
        incidents.append(incident)
        for actor_index in sorted({attribution.draw(rng) for _ in range(rng.choice((1, 1, 1, 2)))}):
            actor = actors[actor_index]
            text = f"Incident {i} was carried out by APT-{actor_index}."
            claims.append(_Claim(incident, "ATTRIBUTED_TO", actor, text, _likelihood(rng)))
        org = organisations[victim.draw(rng)]
        claims.append(
            _Claim(incident, "TARGETED", org, f"Incident {i} targeted {org}.", _likelihood(rng))
        )
        if rng.random() < 0.5:
            sector = rng.choice(sectors)
            text = f"Incident {i} targeted the {entities[sector]['name']} sector."
            claims.append(_Claim(incident, "TARGETED", sector, text, _likelihood(rng)))

    # Far pairs: an incident and a state drawn at random. At 1M, 16 of the first 20 are
    # 4 claims apart (through a sector or the actor's other incidents, then a victim
    # located in the state), the others 5 or 6.
    pair_rng = random.Random(seed + 1)
    for incident in pair_rng.sample(incidents, min(50, len(incidents))):
        far_pairs.append((incident, countries[pair_rng.randrange(len(countries))]))

    documents = _documents(shape, entities, claims, rng)
    counts: dict[str, int] = {}
    for record in entities.values():
        counts[record["label"]] = counts.get(record["label"], 0) + 1
    counts["Source"] = shape.sources
    return SyntheticGraph(
        shape=shape,
        documents=documents,
        hub_agency=agencies[0],
        aliases=aliases,
        actors=actors,
        far_pairs=far_pairs,
        search_words=list(WEATHER),
        counts=counts,
    )


def _documents(
    shape: Shape, entities: dict[str, dict[str, Any]], claims: list[_Claim], rng: random.Random
) -> list[dict[str, Any]]:
    """Deal the claims (in order) out to the sources; each source declares what it mentions first.

    Entities no claim mentions (none in practice) go into one source-less document.
    """
    declared: set[str] = set()
    documents: list[dict[str, Any]] = []
    for index in range(shape.sources):
        # Even shares: source k gets claims [k*n/s, (k+1)*n/s).
        chunk = claims[
            index * len(claims) // shape.sources : (index + 1) * len(claims) // shape.sources
        ]
        source_id = f"source:r{index:07d}"
        year = 2010 + rng.randrange(15)
        new_entities = []
        for claim in chunk:
            for ref in (claim.from_id, claim.to_id):
                if ref not in declared:
                    declared.add(ref)
                    new_entities.append(entities[ref])
        documents.append(
            {
                "format": FORMAT,
                "source": {
                    "id": source_id,
                    "name": f"Report {index}",
                    "publisher": f"Publisher {index % 97}",
                    "published": f"{year}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
                    "url": f"https://reports.example/{index}",
                },
                "entities": new_entities,
                "claims": [
                    {
                        "from": claim.from_id,
                        "relation": claim.relation,
                        "to": claim.to_id,
                        "likelihood": claim.likelihood,
                        "quote": claim.quote,
                    }
                    for claim in chunk
                ],
            }
        )
    rest = [record for key, record in entities.items() if key not in declared]
    if rest:
        documents.append({"format": FORMAT, "entities": rest, "claims": []})
    return documents
