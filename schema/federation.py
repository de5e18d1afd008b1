"""Apollo Federation 2: what makes threatgraph a subgraph other services compose.

Every concrete Entity type is an entity keyed by `id` (`ENTITY_KEY`); a router
resolves references through `_entities`, which `Entity.resolve_reference`
answers from one batched DataLoader, so a batch of keys costs one Cypher
round-trip whatever its size or mix of types. `_service { sdl }` (added by
strawberry.federation.Schema) serves the SDL a router or composer reads; it
spells out the whole schema, so with introspection off it is refused as
introspection is (`NoServiceSdlRule`, schema/validation.py).
"""

from __future__ import annotations

from typing import Any, Final

import strawberry
from graphql import FieldNode, GraphQLError, ValidationRule, get_named_type
from strawberry.federation.schema import FederationAny
from strawberry.federation.schema_directives import Key
from strawberry.federation.types import FieldSet
from strawberry.types import Info

from schema.errors import TranslatedErrorsSchema, UserInputError

# The Federation spec version our @link names. @apollo/composition 2.14 (the
# composer tests/federation pins) understands it; routers older than 2.11 do not.
FEDERATION_VERSION: Final = "2.11"

ENTITY_KEY = (Key(fields=FieldSet("id")),)
# The type of `_service`, whose `sdl` is the whole schema as text.
SERVICE_TYPE: Final = "_Service"


class NoServiceSdlRule(ValidationRule):
    """Refuse `_service` (under any alias, in any fragment) as graphql-core's
    NoSchemaIntrospectionCustomRule refuses `__schema`, with the same message."""

    def enter_field(self, node: FieldNode, *_args: Any) -> None:
        found = get_named_type(self.context.get_type())
        if found is not None and found.name == SERVICE_TYPE:
            self.report_error(
                GraphQLError(
                    "GraphQL introspection has been disabled, but the requested query"
                    f" contained the field '{node.name.value}'.",
                    node,
                )
            )


class SubgraphSchema(TranslatedErrorsSchema, strawberry.federation.Schema):
    """Strawberry's federation schema, refusing malformed representations by name
    (and leaving error logging to `translate`, as TranslatedErrorsSchema does).

    Strawberry would fail the whole `_entities` field with a masked error on an
    unknown __typename; a router (or a person) deserves to be told which one.
    """

    def entities_resolver(
        self, info: Info, representations: list[FederationAny]
    ) -> list[FederationAny]:
        for index, representation in enumerate(representations):
            given: Any = representation
            where = f"representations[{index}]"
            if not isinstance(given, dict):
                raise UserInputError(f"{where}: must be an object with __typename and id")
            type_name = given.get("__typename")
            if not self._is_entity(type_name):
                raise UserInputError(f"{where}.__typename: {type_name!r} is not an entity type")
            if not isinstance(given.get("id"), str):
                raise UserInputError(f"{where}.id: must be a string")
        return super().entities_resolver(info, representations)

    def _is_entity(self, type_name: object) -> bool:
        found = (
            self.schema_converter.type_map.get(type_name) if isinstance(type_name, str) else None
        )
        origin = getattr(getattr(found, "definition", None), "origin", None)
        return origin is not None and hasattr(origin, "resolve_reference")
