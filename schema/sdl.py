"""The committed SDL file (schema/schema.graphql) and how it is produced."""

from __future__ import annotations

from pathlib import Path

from schema.build import build_schema

SCHEMA_FILE = Path(__file__).resolve().parent / "schema.graphql"


def schema_sdl() -> str:
    return build_schema().as_str() + "\n"
