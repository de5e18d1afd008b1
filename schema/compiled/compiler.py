"""A validated GraphQL operation to graph.reads.compiled plans.

Field collection is graphql-core's own (`collect_fields` / `collect_subfields`),
the very code the regular path executes with, so fragments, inline fragments on
Entity and its kinds, aliases, merging and @skip/@include mean exactly the same
on both paths. On the Entity interface the selection is collected once per
concrete kind, since `... on Incident { started }` only applies to incidents.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from graphql import (
    FieldNode,
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLSchema,
    OperationDefinitionNode,
)
from graphql.execution.collect_fields import (
    FieldDetails,
    FragmentDetails,
    collect_fields,
    collect_subfields,
)
from graphql.execution.values import VariableValues

from graph.reads.compiled.cypher import KIND_KEY, UncoveredField
from graph.reads.compiled.plan import TYPENAME, EntityShape, ObjectShape, RootField, Selection

ROOT_FIELDS = (
    "entity",
    "search",
    "incidents",
    "activity",
    "path",
    "neighbourhood",
    "claims",
    "entities",
)
_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


def graph_name(graphql_name: str) -> str:
    """The graph's name for a field: snake case; `from` is `from_` (a Python keyword)."""
    if graphql_name == TYPENAME:
        return graphql_name
    if graphql_name == "from":
        return "from_"
    return _CAMEL.sub("_", graphql_name).lower()


@dataclass(frozen=True)
class ArgumentSite:
    """Where a field with arguments sits: its parameters get `prefix`."""

    prefix: str
    field_name: str
    definition: GraphQLField
    node: FieldNode
    nodes: tuple[FieldNode, ...]  # every node merged into the field (errors locate them all)


@dataclass
class CompiledOperation:
    """Roots in response order: a RootField, or a constant for `__typename`."""

    roots: list[tuple[str, RootField | str]]
    sites: list[ArgumentSite] = field(default_factory=list)


@dataclass
class _Collector:
    schema: GraphQLSchema
    fragments: dict[str, FragmentDetails]
    variables: VariableValues
    operation: OperationDefinitionNode
    entity: GraphQLInterfaceType
    kinds: list[GraphQLObjectType]
    sites: dict[tuple[int, ...], ArgumentSite] = field(default_factory=dict)

    def site(self, name: str, definition: GraphQLField, nodes: list[FieldDetails]) -> str:
        identity = tuple(id(d.node) for d in nodes)
        found = self.sites.get(identity)
        if found is None:
            prefix = "root" if name in ROOT_FIELDS else f"a{len(self.sites)}"
            found = ArgumentSite(
                prefix, name, definition, nodes[0].node, tuple(d.node for d in nodes)
            )
            self.sites[identity] = found
        return found.prefix

    def selection(
        self, parent: GraphQLObjectType, key: str, nodes: list[FieldDetails]
    ) -> Selection:
        name = nodes[0].node.name.value
        if name == TYPENAME:
            return Selection(key, TYPENAME, nullable=False)
        if name.startswith("__"):
            raise UncoveredField(name)
        definition = parent.fields[name]
        nullable, items_nullable, named = _unwrap(definition.type)
        arguments = self.site(name, definition, nodes) if definition.args else None
        sub: ObjectShape | EntityShape | None = None
        if isinstance(named, (GraphQLObjectType, GraphQLInterfaceType)):
            sub = self.shape(named, nodes)
        return Selection(key, graph_name(name), nullable, items_nullable, sub, arguments)

    def shape(
        self, named: GraphQLObjectType | GraphQLInterfaceType, nodes: list[FieldDetails]
    ) -> ObjectShape | EntityShape:
        if named is self.entity:
            return EntityShape({kind.name: self.fields(kind, nodes) for kind in self.kinds})
        if isinstance(named, GraphQLInterfaceType):
            # An interface of entities (Activity): the kinds that implement it.
            assert self.entity in named.interfaces
            kinds = self.schema.get_implementations(named).objects
            return EntityShape({kind.name: self.fields(kind, nodes) for kind in kinds})
        if self.entity in named.interfaces:
            return EntityShape({named.name: self.fields(named, nodes)})
        return ObjectShape(named.name, self.fields(named, nodes))

    def fields(
        self, runtime: GraphQLObjectType, nodes: list[FieldDetails]
    ) -> tuple[Selection, ...]:
        collected = collect_subfields(
            self.schema, self.fragments, self.variables, self.operation, runtime, nodes
        )
        if collected.new_defer_usages:
            raise UncoveredField("@defer")
        selections = tuple(
            self.selection(runtime, key, details)
            for key, details in collected.grouped_field_set.items()
        )
        if any(s.key == KIND_KEY for s in selections):
            raise UncoveredField(KIND_KEY)
        return selections


def compile_operation(
    schema: GraphQLSchema,
    fragments: dict[str, FragmentDetails],
    variables: VariableValues,
    operation: OperationDefinitionNode,
) -> CompiledOperation:
    """Plans for every root field; UncoveredField when any part has no Cypher."""
    query = schema.query_type
    entity = schema.get_type("Entity")
    assert query is not None and isinstance(entity, GraphQLInterfaceType)
    collector = _Collector(
        schema,
        fragments,
        variables,
        operation,
        entity,
        list(schema.get_implementations(entity).objects),
    )
    collected = collect_fields(schema, fragments, variables, query, operation)
    if collected.new_defer_usages:
        raise UncoveredField("@defer")
    roots: list[tuple[str, RootField | str]] = []
    for key, details in collected.grouped_field_set.items():
        name = details[0].node.name.value
        if name == TYPENAME:
            roots.append((key, query.name))
            continue
        if name not in ROOT_FIELDS:
            raise UncoveredField(name)
        s = collector.selection(query, key, details)
        assert s.arguments is not None
        roots.append((key, RootField(key, name, s.nullable, s.items_nullable, s.sub, s.arguments)))
    return CompiledOperation(roots, list(collector.sites.values()))


def _unwrap(
    output: GraphQLOutputType,
) -> tuple[bool, bool | None, GraphQLOutputType]:
    nullable = not isinstance(output, GraphQLNonNull)
    inner = output.of_type if isinstance(output, GraphQLNonNull) else output
    if isinstance(inner, GraphQLList):
        item = inner.of_type
        items_nullable = not isinstance(item, GraphQLNonNull)
        named = item.of_type if isinstance(item, GraphQLNonNull) else item
        if isinstance(named, (GraphQLList, GraphQLNonNull)):
            raise UncoveredField("nested lists")
        return nullable, items_nullable, named
    return nullable, None, inner
