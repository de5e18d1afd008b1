"""Per-request context: the graph, request-scoped DataLoaders and who is asking.

DataLoaders batch the nested reads (an entity's sources and relations) so that
round-trips grow with the depth of a query, never with the size of its result.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from strawberry.dataloader import DataLoader

from graph.reads.activity import link_paths_of
from graph.reads.identities import UseFilter, identities_of, uses_of_entities
from graph.reads.questions import (
    RelationFilter,
    attributions_of,
    entities_by_id,
    relations_of,
    sources_of,
)
from graph.reads.victims import victims_of
from graph.store.database import Graph, Record
from graph.writes.change_poller import ChangePoller

# The STIX 2.1 export (graph, ref, hops, asOf day) -> bundle; api/app.py gives
# seed.importers.stix_export's, which schema/ may not import (schema/stix.py).
StixExporter = Callable[[Graph, str, int, str | None], Awaitable[dict[str, Any]]]


@dataclass
class Context:
    graph: Graph
    request: Any = None
    response: Any = None
    is_writer: bool = False
    # The process's poll of the change feed, shared by its `changed` subscriptions.
    change_poller: ChangePoller = field(default_factory=ChangePoller)
    connection_params: dict[str, Any] | None = None  # a WebSocket's connection_init payload
    stix_exporter: StixExporter | None = None
    _sources: DataLoader[str, list[Record]] | None = None
    _entities: DataLoader[str, Record | None] | None = None
    _attributions: dict[str | None, DataLoader[str, tuple[list[Record], bool]]] = field(
        default_factory=dict
    )
    _link_paths: dict[tuple[tuple[str, Any], ...], DataLoader[str, list[Record]]] = field(
        default_factory=dict
    )
    _relations: dict[RelationFilter, DataLoader[str, tuple[int, list[Record]]]] = field(
        default_factory=dict
    )
    _identities: dict[str | None, DataLoader[str, Record | None]] = field(default_factory=dict)
    _uses: dict[UseFilter, DataLoader[str, tuple[int, list[Record]]]] = field(default_factory=dict)
    _victims: dict[str | None, DataLoader[str, Record]] = field(default_factory=dict)

    @property
    def sources_loader(self) -> DataLoader[str, list[Record]]:
        if self._sources is None:

            async def load(ids: list[str]) -> list[list[Record]]:
                found = await sources_of(self.graph, list(ids))
                return [found[entity_id] for entity_id in ids]

            self._sources = DataLoader(load_fn=load)
        return self._sources

    @property
    def entity_loader(self) -> DataLoader[str, Record | None]:
        """Entities by exact id; federation's `_entities` batches through it."""
        if self._entities is None:

            async def load(ids: list[str]) -> list[Record | None]:
                found = await entities_by_id(self.graph, list(ids))
                return [found[entity_id] for entity_id in ids]

            self._entities = DataLoader(load_fn=load)
        return self._entities

    def attributions_loader(self, as_of: str | None) -> DataLoader[str, tuple[list[Record], bool]]:
        """Incidents' attributions known on `as_of` (None: today) and whether they
        dispute each other, by incident id."""
        loader = self._attributions.get(as_of)
        if loader is None:

            async def load(ids: list[str]) -> list[tuple[list[Record], bool]]:
                found = await attributions_of(self.graph, list(ids), as_of)
                return [found[entity_id] for entity_id in ids]

            loader = DataLoader(load_fn=load)
            self._attributions[as_of] = loader
        return loader

    def link_paths_loader(
        self, question: tuple[tuple[str, Any], ...]
    ) -> DataLoader[str, list[Record]]:
        """Incidents' next strongest chains (LINK_PATHS_QUERY), by incident id, for one
        incidents(linkedTo:) question and linkPaths(first:)."""
        loader = self._link_paths.get(question)
        if loader is None:

            async def load(ids: list[str]) -> list[list[Record]]:
                found = await link_paths_of(self.graph, list(ids), dict(question))
                return [found[entity_id] for entity_id in ids]

            loader = DataLoader(load_fn=load)
            self._link_paths[question] = loader
        return loader

    def relations_loader(
        self, filters: RelationFilter
    ) -> DataLoader[str, tuple[int, list[Record]]]:
        loader = self._relations.get(filters)
        if loader is None:

            async def load(ids: list[str]) -> list[tuple[int, list[Record]]]:
                found = await relations_of(self.graph, list(ids), filters)
                return [found[entity_id] for entity_id in ids]

            loader = DataLoader(load_fn=load)
            self._relations[filters] = loader
        return loader

    def identities_loader(self, as_of: str | None) -> DataLoader[str, Record | None]:
        """Entities' external ids, names by source and possible duplicates known on
        `as_of` (None: today), by entity id: one read for all three fields."""
        loader = self._identities.get(as_of)
        if loader is None:

            async def load(ids: list[str]) -> list[Record | None]:
                found = await identities_of(self.graph, list(ids), as_of)
                return [found[entity_id] for entity_id in ids]

            loader = DataLoader(load_fn=load)
            self._identities[as_of] = loader
        return loader

    def uses_loader(self, filters: UseFilter) -> DataLoader[str, tuple[int, list[Record]]]:
        """A page of the techniques or software entities use, by entity id."""
        loader = self._uses.get(filters)
        if loader is None:

            async def load(ids: list[str]) -> list[tuple[int, list[Record]]]:
                found = await uses_of_entities(self.graph, list(ids), filters)
                return [found[entity_id] for entity_id in ids]

            loader = DataLoader(load_fn=load)
            self._uses[filters] = loader
        return loader

    def victims_loader(self, as_of: str | None) -> DataLoader[str, Record]:
        """Victims' sectors and country known on `as_of` (None: today), by entity id: one
        read for both fields."""
        loader = self._victims.get(as_of)
        if loader is None:

            async def load(ids: list[str]) -> list[Record]:
                found = await victims_of(self.graph, list(ids), as_of)
                return [found[entity_id] for entity_id in ids]

            loader = DataLoader(load_fn=load)
            self._victims[as_of] = loader
        return loader
