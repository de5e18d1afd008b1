"""The change feed's graph side: what each kind of write records, numbering, concurrency."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import neo4j
import pytest

from graph.model.documents import document_from_text
from graph.model.likelihood import Likelihood
from graph.store.database import Graph
from graph.writes.batches import Candidate, ImportBatch, ImportClaim, Mention
from graph.writes.changes import Change, CursorExpired, changes_after, follow_changes, prune_changes
from graph.writes.claims import delete_relation
from graph.writes.importing import import_batch
from graph.writes.loading import load_documents
from tests.conftest import cypher

T = TypeVar("T")

CLAIM = (
    "  - {from: 'actor:feed-x', relation: AFFILIATED_WITH, to: 'country:feed-y', "
    "likelihood: LIKELY, quote: 'X works for Y.'}\n"
)
DOC = (
    "format: threatgraph-seed/1\n"
    "source: {id: 'source:feed-test', name: Feed test, published: '2024-01-01'}\n"
    "entities:\n"
    "  - {id: 'actor:feed-x', label: ThreatActor, name: Feed X, description: Before.}\n"
    "  - {id: 'country:feed-y', label: Country, name: Feed Y}\n"
    "claims:\n" + CLAIM
)
CLAIM_ID = "actor:feed-x-AFFILIATED_WITH->country:feed-y@source:feed-test"
ORIGIN = "seed:feed-test.yaml"


def run(work: Callable[[Graph], Awaitable[T]]) -> T:
    async def go() -> T:
        async with Graph.connect() as graph:
            return await work(graph)

    return asyncio.run(go())


def load(text: str = DOC, **options: Any) -> None:
    document = document_from_text(text, "/somewhere/feed-test.yaml")
    run(lambda graph: load_documents(graph, [document], **options))


def feed(after: int = 0) -> list[tuple[Any, ...]]:
    page = run(lambda graph: changes_after(graph, after, 500))
    return [summary(c) for c in page.changes]


def summary(c: Change) -> tuple[Any, ...]:
    return (
        c.seq,
        c.kind,
        c.entity_id or c.relationship_id,
        c.entity_label or c.relation,
        c.source_id,
        c.origin,
    )


FIRST_LOAD = [
    (1, "created", "actor:feed-x", "ThreatActor", "source:feed-test", ORIGIN),
    (2, "created", "country:feed-y", "Country", "source:feed-test", ORIGIN),
    (3, "created", "source:feed-test", "Source", "source:feed-test", ORIGIN),
    (4, "created", CLAIM_ID, "AFFILIATED_WITH", "source:feed-test", ORIGIN),
    (
        5,
        "created",
        "source:feed-test-MENTIONS->actor:feed-x",
        "MENTIONS",
        "source:feed-test",
        ORIGIN,
    ),
    (
        6,
        "created",
        "source:feed-test-MENTIONS->country:feed-y",
        "MENTIONS",
        "source:feed-test",
        ORIGIN,
    ),
]


@pytest.mark.usefixtures("empty_graph", "neo4j_env")
def test_a_load_records_every_created_entity_claim_and_mention() -> None:
    load()
    assert feed() == FIRST_LOAD


@pytest.mark.usefixtures("empty_graph", "neo4j_env")
def test_a_change_and_its_record_share_one_time_and_the_feed_counter_matches(
    driver: neo4j.Driver,
) -> None:
    load()
    rows = cypher(
        driver,
        "MATCH (s:ChangeSet) WITH collect(DISTINCT s.at) AS times, count(*) AS sets, "
        "sum(size(s.kinds)) AS n, min(s.first) AS first, max(s.last) AS last "
        "MATCH (f:ChangeFeed) RETURN size(times) AS times, sets, n, first, last, f.seq AS seq, "
        "f.name AS name",
    )
    assert rows == [
        {"times": 1, "sets": 1, "n": 6, "first": 1, "last": 6, "seq": 6, "name": "changes"}
    ]


@pytest.mark.usefixtures("empty_graph", "neo4j_env")
def test_reloading_the_same_document_records_nothing() -> None:
    load()
    load()
    load(replace_source_claims=False)
    assert feed() == FIRST_LOAD


@pytest.mark.usefixtures("empty_graph", "neo4j_env")
def test_reloading_a_changed_document_records_the_update_and_the_withdrawal() -> None:
    load()
    load(DOC.replace("Before.", "After.").replace(CLAIM, ""))
    assert feed(after=6) == [
        (7, "updated", "actor:feed-x", "ThreatActor", "source:feed-test", ORIGIN),
        (8, "withdrawn", CLAIM_ID, "AFFILIATED_WITH", "source:feed-test", ORIGIN),
    ]


@pytest.mark.usefixtures("empty_graph", "neo4j_env")
def test_deleting_a_claim_records_who_said_it() -> None:
    load()
    assert run(lambda graph: delete_relation(graph, CLAIM_ID)) is True
    assert run(lambda graph: delete_relation(graph, CLAIM_ID)) is False
    assert feed(after=6) == [
        (7, "deleted", CLAIM_ID, "AFFILIATED_WITH", "source:feed-test", "mutation:deleteRelation")
    ]


def feed_batch() -> ImportBatch:
    source = Candidate("s", "Source", "Feed report", preferred_id="source:feed-report")
    actor = Candidate("a", "ThreatActor", "Feed Z", ("Zed",), "An actor.", ("ext-z",))
    batch = ImportBatch(origin="/tmp/bundles/feed.json", candidates={"s": source, "a": actor})
    batch.mentions.append(Mention("s", "a", "report-ref"))
    batch.claims.append(
        ImportClaim("a", "AFFILIATED_WITH", "country:feed-y", Likelihood.LIKELY, "s", "r1")
    )
    batch.references.add("country:feed-y")
    return batch


@pytest.mark.usefixtures("empty_graph", "neo4j_env")
def test_an_import_records_its_changes_once() -> None:
    load()
    run(lambda graph: import_batch(graph, feed_batch()))
    run(lambda graph: import_batch(graph, feed_batch()))  # the same again: nothing new
    origin = "import:feed.json"
    assert feed(after=6) == [
        (7, "created", "actor:feed-z", "ThreatActor", "source:feed-report", origin),
        (8, "created", "source:feed-report", "Source", "source:feed-report", origin),
        (
            9,
            "created",
            "actor:feed-z-AFFILIATED_WITH->country:feed-y@source:feed-report",
            "AFFILIATED_WITH",
            "source:feed-report",
            origin,
        ),
        (
            10,
            "created",
            "source:feed-report-MENTIONS->actor:feed-z",
            "MENTIONS",
            "source:feed-report",
            origin,
        ),
    ]


@pytest.mark.usefixtures("empty_graph", "neo4j_env")
def test_an_import_that_adds_an_alias_records_an_update() -> None:
    load()
    run(lambda graph: import_batch(graph, feed_batch()))
    batch = feed_batch()
    batch.candidates["a"].aliases = ("Zed", "Zedd")
    run(lambda graph: import_batch(graph, batch))
    assert feed(after=10) == [
        (11, "updated", "actor:feed-z", "ThreatActor", "source:feed-report", "import:feed.json")
    ]


def writer_doc(writer: int, n: int) -> str:
    return (
        "format: threatgraph-seed/1\n"
        "entities:\n"
        f"  - {{id: 'org:w{writer}-{n}', label: Organisation, name: W{writer} {n}}}\n"
        "  - {id: 'org:shared', label: Organisation, name: Shared, "
        f"description: 'Last written by {writer}-{n}.'}}\n"
    )


@pytest.mark.usefixtures("empty_graph", "neo4j_env")
def test_concurrent_writers_get_unique_gap_free_numbers_and_a_follower_misses_nothing(
    driver: neo4j.Driver,
) -> None:
    writers, writes = 4, 6

    async def writer(index: int) -> None:
        async with Graph.connect() as graph:
            for n in range(writes):
                document = document_from_text(writer_doc(index, n), "upsertEntity.input")
                await load_documents(graph, [document], False, f"mutation:w{index}")

    async def follower(expected: int) -> list[Change]:
        seen: list[Change] = []
        async with Graph.connect() as graph:
            async for change in follow_changes(graph, 0, poll_interval_s=0.01, page_size=3):
                seen.append(change)
                if len(seen) == expected:
                    return seen
        raise AssertionError("unreachable")

    async def scenario() -> list[Change]:
        # Every write creates its own entity and updates (or creates) org:shared.
        expected = writers * writes * 2
        following = asyncio.create_task(follower(expected))
        await asyncio.gather(*(writer(i) for i in range(writers)))
        return await asyncio.wait_for(following, timeout=60)

    seen = asyncio.run(scenario())
    assert [c.seq for c in seen] == list(range(1, 49))
    stored = cypher(
        driver,
        "MATCH (s:ChangeSet) UNWIND range(s.first, s.last) AS seq RETURN seq ORDER BY seq",
    )
    assert [row["seq"] for row in stored] == list(range(1, 49))
    own = [c.entity_id for c in seen if c.entity_id != "org:shared"]
    assert sorted(own) == sorted(f"org:w{w}-{n}" for w in range(4) for n in range(6))
    shared = [c.kind for c in seen if c.entity_id == "org:shared"]
    assert shared == ["created"] + ["updated"] * 23
    for w in range(writers):  # each writer's changes come in the order it made them
        mine = [c.entity_id for c in seen if c.origin == f"mutation:w{w}" and c.entity_id]
        assert [m for m in mine if m != "org:shared"] == [f"org:w{w}-{n}" for n in range(6)]


@pytest.mark.usefixtures("empty_graph", "neo4j_env")
def test_pruned_changes_are_refused_rather_than_skipped() -> None:
    load()
    assert run(lambda graph: prune_changes(graph, 3)) == (3, 3)
    with pytest.raises(CursorExpired) as refused:
        run(lambda graph: changes_after(graph, 2, 10))
    assert str(refused.value) == (
        "changes 1 to 3 were pruned; a consumer at change 2 has missed some: rebuild its copy "
        "from the graph, then follow from the newest change"
    )
    assert [c[0] for c in feed(after=3)] == [4, 5, 6]
    assert run(lambda graph: prune_changes(graph, 100)) == (3, 6)
    assert feed(after=6) == []
    load(DOC.replace("Before.", "After."))
    assert [c[:3] for c in feed(after=6)] == [(7, "updated", "actor:feed-x")]


@pytest.mark.usefixtures("empty_graph", "neo4j_env")
def test_the_cli_shows_the_head_and_prunes() -> None:
    from typer.testing import CliRunner

    from api.cli import app

    load()
    runner = CliRunner()
    assert runner.invoke(app, ["changes", "head"]).output == "6\n"
    pruned = runner.invoke(app, ["changes", "prune", "--through", "2"])
    assert (pruned.exit_code, pruned.output) == (
        0,
        "pruned 2 change(s); the feed now starts after change 2\n",
    )
    assert [c[0] for c in feed(after=2)] == [3, 4, 5, 6]


@pytest.mark.usefixtures("empty_graph", "neo4j_env")
def test_pages_of_every_size_cut_across_change_sets_without_loss_or_repeat(
    driver: neo4j.Driver,
) -> None:
    load()  # changes 1-6, one set
    load(DOC.replace("Before.", "After.").replace(CLAIM, ""))  # 7-8
    load(DOC.replace("Before.", "Again."))  # 9-10: the update, the claim back
    sets = cypher(
        driver, "MATCH (s:ChangeSet) RETURN s.first AS first, s.last AS last ORDER BY first"
    )
    assert sets == [{"first": 1, "last": 6}, {"first": 7, "last": 8}, {"first": 9, "last": 10}]
    everything = feed()
    assert [c[0] for c in everything] == list(range(1, 11))
    for size in range(1, 12):
        seen: list[tuple[Any, ...]] = []
        after, has_next = 0, True
        while has_next:
            page = run(lambda graph: changes_after(graph, after, size))  # noqa: B023
            assert len(page.changes) <= size and page.head == 10
            seen += [summary(c) for c in page.changes]
            after, has_next = (page.changes[-1].seq if page.changes else after), page.has_next
        assert seen == everything, size


@pytest.mark.usefixtures("empty_graph", "neo4j_env")
def test_a_feed_of_change_nodes_from_an_older_version_becomes_change_sets(
    driver: neo4j.Driver,
) -> None:
    from graph.setup import ensure_schema

    load()
    before = run(lambda graph: changes_after(graph, 0, 100))
    # What an older version stored: one (:Change) node per change, numbers unique.
    cypher(driver, "CREATE CONSTRAINT change_seq FOR (c:Change) REQUIRE c.seq IS UNIQUE")
    cypher(
        driver,
        "MATCH (s:ChangeSet) UNWIND range(0, size(s.kinds) - 1) AS i "
        "CREATE (:Change {seq: s.first + i, kind: s.kinds[i], origin: s.origin, at: s.at, "
        "entity_id: CASE s.entity_ids[i] WHEN '' THEN null ELSE s.entity_ids[i] END, "
        "entity_label: CASE s.entity_labels[i] WHEN '' THEN null ELSE s.entity_labels[i] END, "
        "relationship_id: CASE s.relationship_ids[i] WHEN '' THEN null "
        "ELSE s.relationship_ids[i] END, "
        "relation: CASE s.relations[i] WHEN '' THEN null ELSE s.relations[i] END, "
        "source_id: s.source_ids[i]}) "
        "WITH DISTINCT s DELETE s",
    )
    # A change set written before the migration ran (another process) is not served
    # ahead of the changes still waiting to be moved: no consumer skips them.
    cypher(
        driver,
        "MATCH (f:ChangeFeed) SET f.seq = 7 CREATE (:ChangeSet {first: 7, last: 7, "
        "origin: 'test', at: datetime(), kinds: ['created'], entity_ids: ['org:later'], "
        "entity_labels: ['Organisation'], relationship_ids: [''], relations: [''], "
        "source_ids: ['']})",
    )
    waiting = run(lambda graph: changes_after(graph, 0, 100))
    assert (waiting.changes, waiting.has_next, waiting.head) == ([], False, 7)
    run(ensure_schema)
    migrated = run(lambda graph: changes_after(graph, 0, 100))
    assert migrated.changes[:6] == before.changes
    assert [(c.seq, c.entity_id) for c in migrated.changes[6:]] == [(7, "org:later")]
    counts = cypher(
        driver,
        "MATCH (s:ChangeSet) WITH count(s) AS sets OPTIONAL MATCH (c:Change) "
        "RETURN sets, count(c) AS left",
    )
    assert counts == [{"sets": 7, "left": 0}]
    assert cypher(driver, "SHOW CONSTRAINTS YIELD name WHERE name = 'change_seq' RETURN name") == []
    load(DOC.replace("Before.", "After."))
    assert [c[:3] for c in feed(after=7)] == [(8, "updated", "actor:feed-x")]


@pytest.mark.usefixtures("empty_graph", "neo4j_env")
def test_a_follower_waits_out_a_busy_server_and_misses_nothing() -> None:
    load()
    busy_env = {
        **os.environ,
        "THREATGRAPH_MAX_TRANSACTIONS": "1",
        "THREATGRAPH_QUEUE_TIMEOUT_MS": "20",
    }

    async def scenario() -> list[Change]:
        async with Graph.connect(env=busy_env) as graph:
            assert graph.gate is not None
            follower = follow_changes(graph, 0, poll_interval_s=0.01)
            first = asyncio.ensure_future(anext(follower))
            async with graph.gate.admitted():  # the only turn, held for 0.5 s
                await asyncio.sleep(0.5)
                # Polls found no turn about a dozen times; the follower is still there.
                assert not first.done()
            seen = [await asyncio.wait_for(first, timeout=10)]
            while len(seen) < len(FIRST_LOAD):
                seen.append(await asyncio.wait_for(anext(follower), timeout=10))
            await follower.aclose()
            return seen

    assert [summary(c) for c in asyncio.run(scenario())] == FIRST_LOAD
