"""Apollo Federation 2: what makes threatgraph a subgraph other services compose.

Every concrete Entity type is an entity keyed by `id` (`ENTITY_KEY`); a router
resolves references through `_entities`, which `Entity.resolve_reference`
answers from one batched DataLoader, so a batch of keys costs one Cypher
round-trip whatever its size or mix of types. `_service { sdl }` (added by
strawberry.federation.Schema) serves the SDL a router or composer reads.
"""

from __future__ import annotations

from typing import Final

from strawberry.federation.schema_directives import Key
from strawberry.federation.types import FieldSet

# The Federation spec version our @link names. @apollo/composition 2.14 (the
# composer tests/federation pins) understands it; routers older than 2.11 do not.
FEDERATION_VERSION: Final = "2.11"

ENTITY_KEY = (Key(fields=FieldSet("id")),)
