"""Every target's answer to every benchmark request, checked before anything is timed.

Each answer (direct Cypher's rows, our API's GraphQL, the peers' GraphQL) is
first read into one plain form per question, then compared with bench/reference.py's
answer, worked out in Python over the generated documents. `check` returns the
first difference as text, or None when the answer is right; bench/run.py stops the
run at the first mismatch and names the question, the target and the difference.

Where a peer cannot ask exactly our question (bench/questions.py's docstring),
its answer is compared on what both return, and PEER_NOTES says how.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bench.reference import Reference, likelihood_name
from graph.model.likelihood import Likelihood

# How each peer question is compared, where it is not our question exactly.
PEER_NOTES = {
    "incidents_linked_to_hub": (
        "peer: the two fixed-depth chains, newest first (its filter language has no "
        "'strongest first'); compared on the total, on every incident being linked and "
        "on the page's start dates. peer-tuned: our walked Cypher in a @cypher field, "
        "compared exactly."
    ),
    "incidents_linked_as_of": (
        "peer: the two fixed-depth chains, every claim on them reported on or before the day, "
        "newest first, compared as the hub question's. peer-tuned: our walked Cypher with "
        "the day, compared exactly."
    ),
    "attributions_side_by_side": (
        "both peers: the incident's ATTRIBUTED_TO relationships with their properties, in no "
        "order of their own; compared as a set."
    ),
    "entity_by_alias": "both peers: compared on the entity found (id, name, aliases, description).",
    "neighbourhood_2_hops": (
        "both peers: each relation an actor has, two levels deep, at most 100 a list; "
        "compared on every entity it lists being within two claims of the centre, and on "
        "all of them when no list was cut."
    ),
    "shortest_path_far": (
        "both peers: any shortest path (Cypher's shortestPath), not the strongest of them; "
        "compared on its length and on every step being a claim of the graph."
    ),
    "search": (
        "both peers: our Lucene query on the same full-text index; compared on the hits' "
        "scores, their ids above the page's lowest score, and every hit matching."
    ),
}

Step = tuple[str, str, str, str, str]  # from, relation, to, likelihood, quote


def _step(raw: dict[str, Any]) -> Step:
    def end(value: Any) -> str:
        return str(value["id"] if isinstance(value, dict) else value)

    return (end(raw["from"]), raw["relation"], end(raw["to"]), raw["likelihood"], raw["quote"])


def _rows(answer: Any) -> list[dict[str, Any]]:
    if not isinstance(answer, list) or not answer:
        raise ValueError(f"no rows: {str(answer)[:200]}")
    return answer


def _data(answer: Any, field: str) -> Any:
    if not isinstance(answer, dict) or answer.get("errors"):
        raise ValueError(f"errors: {str(answer)[:300]}")
    value = answer["data"][field]
    if value is None:
        raise ValueError(f"{field} is null")
    return value


# -- each question's plain form, by phrasing -----------------------------------------


def _incidents(phrasing: str, answer: Any) -> dict[str, Any]:
    """{"total", "rows": [{"id", "started", "likelihood", "steps"}]}."""
    if phrasing == "direct-resolvers":
        row = _rows(answer)[0]
        return {
            "total": row["total"],
            "rows": [
                {
                    "id": item["activity"]["id"],
                    "started": item["activity"]["started"],
                    "likelihood": item["likelihood"],
                    "steps": item["steps"],
                }
                for item in row["page"]
            ],
        }
    if phrasing == "direct":
        page = _rows(answer)[0]["value"]
    elif phrasing == "peer-tuned":
        page = _data(answer, "linkedIncidents")
    elif phrasing == "peer":
        page = _data(answer, "incidentsConnection")
        return {
            "total": page["totalCount"],
            "rows": [
                {"id": e["node"]["id"], "started": e["node"]["started"], "likelihood": None}
                for e in page["edges"]
            ],
        }
    else:
        page = _data(answer, "incidents")
    return {
        "total": page["totalCount"],
        "rows": [
            {
                "id": node["id"],
                "started": node["started"],
                "likelihood": node["linkPath"]["likelihood"],
                "steps": node["linkPath"]["steps"],
            }
            for node in page["nodes"]
        ],
    }


def _attributions(phrasing: str, answer: Any) -> list[tuple[str, ...]]:
    """Each attribution as (from, relation, to, likelihood, quote), with its sources last."""
    if phrasing in ("peer", "peer-tuned"):
        incident = _data(answer, "incidents")[0]
        return [
            (incident["id"], "ATTRIBUTED_TO", edge["node"]["id"],
             edge["properties"]["likelihood"], edge["properties"]["quote"],
             *sorted(edge["properties"]["sources"]))
            for edge in incident["attributedToConnection"]["edges"]
        ]  # fmt: skip
    if phrasing == "direct":
        found = _rows(answer)[0]["value"]["attributions"]
    elif phrasing == "direct-resolvers":
        found = _rows(answer)[0]["attributions"]
    else:
        found = _data(answer, "entity")["attributions"]
    return [
        (*_step({**raw, "relation": "ATTRIBUTED_TO"}), *sorted(s["id"] for s in raw["sources"]))
        for raw in found
    ]


def _entity(phrasing: str, answer: Any) -> dict[str, Any]:
    if phrasing == "direct":
        found = _rows(answer)[0]["value"]
    elif phrasing == "direct-resolvers":
        found = _rows(answer)[0]["entity"]
    elif phrasing == "peer":
        found = (_data(answer, "entities") or [None])[0]
    elif phrasing == "peer-tuned":
        found = (_data(answer, "entitiesByAlias") or [None])[0]
    else:
        found = _data(answer, "entity")
    if found is None:
        raise ValueError("no entity")
    return {key: found.get(key) for key in ("id", "name", "aliases", "description")}


def _neighbourhood(phrasing: str, answer: Any) -> dict[str, Any]:
    """Ours: {"nodes": [ids in order], "claims": sorted steps}; the peers: {"listed", "cut"}."""
    if phrasing in ("peer", "peer-tuned"):
        entities = _data(answer, "entities")
        listed: set[str] = set()
        cut = False

        def walk(value: Any) -> None:
            nonlocal cut
            if isinstance(value, dict):
                if "id" in value:
                    listed.add(value["id"])
                for inner in value.values():
                    walk(inner)
            elif isinstance(value, list):
                cut = cut or len(value) >= 100
                for inner in value:
                    walk(inner)

        walk(entities)
        return {"listed": listed, "cut": cut}
    if phrasing == "direct":
        found = _rows(answer)[0]["value"]
    elif phrasing == "direct-resolvers":
        found = _rows(answer)[0]
    else:
        found = _data(answer, "neighbourhood")
    return {
        "nodes": [node["id"] for node in found["nodes"]],
        "claims": sorted(_step(raw) for raw in found["relationships"]),
    }


def _path(phrasing: str, answer: Any) -> dict[str, Any]:
    if phrasing in ("peer", "peer-tuned"):
        return {"likelihood": None, "steps": [_step(raw) for raw in _data(answer, "shortestPath")]}
    if phrasing == "direct":
        found = _rows(answer)[0]["value"]
    elif phrasing == "direct-resolvers":
        found = _rows(answer)[0]
    else:
        found = _data(answer, "path")
    if found is None or found.get("steps") is None:
        raise ValueError("no path")
    return {"likelihood": found["likelihood"], "steps": [_step(raw) for raw in found["steps"]]}


def _search(phrasing: str, answer: Any) -> list[tuple[str, float]]:
    if phrasing in ("peer", "peer-tuned"):
        edges = _data(answer, "searchEntities")["edges"]
        return [(e["node"]["id"], e["score"]) for e in edges]
    if phrasing == "direct":
        hits = _rows(answer)[0]["value"]
    elif phrasing == "direct-resolvers":
        hits = answer
    else:
        hits = _data(answer, "search")
    return [(hit["entity"]["id"], hit["score"]) for hit in hits]


# -- the checks ----------------------------------------------------------------------


def _claim_difference(reference: Reference, step: Step) -> str | None:
    if step not in reference.by_key:
        return f"the step {step} is not a claim of the graph"
    return None


def _chain_difference(steps: list[Step], start: str, end: str, directed: bool) -> str | None:
    """Whether `steps` lead from `start` to `end` (forwards only when `directed`)."""
    at = start
    for step in steps:
        if step[0] == at:
            at = step[2]
        elif not directed and step[2] == at:
            at = step[0]
        else:
            return f"the step {step} does not continue from {at}"
    return None if at == end else f"the steps end at {at}, not {end}"


def check_incidents(
    reference: Reference, phrasing: str, request: dict[str, Any], answer: Any
) -> str | None:
    target, first = request["target"], request["first"]
    linked = reference.linked(target, first, request.get("as_of"))
    got = _incidents(phrasing, answer)
    if got["total"] != linked.total:
        return f"totalCount {got['total']}, expected {linked.total}"
    if phrasing == "peer":
        # Newest first: the page's start dates are the newest linked incidents' dates.
        newest = sorted(linked.started.values(), reverse=True)[:first]
        dates = [row["started"] for row in got["rows"]]
        if dates != newest:
            return f"start dates {dates[:5]}..., expected {newest[:5]}..."
        stray = [row["id"] for row in got["rows"] if row["id"] not in linked.started]
        return f"{stray[0]} is not linked to {target}" if stray else None
    expected = [incident for incident, _ in linked.page]
    ids = [row["id"] for row in got["rows"]]
    if ids != expected:
        return _first_difference("incident ids", ids, expected)
    for row, (incident, rank) in zip(got["rows"], linked.page, strict=True):
        if row["likelihood"] != likelihood_name(rank):
            return f"{incident}: likelihood {row['likelihood']}, expected {likelihood_name(rank)}"
        steps = [_step(raw) for raw in row["steps"]]
        for raw in row["steps"]:
            sources = sorted(s["id"] for s in raw["sources"])
            claim = reference.by_key.get(_step(raw))
            if claim is not None and sources != [claim.source]:
                return f"{incident}: sources {sources}, expected {[claim.source]}"
        problem = _chain_difference(steps, incident, target, directed=True) or next(
            (p for s in steps if (p := _claim_difference(reference, s))), None
        )
        if problem:
            return f"{incident}: {problem}"
        weakest = min(Likelihood(s[3]).rank or 0 for s in steps)
        if weakest != rank:
            return f"{incident}: its path's weakest step is {likelihood_name(weakest)}"
    return None


def check_attributions(
    reference: Reference, phrasing: str, request: dict[str, Any], answer: Any
) -> str | None:
    expected: list[tuple[str, ...]] = [
        (*c.key(), c.source) for c in reference.attributions(request["incident"])
    ]
    got = _attributions(phrasing, answer)
    if phrasing in ("peer", "peer-tuned"):
        got, expected = sorted(got), sorted(expected)
    if got != expected:
        return _first_difference("attributions", got, expected)
    return None


def check_entity(
    reference: Reference, phrasing: str, request: dict[str, Any], answer: Any
) -> str | None:
    expected = reference.by_alias(request["alias"])
    got = _entity(phrasing, answer)
    for key in ("id", "name", "aliases", "description"):
        if got[key] != expected.get(key):
            return f"{key} {got[key]!r}, expected {expected.get(key)!r}"
    return None


def check_neighbourhood(
    reference: Reference, phrasing: str, request: dict[str, Any], answer: Any
) -> str | None:
    centre, hops, first = request["centre"], request["hops"], request["first"]
    members, ring = reference.neighbourhood(centre, hops, first)
    got = _neighbourhood(phrasing, answer)
    if phrasing in ("peer", "peer-tuned"):
        stray = sorted(got["listed"] - ring - {centre})
        if stray:
            return f"{stray[0]} is not within {hops} claims of {centre}"
        missing = sorted(ring - got["listed"])
        if not got["cut"] and missing:
            return f"{missing[0]} is within {hops} claims of {centre} but not listed"
        return None
    if got["nodes"] != members:
        return _first_difference("node ids", got["nodes"], members)
    expected = reference.claims_among(members)
    if got["claims"] != expected:
        return _first_difference("claims", got["claims"], expected)
    return None


def check_path(
    reference: Reference, phrasing: str, request: dict[str, Any], answer: Any
) -> str | None:
    origin, destination = request["origin"], request["destination"]
    shortest = reference.shortest(origin, destination, request["max_hops"])
    if shortest is None:
        raise ValueError(f"the benchmark asks for a path that does not exist: {request}")
    hops, rank = shortest
    got = _path(phrasing, answer)
    steps = got["steps"]
    if len(steps) != hops:
        return f"{len(steps)} steps, expected {hops} (the shortest)"
    problem = _chain_difference(steps, origin, destination, directed=False) or next(
        (p for s in steps if (p := _claim_difference(reference, s))), None
    )
    if problem:
        return problem
    if got["likelihood"] is not None and got["likelihood"] != likelihood_name(rank):
        return f"likelihood {got['likelihood']}, expected {likelihood_name(rank)} (the strongest)"
    return None


def check_search(
    reference: Reference, phrasing: str, request: dict[str, Any], answer: Any
) -> str | None:
    matches = reference.search_matches(request["text"])
    hits = _search(phrasing, answer)
    if len(hits) != min(request["first"], len(matches)):
        return f"{len(hits)} hits, expected {min(request['first'], len(matches))}"
    stray = [entity for entity, _ in hits if entity not in matches]
    if stray:
        return f"{stray[0]} holds no word of {request['text']!r}"
    scores = [score for _, score in hits]
    if scores != sorted(scores, reverse=True):
        return "the hits are not best first"
    return None


def same_search_hits(ours: list[tuple[str, float]], theirs: list[tuple[str, float]]) -> str | None:
    """Two answers of one Lucene query on one index: the same scores, and the same
    entities above the lowest score (which of the entities tied at the cut-off a
    target keeps is its own choice)."""
    ours_scores = [round(score, 4) for _, score in ours]
    their_scores = [round(score, 4) for _, score in theirs]
    if ours_scores != their_scores:
        return _first_difference("scores", their_scores, ours_scores)
    lowest = min(ours_scores, default=0.0)
    above = sorted(e for e, s in ours if round(s, 4) > lowest)
    their_above = sorted(e for e, s in theirs if round(s, 4) > lowest)
    if their_above != above:
        return _first_difference("hits above the lowest score", their_above, above)
    return None


def _first_difference(what: str, got: list[Any], expected: list[Any]) -> str:
    for index, (mine, theirs) in enumerate(zip(got, expected, strict=False)):
        if mine != theirs:
            return f"{what}: at {index}, {mine!r}, expected {theirs!r}"
    return f"{what}: {len(got)} of them, expected {len(expected)}"


Checker = Callable[[Reference, str, dict[str, Any], Any], str | None]

CHECKS: dict[str, Checker] = {
    "incidents_linked_to_hub": check_incidents,
    "incidents_linked_as_of": check_incidents,
    "attributions_side_by_side": check_attributions,
    "entity_by_alias": check_entity,
    "neighbourhood_2_hops": check_neighbourhood,
    "shortest_path_far": check_path,
    "search": check_search,
}


def check(
    reference: Reference, question: str, phrasing: str, request: dict[str, Any], answer: Any
) -> str | None:
    """The first difference between a target's answer and the reference's, or None."""
    try:
        return CHECKS[question](reference, phrasing, request, answer)
    except (KeyError, TypeError, ValueError, IndexError) as unreadable:
        return f"the answer cannot be read ({type(unreadable).__name__}: {unreadable})"


# Where each phrasing's answer must hold something (not null, not empty) for a timed
# request to count as answered (bench/loadgen.py): a `null` entity is a failure.
Path = list[str | int]
_OURS_FIELDS: dict[str, Path] = {
    "incidents_linked_to_hub": ["incidents", "nodes"],
    "incidents_linked_as_of": ["incidents", "nodes"],
    "attributions_side_by_side": ["entity", "attributions"],
    "entity_by_alias": ["entity"],
    "neighbourhood_2_hops": ["neighbourhood", "nodes"],
    "shortest_path_far": ["path", "steps"],
    "search": ["search"],
}
_RESOLVERS_FIELDS: dict[str, Path] = {
    "incidents_linked_to_hub": ["page"],
    "incidents_linked_as_of": ["page"],
    "attributions_side_by_side": ["attributions"],
    "entity_by_alias": ["entity"],
    "neighbourhood_2_hops": ["nodes"],
    "shortest_path_far": ["steps"],
    "search": [],
}
_PEER_FIELDS: dict[str, Path] = {
    "incidents_linked_to_hub": ["incidentsConnection", "edges"],
    "incidents_linked_as_of": ["incidentsConnection", "edges"],
    "attributions_side_by_side": ["incidents", 0, "attributedToConnection", "edges"],
    "entity_by_alias": ["entities", 0],
    "neighbourhood_2_hops": ["entities", 0],
    "shortest_path_far": ["shortestPath"],
    "search": ["searchEntities", "edges"],
}
_PEER_TUNED_FIELDS: dict[str, Path] = {
    **_PEER_FIELDS,
    "incidents_linked_to_hub": ["linkedIncidents", "nodes"],
    "incidents_linked_as_of": ["linkedIncidents", "nodes"],
    "entity_by_alias": ["entitiesByAlias", 0],
}


def answer_path(question: str, phrasing: str) -> Path:
    """The keys and indexes that lead to what `phrasing`'s answer to `question` must hold."""
    if phrasing == "direct":
        return [0, "value", *_OURS_FIELDS[question][1:]]
    if phrasing == "direct-resolvers":
        return [0, *_RESOLVERS_FIELDS[question]]
    if phrasing == "peer":
        return ["data", *_PEER_FIELDS[question]]
    if phrasing == "peer-tuned":
        return ["data", *_PEER_TUNED_FIELDS[question]]
    return ["data", *_OURS_FIELDS[question]]


def holds_an_answer(answer: Any, path: Path) -> bool:
    """Whether `answer` has something (not null, not an empty list) at `path`."""
    value = answer
    for step in path:
        try:
            value = value[step]
        except (KeyError, IndexError, TypeError):
            return False
    return value is not None and value != []
