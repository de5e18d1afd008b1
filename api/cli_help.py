"""`--help` that names values as people do (FILE..., N, DATE), never as Python types.

Typer prints each parameter's annotation beside it (`<list[Path]>`, `<bool>`, `<int>`).
Every command and group of `threatgraph` is built with the classes here: an option shows
its metavar (each option declares one; a test checks every command's help), a flag and
`--help` show nothing (they take no value), and an argument shows its metavar alone.
"""

from __future__ import annotations

# Typer vendors click; its commands and parameters are these classes, not click's own.
from typer._click.core import Context, Parameter
from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption


class ReadableArgument(TyperArgument):
    """An argument whose help is its metavar: `FILE...` in the usage line and the list."""

    def display_type_rich(self, ctx: Context) -> str | None:
        return None

    def get_usage_pieces(self, ctx: Context) -> list[str]:
        return [self.display_name_raw if self.required else f"[{self.display_name_raw}]"]


def readable(param: Parameter) -> Parameter:
    """`param` as its help should show it (changed in place: typer builds it once)."""
    if type(param) is TyperArgument:
        param.__class__ = ReadableArgument
    elif isinstance(param, TyperOption) and param.is_flag and param.metavar is None:
        param.metavar = ""
    return param


class ReadableCommand(TyperCommand):
    def get_params(self, ctx: Context) -> list[Parameter]:
        return [readable(param) for param in super().get_params(ctx)]


class ReadableGroup(TyperGroup):
    def get_params(self, ctx: Context) -> list[Parameter]:
        return [readable(param) for param in super().get_params(ctx)]
