"""Answer a query operation with one Cypher statement per root field.

Parse and validate (cached per document, with the same limits as the schema's
extensions), compile (cached per document, operation and @skip/@include
variable values), bind arguments (schema/arguments.py, as the resolvers do), run
every statement in one read transaction, shape.

`execute` returns None, before anything has run, when Strawberry's execution
must answer instead: parse or validation errors, mutations, subscriptions,
introspection, fields the compiler does not cover, and a bad argument of a
nested field (whose error path holds list indexes only execution knows).
Everything else is answered here, errors included: a bad root argument, a
reference that resolves to nothing or to several entities, Neo4j failing (one
error per root field, as the resolvers give them). A null where the schema
forbids one, or any other failure, is a bug: it is reported as an internal
error and logged, never answered a second time by the resolvers.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable, Collection, Hashable
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    BooleanValueNode,
    DirectiveNode,
    DocumentNode,
    FragmentDefinitionNode,
    GraphQLError,
    GraphQLSchema,
    OperationDefinitionNode,
    OperationType,
    VariableNode,
    parse,
    validate,
    visit,
)
from graphql.execution.collect_fields import FragmentDetails
from graphql.execution.values import VariableValues, get_argument_values, get_variable_values
from graphql.language import Visitor
from graphql.utilities import get_operation_ast
from strawberry.types import ExecutionResult

from graph.errors import DatabaseFault, GraphError
from graph.model.vocabulary import EntityKind
from graph.reads.compiled.cypher import UncoveredField
from graph.reads.compiled.plan import RootField, Selection
from graph.reads.compiled.roots import ACTIVITY_ROOTS, RootStatement, root_statement
from graph.reads.compiled.shape import Shaper, value_shaper
from graph.reads.questions import raise_unless_resolved
from graph.store.database import Graph, Statement
from schema import arguments
from schema.build import is_cacheable
from schema.compiled.compiler import ArgumentSite, CompiledOperation, compile_operation
from schema.cost import DEFAULT_MAX_COST
from schema.errors import UserInputError
from schema.validation import validation_rules

log = logging.getLogger("threatgraph.compiled")

EXECUTOR_KEY = "threatgraph"


class _LRU(OrderedDict[Hashable, Any]):
    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def remember(self, key: Hashable, make: Callable[[], Any], keep: bool = True) -> Any:
        """The value kept for `key`, else made (and kept only when `keep`)."""
        if key in self:
            self.move_to_end(key)
            return self[key]
        value = make()
        if keep:
            self[key] = value
            if len(self) > self.size:
                self.popitem(last=False)
        return value


@dataclass(frozen=True)
class _Document:
    """A parsed, validated document (None when Strawberry must report errors)."""

    document: DocumentNode
    fragments: dict[str, FragmentDetails]
    directive_variables: tuple[str, ...]


@dataclass
class _Root:
    root: RootField
    shaper: Shaper
    statements: dict[tuple[object, ...], RootStatement]


@dataclass
class _Bound:
    """A root field bound for one request."""

    key: str
    root: _Root
    statement: RootStatement
    parameters: dict[str, Any]
    site: ArgumentSite
    refs: tuple[str, ...]  # its references as given, one per statement.candidates column


@dataclass
class _Binding:
    batch: list[_Bound] = field(default_factory=list)
    answers: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, GraphQLError] = field(default_factory=dict)
    refused: set[str] = field(default_factory=set)  # errors found before anything ran


@dataclass
class _Plan:
    roots: list[tuple[str, _Root | str]]
    sites: list[ArgumentSite]


class CompiledExecutor:
    """Runs the query operations the compiler covers; None for everything else."""

    def __init__(
        self,
        schema: GraphQLSchema,
        *,
        max_depth: int,
        max_aliases: int,
        max_tokens: int,
        introspection: bool,
        trusted_documents: Collection[str] | None = None,
        debug: bool = False,
        cache_size: int = 1024,
        max_cost: int = DEFAULT_MAX_COST,
    ) -> None:
        self.schema = schema
        self.max_tokens = max_tokens
        self.debug = debug
        # The rules Strawberry validates with (schema/validation.py): a document
        # either executor refuses, the other refuses too.
        self.rules = validation_rules(
            max_depth=max_depth,
            max_aliases=max_aliases,
            max_cost=max_cost,
            introspection=introspection,
            trusted_documents=trusted_documents,
        )
        self._documents = _LRU(cache_size)
        self._plans = _LRU(cache_size)

    async def execute(
        self,
        graph: Graph,
        query: str | None,
        variables: dict[str, Any] | None,
        operation_name: str | None,
    ) -> ExecutionResult | None:
        planned = self._plan(query, variables, operation_name)
        if planned is None:
            return None
        plan, coerced = planned
        binding = self._bind(plan, coerced)
        if binding is None:
            return None
        try:
            return await self._run(graph, plan, binding)
        except Exception as bug:
            # translate() logs it with its traceback and masks it for the client.
            error = GraphQLError(str(bug), original_error=bug)
            return ExecutionResult(data=None, errors=[error], extensions=None)

    def statements(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        operation_name: str | None = None,
    ) -> list[Statement] | None:
        """The Cypher statements (text, parameters) a request would run, without running them.

        None when the request is not compiled (the resolvers would answer it).
        The benchmark sends these straight through the driver: the floor of
        what the compiled API costs.
        """
        planned = self._plan(query, variables, operation_name)
        if planned is None:
            return None
        plan, coerced = planned
        binding = self._bind(plan, coerced)
        if binding is None:
            return None
        return [(bound.statement.text, bound.parameters) for bound in binding.batch]

    def _plan(
        self, query: str | None, variables: dict[str, Any] | None, operation_name: str | None
    ) -> tuple[_Plan, VariableValues] | None:
        """The cached plan and coerced variables, or None when the resolvers must answer."""
        if not query:
            return None
        # Long texts are parsed and planned afresh: the caches hold short ones only.
        keep = is_cacheable(query)
        parsed: _Document | None = self._documents.remember(
            query, lambda: self._parse(query), keep=keep
        )
        if parsed is None:
            return None
        operation = get_operation_ast(parsed.document, operation_name)
        if operation is None or operation.operation != OperationType.QUERY:
            return None
        coerced = get_variable_values(
            self.schema, operation.variable_definitions or (), variables or {}, max_errors=1
        )
        if isinstance(coerced, list):
            return None
        switches = tuple(coerced.coerced.get(name) for name in parsed.directive_variables)
        plan: _Plan | None = self._plans.remember(
            (query, operation_name, switches),
            lambda: self._compile(parsed, operation, coerced),
            keep=keep,
        )
        return None if plan is None else (plan, coerced)

    def _parse(self, query: str) -> _Document | None:
        try:
            document = parse(query, max_tokens=self.max_tokens)
        except GraphQLError:
            return None
        if validate(self.schema, document, self.rules):
            return None
        fragments = {
            d.name.value: FragmentDetails(d)
            for d in document.definitions
            if isinstance(d, FragmentDefinitionNode)
        }
        return _Document(document, fragments, _directive_variables(document))

    def _compile(
        self, parsed: _Document, operation: OperationDefinitionNode, variables: VariableValues
    ) -> _Plan | None:
        try:
            compiled: CompiledOperation = compile_operation(
                self.schema, parsed.fragments, variables, operation
            )
            roots: list[tuple[str, _Root | str]] = []
            for key, root in compiled.roots:
                if isinstance(root, str):
                    roots.append((key, root))
                    continue
                entry = _Root(root, value_shaper(_as_selection(root)), {})
                # Build one statement now, so an uncovered field is found at compile time.
                entry.statements[_variant(root, _probe_variant(root))] = root_statement(
                    root, **_variant_kwargs(root, _probe_variant(root))
                )
                roots.append((key, entry))
        except UncoveredField as missing:
            log.debug("not compiled (%s): the resolvers answer", missing)
            return None
        return _Plan(roots, compiled.sites)

    def _bind(self, plan: _Plan, variables: VariableValues) -> _Binding | None:
        """Each root field's statement and parameters, the answers known without Neo4j,
        and the root fields refused for their arguments; None when a nested field's
        argument is bad (Strawberry's execution reports it at its path)."""
        nested: dict[str, Any] = {}
        bound: list[tuple[ArgumentSite, dict[str, Any]]] = []
        for site in plan.sites:
            args = get_argument_values(site.definition, site.node, variables)
            if site.prefix == "root":
                bound.append((site, args))
                continue
            try:
                if site.field_name == "attributions":
                    nested[f"{site.prefix}_as_of"] = arguments.as_of(args)
                elif site.field_name == "linkPaths":
                    nested.update(arguments.link_paths(site.prefix, args))
                elif site.field_name in ("techniques", "software"):
                    nested.update(arguments.uses(site.prefix, args))
                else:
                    nested.update(arguments.relations(site.prefix, args))
            except UserInputError:
                return None
        root_args = iter(bound)
        binding = _Binding()
        for key, root in plan.roots:
            if isinstance(root, str):
                continue
            site, args = next(root_args)
            binder, references = _BINDERS[root.root.field]
            try:
                parameters = binder(args)
            except UserInputError as refused:
                binding.errors[key] = _located(refused, site, key)
                binding.refused.add(key)
                continue
            if parameters is None:  # a search with no words in it
                binding.answers[key] = []
                continue
            variant = _variant(root.root, args)
            statement = root.statements.get(variant)
            if statement is None:
                statement = root_statement(root.root, **_variant_kwargs(root.root, args))
                root.statements[variant] = statement
            refs = tuple(args[name] for name in references if args.get(name) is not None)
            binding.batch.append(_Bound(key, root, statement, {**nested, **parameters}, site, refs))
        return binding

    async def _run(self, graph: Graph, plan: _Plan, binding: _Binding) -> ExecutionResult:
        batch = binding.batch
        try:
            results = await graph.read_in_one_transaction(
                [(bound.statement.text, bound.parameters) for bound in batch]
            )
        except DatabaseFault as fault:
            for bound in batch:
                binding.errors[bound.key] = _located(fault, bound.site, bound.key)
            return self._result(plan, binding)
        for bound, rows in zip(batch, results, strict=True):
            row = rows[0]  # every root statement returns exactly one row
            try:
                for column, ref in zip(bound.statement.candidates, bound.refs, strict=True):
                    _raise_unless_resolved(bound.root.root.field, ref, row[column])
            except GraphError as unresolved:
                binding.errors[bound.key] = _located(unresolved, bound.site, bound.key)
                continue
            binding.answers[bound.key] = bound.root.shaper(row["value"])
        return self._result(plan, binding)

    def _result(self, plan: _Plan, binding: _Binding) -> ExecutionResult:
        """The response: every root field's answer, null where it failed, with its
        error; a failed non-null root field nulls the whole data, as GraphQL says."""
        data: dict[str, Any] | None = {
            key: root if isinstance(root, str) else binding.answers.get(key)
            for key, root in plan.roots
        }
        failed = [
            (key, root.root.nullable)
            for key, root in plan.roots
            if not isinstance(root, str) and key in binding.errors
        ]
        # As graphql-core reports them: the nullable fields' errors as they happen (those
        # refused for their arguments first, then those found by reading), then the first
        # non-null field's to happen, whose null ends the operation's data.
        failed.sort(key=lambda item: item[0] not in binding.refused)
        errors = [binding.errors[key] for key, nullable in failed if nullable]
        fatal = [key for key, nullable in failed if not nullable]
        if fatal:
            errors.append(binding.errors[fatal[0]])
            data = None
        return ExecutionResult(
            data=data, errors=errors or None, extensions=self._extensions(binding.batch)
        )

    def _extensions(self, batch: list[_Bound]) -> dict[str, Any] | None:
        if not self.debug:
            return None
        return {
            EXECUTOR_KEY: {
                "executor": "compiled",
                "cypher": [bound.statement.text for bound in batch],
                # One to one with `cypher`: each statement runs again as it is, with these.
                "parameters": [bound.parameters for bound in batch],
            }
        }


def _located(error: Exception, site: ArgumentSite, key: str) -> GraphQLError:
    """`error` at a root field, as graphql-core locates a resolver's error."""
    return GraphQLError(str(error), nodes=list(site.nodes), path=[key], original_error=error)


def _raise_unless_resolved(question: str, ref: str, candidates: list[str]) -> None:
    """As the resolvers: `entity` answers null for nothing found, the rest say NOT_FOUND."""
    if question == "entity" and not candidates:
        return
    raise_unless_resolved(ref, candidates)


# Each root field's binder, and the arguments holding its references, in the order of
# its statement's candidate columns.
_BINDERS: dict[str, tuple[Callable[[dict[str, Any]], dict[str, Any] | None], tuple[str, ...]]] = {
    "entity": (arguments.entity, ("ref",)),
    "search": (arguments.search, ()),
    "incidents": (arguments.incidents, ("linkedTo",)),
    "activity": (arguments.incidents, ("linkedTo",)),
    "path": (arguments.path, ("from", "to")),
    "neighbourhood": (arguments.neighbourhood, ("ref",)),
    "claims": (arguments.claims, ("from", "to")),
    "entities": (arguments.entities, ()),
}


def _variant(root: RootField, args: dict[str, Any]) -> tuple[object, ...]:
    """What of a root field's arguments shows in its statement's text: the key its
    statement is kept under."""
    return tuple(_variant_kwargs(root, args).items())


def _probe_variant(root: RootField) -> dict[str, Any]:
    """Arguments for a statement built at compile time to find uncovered fields."""
    return {
        "linkedTo": "x",
        "maxHops": arguments.DEFAULT_MAX_HOPS,
        "hops": arguments.DEFAULT_HOPS,
        "kind": EntityKind.THREAT_ACTOR,
    }


def _variant_kwargs(root: RootField, args: dict[str, Any]) -> dict[str, Any]:
    """The arguments that shape a root field's statement, as root_statement takes them."""
    if root.field in ACTIVITY_ROOTS:
        return {
            "linked": args.get("linkedTo") is not None,
            "sector": args.get("targetSector") is not None,
            "labels": arguments.activity_labels(args),
        }
    if root.field == "search":
        return {"after": args.get("after") is not None}
    if root.field == "path":
        return {"hops": args["maxHops"]}
    if root.field == "neighbourhood":
        return {"hops": args["hops"]}
    if root.field == "entities":
        return {"kind": arguments.kind(args)}
    return {}


def _as_selection(root: RootField) -> Selection:
    return Selection(root.key, root.field, root.nullable, root.items_nullable, root.sub)


def _directive_variables(document: DocumentNode) -> tuple[str, ...]:
    """Variables that @skip/@include read: they change the plan, so they key its cache."""
    found: list[str] = []

    class Directives(Visitor):
        def enter_directive(self, node: DirectiveNode, *_: object) -> None:
            if node.name.value in ("skip", "include"):
                for argument in node.arguments or ():
                    if isinstance(argument.value, VariableNode):
                        found.append(argument.value.name.value)
                    elif not isinstance(argument.value, BooleanValueNode):
                        found.append("")

    visit(document, Directives())
    return tuple(sorted(set(found)))
