"""Answer a query operation with one Cypher statement per root field.

Parse and validate (cached per document, with the same limits as the schema's
extensions), compile (cached per document, operation and @skip/@include
variable values), bind arguments, run every statement in one read transaction,
shape. `execute` returns None whenever the regular path must answer instead:
parse or validation errors, mutations, introspection, a bad argument, a
reference that resolves to nothing or to several entities, or a null where the
schema forbids one. The regular path then gives its own answer or error, so both
paths always say the same. Neo4j failing (a DatabaseFault: away, out of time, out of
turns) is answered here, one error per root field as the resolvers would give it:
they would only meet the same fault after doing the work again (a question that ran
into the 10 s limit ran twice, for 20 s).
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
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
    specified_rules,
    validate,
    visit,
)
from graphql.execution.collect_fields import FragmentDetails
from graphql.execution.values import VariableValues, get_argument_values, get_variable_values
from graphql.language import Visitor
from graphql.utilities import get_operation_ast
from graphql.validation import ASTValidationRule, NoSchemaIntrospectionCustomRule
from strawberry.extensions.max_aliases import create_validator as max_aliases_rule
from strawberry.extensions.query_depth_limiter import create_validator as max_depth_rule
from strawberry.types import ExecutionResult

from graph.errors import DatabaseFault, GraphError
from graph.reads.compiled.cypher import RootStatement, UncoveredField, root_statement
from graph.reads.compiled.plan import RootField, Selection
from graph.reads.compiled.shape import NullInNonNull, Shaper, value_shaper
from graph.store.database import Graph, Statement
from schema.compiled import arguments
from schema.compiled.compiler import ArgumentSite, CompiledOperation, compile_operation
from schema.errors import UserInputError

log = logging.getLogger("threatgraph.compiled")

EXECUTOR_KEY = "threatgraph"


class _LRU(OrderedDict[Hashable, Any]):
    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def remember(self, key: Hashable, make: Callable[[], Any]) -> Any:
        if key in self:
            self.move_to_end(key)
            return self[key]
        value = make()
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


# A root field bound for one request: response key, root, statement, parameters.
_Bound = tuple[str, _Root, RootStatement, dict[str, Any]]


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
        debug: bool = False,
        cache_size: int = 1024,
    ) -> None:
        self.schema = schema
        self.max_tokens = max_tokens
        self.debug = debug
        rules: list[type[ASTValidationRule]] = [
            *specified_rules,
            max_depth_rule(max_depth, None, None),
            max_aliases_rule(max_aliases),
        ]
        if not introspection:
            rules.append(NoSchemaIntrospectionCustomRule)
        self.rules = rules
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
        try:
            return await self._run(graph, plan, coerced)
        except (UserInputError, NullInNonNull, GraphError):
            return None
        except Exception:
            log.exception("compiled execution failed; answering through the resolvers")
            return None

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
        batch, _ = self._bind(plan, coerced)
        return [(statement.text, parameters) for _, _, statement, parameters in batch]

    def _plan(
        self, query: str | None, variables: dict[str, Any] | None, operation_name: str | None
    ) -> tuple[_Plan, VariableValues] | None:
        """The cached plan and coerced variables, or None when the resolvers must answer."""
        if not query:
            return None
        parsed: _Document | None = self._documents.remember(query, lambda: self._parse(query))
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

    def _bind(self, plan: _Plan, variables: VariableValues) -> tuple[list[_Bound], dict[str, Any]]:
        """Each root field's statement and parameters, and the answers known without Neo4j."""
        nested: dict[str, Any] = {}
        bound: list[tuple[ArgumentSite, dict[str, Any]]] = []
        for site in plan.sites:
            args = get_argument_values(site.definition, site.node, variables)
            if site.prefix == "root":
                bound.append((site, args))
            else:
                nested.update(arguments.relations(site.prefix, args))
        root_args = iter(bound)
        batch: list[_Bound] = []
        answers: dict[str, Any] = {}
        for key, root in plan.roots:
            if isinstance(root, str):
                continue
            site, args = next(root_args)
            parameters = _BINDERS[root.root.field](args)
            if parameters is None:  # a search with no words in it
                answers[key] = []
                continue
            variant = _variant(root.root, args)
            statement = root.statements.get(variant)
            if statement is None:
                statement = root_statement(root.root, **_variant_kwargs(root.root, args))
                root.statements[variant] = statement
            batch.append((key, root, statement, {**nested, **parameters}))
        return batch, answers

    async def _run(self, graph: Graph, plan: _Plan, variables: VariableValues) -> ExecutionResult:
        batch, answers = self._bind(plan, variables)
        try:
            results = await graph.read_in_one_transaction(
                [(statement.text, parameters) for _, _, statement, parameters in batch]
            )
        except DatabaseFault as fault:
            return self._faulted(plan, batch, answers, fault)
        for (key, root, statement, _), rows in zip(batch, results, strict=True):
            if not rows:
                raise UserInputError("no rows: the resolvers say why")
            row = rows[0]
            for column in statement.candidates:
                if len(row[column]) != 1 and not (root.root.field == "entity" and not row[column]):
                    raise UserInputError("unresolved reference: the resolvers say why")
            answers[key] = root.shaper(row["value"])
        data = {key: root if isinstance(root, str) else answers[key] for key, root in plan.roots}
        return ExecutionResult(data=data, errors=None, extensions=self._extensions(batch))

    def _faulted(
        self,
        plan: _Plan,
        batch: list[_Bound],
        answers: dict[str, Any],
        fault: DatabaseFault,
    ) -> ExecutionResult:
        """What the resolvers answer when Neo4j fails under every root field it was asked:
        each is null with an error at its path, and a non-null one nulls the whole data."""
        failed = [key for key, _, _, _ in batch]
        errors = [GraphQLError(str(fault), path=[key], original_error=fault) for key in failed]
        data: dict[str, Any] | None = {
            key: root if isinstance(root, str) else answers.get(key) for key, root in plan.roots
        }
        if not all(root.root.nullable for _, root, _, _ in batch):
            data = None
        return ExecutionResult(data=data, errors=errors, extensions=self._extensions(batch))

    def _extensions(self, batch: list[_Bound]) -> dict[str, Any] | None:
        if not self.debug:
            return None
        return {
            EXECUTOR_KEY: {
                "executor": "compiled",
                "cypher": [statement.text for _, _, statement, _ in batch],
            }
        }


_BINDERS: dict[str, Callable[[dict[str, Any]], dict[str, Any] | None]] = {
    "entity": arguments.entity,
    "search": arguments.search,
    "incidents": arguments.incidents,
    "path": arguments.path,
    "neighbourhood": arguments.neighbourhood,
}


def _variant(root: RootField, args: dict[str, Any]) -> tuple[object, ...]:
    """What of a root field's arguments shows in its statement's text."""
    if root.field == "incidents":
        return (args.get("linkedTo") is not None,)
    if root.field == "path":
        return (args.get("maxHops", 6),)
    if root.field == "neighbourhood":
        return (args.get("hops", 1),)
    return ()


def _probe_variant(root: RootField) -> dict[str, Any]:
    return {"linkedTo": "x"} if root.field == "incidents" else {}


def _variant_kwargs(root: RootField, args: dict[str, Any]) -> dict[str, Any]:
    if root.field == "incidents":
        return {"linked": args.get("linkedTo") is not None}
    if root.field == "path":
        return {"hops": args.get("maxHops", 6)}
    if root.field == "neighbourhood":
        return {"hops": args.get("hops", 1)}
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
