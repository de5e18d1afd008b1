"""Write validated graph documents: one transaction per document, UNWIND batches.

A load is checked as a whole before anything is written (ids that a document
uses but does not declare must exist in the graph, with a label the relation
allows): a load of several transactions by `check_references` first, a load of
one inside it, from the read that opens it. Each document is written in one
transaction, so a failure leaves the graph as it was before that document.

This module holds the orchestration (`load_documents`, the retrying
`_write_batch`), the reference checks and `LoadSummary`; what one transaction
writes, and its statements, are in graph/writes/batch_write.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from neo4j.exceptions import ConstraintError

from graph.errors import ValidationError
from graph.model.change_kinds import CREATED, WITHDRAWN
from graph.model.documents import combine_failures, with_article, wrong_label
from graph.model.records import GraphDocument
from graph.store.database import Graph, Record, Statement
from graph.writes.batch_write import REFERENCED_LABELS, BatchWrite, batch_write, prepare_batch
from graph.writes.changes import record_changes


@dataclass
class LoadSummary:
    """What a load did, document by document.

    `*_written` count distinct entities and claims per transaction (one written by
    two documents of a batch counts once); `*_created` and `claims_removed` are
    what the change feed recorded.
    """

    documents: list[str] = field(default_factory=list)
    entities_created: int = 0
    entities_written: int = 0
    claims_created: int = 0
    claims_written: int = 0
    claims_removed: int = 0

    def describe(self) -> str:
        return (
            f"{len(self.documents)} document(s): "
            f"{self.entities_written} entities ({self.entities_created} new), "
            f"{self.claims_written} claims ({self.claims_created} new, "
            f"{self.claims_removed} withdrawn)"
        )


def undeclared_references(documents: Sequence[GraphDocument]) -> list[str]:
    """The ids the documents use without declaring any of them, sorted."""
    declared = {entity.id for document in documents for entity in document.entities}
    return sorted({ref for doc in documents for ref in doc.unresolved if ref not in declared})


def raise_on_reference_problems(documents: Sequence[GraphDocument], found: dict[str, str]) -> None:
    """One ValidationError listing every problem of every document: an id declared as
    two kinds, an id neither declared nor in `found` (the graph's id -> kind), or one
    of a kind its use does not allow."""
    declared: dict[str, str] = {}
    declared_in: dict[str, str] = {}
    failures: list[ValidationError] = []
    conflicts: dict[str, list[str]] = {}
    for document in documents:
        for entity in document.entities:
            first = declared.setdefault(entity.id, entity.label)
            declared_in.setdefault(entity.id, document.origin)
            if first != entity.label:
                conflicts.setdefault(document.origin, []).append(
                    f"{entity.id} is declared as {with_article(entity.label)} here "
                    f"but as {with_article(first)} in {declared_in[entity.id]}"
                )
    labels = {**found, **declared}
    for document in documents:
        problems = list(conflicts.get(document.origin, []))
        for ref, uses in document.unresolved.items():
            label = labels.get(ref)
            for use in uses:
                if label is None:
                    problems.append(
                        f"{use.place}: {ref!r} is not declared in this load nor present "
                        "in the graph"
                    )
                elif label not in use.allowed:
                    wrong = wrong_label(ref, label, use.role, use.allowed)
                    problems.append(f"{use.place}: {wrong}")
        if problems:
            failures.append(ValidationError(document.origin, problems))
    if failures:
        raise combine_failures(failures)


def _found_labels(rows: Sequence[Record]) -> dict[str, str]:
    return {item["id"]: item["label"] for item in rows[0]["referenced"]} if rows else {}


async def check_references(graph: Graph, documents: Sequence[GraphDocument]) -> None:
    """Resolve every id used but not declared, across the whole load and the graph.

    Raises one ValidationError listing every problem of every document; reads only.
    """
    wanted = undeclared_references(documents)
    rows = await graph.read(REFERENCED_LABELS, {"refs": wanted}) if wanted else []
    raise_on_reference_problems(documents, _found_labels(rows))


async def load_documents(
    graph: Graph,
    documents: Sequence[GraphDocument],
    replace_source_claims: bool = True,
    origin: str | None = None,
    *,
    documents_per_transaction: int = 1,
) -> LoadSummary:
    """Check the whole load (reading only), then write the documents.

    By default each document is one transaction, so a failure leaves the graph as
    it was before that document. Bulk loads pass documents_per_transaction > 1:
    that many documents then share one transaction (and one UNWIND per statement),
    all or none of them written.

    Each transaction also records its changes for the change feed, with
    `origin` ("mutation:ingest"; by default "seed:" and the file's name).
    """
    if documents_per_transaction < 1:
        raise ValueError(f"documents_per_transaction: at least 1, not {documents_per_transaction}")
    summary = LoadSummary()
    batches = [
        documents[start : start + documents_per_transaction]
        for start in range(0, len(documents), documents_per_transaction)
    ]
    # A load of several transactions is checked whole before the first is written;
    # a load of one is checked inside it, from its probe.
    checked_in_transaction = len(batches) == 1
    if not checked_in_transaction:
        await check_references(graph, documents)
    upcoming: asyncio.Future[BatchWrite] | None = None
    try:
        for index, batch in enumerate(batches):
            # The first (often only: a mutation, a seed file) batch is made here; its plan,
            # in the transaction, for what the probe finds.
            if upcoming is None:
                write = batch_write(batch, replace_source_claims)
            else:
                write, upcoming = await upcoming, None
            if index + 1 < len(batches):
                # The next batch's rows are made in a worker thread while this batch's
                # transaction runs and commits, so a bulk load's Python work overlaps
                # Neo4j's instead of adding to it (bench/README.md, Ingest, fourth round).
                upcoming = asyncio.ensure_future(
                    asyncio.to_thread(prepare_batch, batches[index + 1], replace_source_claims)
                )
            results = await _write_batch(
                graph, write, origin or _seed_origin(batch), batch if checked_in_transaction else ()
            )
            _summarise(summary, batch, write, results)
    finally:
        if upcoming is not None and not upcoming.cancel() and not upcoming.cancelled():
            # Already finished: a preparation that failed too is not worth a second error
            # (the write's is the one raised), nor asyncio's "never retrieved" log line.
            upcoming.exception()
    return summary


def _summarise(
    summary: LoadSummary,
    batch: Sequence[GraphDocument],
    write: BatchWrite,
    results: list[list[Record]],
) -> None:
    summary.documents.extend(document.origin for document in batch)
    summary.entities_written += sum(len(rows) for rows in write.entity_rows.values())
    summary.claims_written += sum(len(rows) for rows in write.claim_rows.values())
    # What the feed recorded is what was created and withdrawn (mentions are no claims).
    for change in write.changes(results):
        if change["kind"] == CREATED and change.get("entity_id") is not None:
            summary.entities_created += 1
        elif change["kind"] == CREATED and change["relation"] != "MENTIONS":
            summary.claims_created += 1
        elif change["kind"] == WITHDRAWN and change["relation"] != "MENTIONS":
            summary.claims_removed += 1


def _seed_origin(batch: Sequence[GraphDocument]) -> str:
    """The change feed's origin for a batch of seed files: the file, or the first of several."""
    first = f"seed:{Path(batch[0].origin).name}"
    return first if len(batch) == 1 else f"{first} (+{len(batch) - 1} more)"


@contextlib.contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector for a command-line bulk load.

    Validating and loading make millions of small containers (parsed documents,
    records, rows) that live until the load ends; each full collection walks all
    of them again, and a growing heap keeps triggering full collections. None of
    them is cyclic (reference counting frees them), so the walks find nothing and
    only add to the load's Python time (bench/README.md, Ingest, fifth round).
    Collection resumes, as it was, on leaving. Process-wide, so for one-shot
    commands, not inside a server.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


CONSTRAINT_RETRIES = 5


async def _write_batch(
    graph: Graph, write: BatchWrite, origin: str, check: Sequence[GraphDocument] = ()
) -> list[list[Record]]:
    """One transaction for the batch, retried when a concurrent loader won a MERGE race.

    With `check`, the documents' references are checked from the probe's answer
    before anything is written: a problem raises ValidationError and the
    transaction rolls back.

    CREATE and MERGE on a uniquely constrained id fail with ConstraintValidationFailed
    when another transaction created the same node or relationship after this one
    looked for it; the whole transaction rolls back, and running it again finds
    (and updates) what the other loader created.
    """

    def check_references_found(results: list[list[Record]]) -> list[Statement]:
        raise_on_reference_problems(check, _found_labels(results[0]))
        return []

    refs = undeclared_references(check) if check else []
    for attempt in range(CONSTRAINT_RETRIES):
        try:
            return await graph.write_in_one_transaction(
                [write.probe(refs)],
                then=[
                    check_references_found,
                    write.upserts,
                    write.prune,
                    lambda results: record_changes(write.changes(results), origin),
                ],
            )
        except ConstraintError:
            if attempt == CONSTRAINT_RETRIES - 1:
                raise
    raise AssertionError("unreachable")  # pragma: no cover
