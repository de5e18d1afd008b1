"""What a query may cost, estimated from its text before anything runs.

Each field counts 1, and a field that takes `first` counts its selection once per
item that page may hold: the literal given, else the argument's default; a variable
counts at the most the field allows, since its value is not known when a document
is validated (and a validated document is cached whatever values come with it).
Nested pages multiply: `relations(first: 500)` inside `relations(first: 500)` costs
over 250,000, where every question of the cookbook costs under 25,000.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final, cast

from graphql import (
    ASTValidationRule,
    FieldNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationContext,
    VariableNode,
    get_named_type,
)

from schema.arguments import MAX_LINK_PATHS
from schema.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE

# The most a query may cost (THREATGRAPH_MAX_COST).
DEFAULT_MAX_COST: Final = 100_000
PAGE_ARGUMENT: Final = "first"
# The most a `first` may ask for, by field; every other field's is MAX_PAGE_SIZE.
MAX_FIRST: Final = {"linkPaths": MAX_LINK_PATHS}


def cost_refusal(cost: int, limit: int) -> str:
    return (
        f"This query costs {cost:,}, over the limit of {limit:,}: each field counts 1, and a "
        "field that takes `first` counts its selection once per item of the page (a variable "
        "at the most it allows). Ask for smaller pages or fewer nested ones."
    )


# (cost, depth) of a selection: depth as the depth limit counts it, a leaf field 0.
Sized = tuple[int, int]


class _Estimate:
    """The cost and depth of selections in one document; each fragment's is worked out
    once, so fragments spreading fragments cost time in proportion to the text."""

    def __init__(self, context: ValidationContext) -> None:
        self.context = context
        self.fragments: dict[str, Sized] = {}
        self.entered: set[str] = set()  # fragments being worked out: a cycle counts 0

    def selections(self, parent: GraphQLNamedType | None, node: SelectionSetNode | None) -> Sized:
        sized = [self.selection(parent, selection) for selection in node.selections] if node else []
        return sum(cost for cost, _ in sized), max((depth for _, depth in sized), default=0)

    def selection(self, parent: GraphQLNamedType | None, node: Any) -> Sized:
        if isinstance(node, FieldNode):
            return self.field(parent, node)
        if isinstance(node, InlineFragmentNode):
            condition = node.type_condition
            inner = self.context.schema.get_type(condition.name.value) if condition else parent
            return self.selections(inner, node.selection_set)
        if isinstance(node, FragmentSpreadNode):
            return self.fragment(node.name.value)
        return 0, 0

    def fragment(self, name: str) -> Sized:
        if name in self.fragments:
            return self.fragments[name]
        definition = self.context.get_fragment(name)
        if definition is None or name in self.entered:
            return 0, 0  # an unknown fragment or a cycle: other rules refuse both
        self.entered.add(name)
        condition = self.context.schema.get_type(definition.type_condition.name.value)
        sized = self.selections(condition, definition.selection_set)
        self.entered.discard(name)
        self.fragments[name] = sized
        return sized

    def field(self, parent: GraphQLNamedType | None, node: FieldNode) -> Sized:
        definition = _field_definition(parent, node.name.value)
        inner_type = get_named_type(definition.type) if definition else None
        cost, depth = self.selections(inner_type, node.selection_set)
        # An introspection field or an unknown one (another rule refuses it) counts 1 a field.
        size = _page_size(definition, node) if definition else 1
        return 1 + size * cost, depth + 1 if node.selection_set else 0


def _field_definition(parent: GraphQLNamedType | None, name: str) -> GraphQLField | None:
    if isinstance(parent, (GraphQLObjectType, GraphQLInterfaceType)):
        found: GraphQLField | None = parent.fields.get(name)
        return found
    return None


def _page_size(definition: GraphQLField, node: FieldNode) -> int:
    """How many items a field's selection is counted for (1 without a `first`)."""
    argument = definition.args.get(PAGE_ARGUMENT)
    if argument is None:
        return 1
    most = MAX_FIRST.get(node.name.value, MAX_PAGE_SIZE)
    given = next((a.value for a in node.arguments or () if a.name.value == PAGE_ARGUMENT), None)
    if isinstance(given, IntValueNode):
        # Beyond `most`, the argument's own check refuses it: the query never runs.
        return min(max(int(given.value), 0), most)
    if isinstance(given, VariableNode):
        return most
    default = argument.default_value
    return default if isinstance(default, int) and given is None else DEFAULT_PAGE_SIZE


def operation_costs(
    context: ValidationContext, operations: Iterable[OperationDefinitionNode]
) -> list[Sized]:
    """Each operation's (cost, depth)."""
    estimate = _Estimate(context)
    return [
        estimate.selections(
            context.schema.get_root_type(operation.operation), operation.selection_set
        )
        for operation in operations
    ]


def max_cost_rule(limit: int, max_depth: int) -> type[ASTValidationRule]:
    """A rule refusing each operation whose estimated cost is over `limit`; one deeper
    than `max_depth` is left to the depth limit, which refuses it whatever it costs."""

    class MaxCostRule(ASTValidationRule):
        def enter_operation_definition(self, node: OperationDefinitionNode, *_: Any) -> None:
            [(cost, depth)] = operation_costs(cast(ValidationContext, self.context), [node])
            if cost > limit and depth <= max_depth:
                self.report_error(GraphQLError(cost_refusal(cost, limit), node))

    return MaxCostRule
