"""GraphiQL's Docs pane explains everything: every type, field and argument is described."""

from __future__ import annotations

from graphql import GraphQLInputObjectType, GraphQLInterfaceType, GraphQLObjectType

from schema.build import build_schema

# Apollo Federation's own machinery (the spec defines and documents it), not ours to describe.
FEDERATION_TYPES = {"_Any", "_Entity", "_FieldSet", "_Service", "link__Import", "link__Purpose"}
FEDERATION_FIELDS = {"_entities", "_service"}


def undescribed() -> list[str]:
    """Schema coordinates (Type, Type.field, Type.field(argument:)) without a description."""
    missing: list[str] = []
    for name, kind in sorted(build_schema()._schema.type_map.items()):
        if name.startswith("__") or name in FEDERATION_TYPES:
            continue
        if not kind.description:
            missing.append(name)
        if isinstance(kind, GraphQLObjectType | GraphQLInterfaceType | GraphQLInputObjectType):
            for field_name, field in kind.fields.items():
                if name == "Query" and field_name in FEDERATION_FIELDS:
                    continue
                if not field.description:
                    missing.append(f"{name}.{field_name}")
                for argument in getattr(field, "args", {}):
                    if not field.args[argument].description:
                        missing.append(f"{name}.{field_name}({argument}:)")
    return missing


def test_every_type_field_and_argument_has_a_description() -> None:
    assert undescribed() == []
