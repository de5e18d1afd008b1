"""The full-text indexes that reads and writes call by name (graph/setup.py creates them)."""

from __future__ import annotations

from typing import Final

# Over name, aliases and description: search(text:).
SEARCH_INDEX: Final = "entity_search"
# Over lookup_keys with the keyword analyser: exact, case-insensitive id, name and alias
# look-ups that work on a list property (references).
LOOKUP_INDEX: Final = "entity_lookup"
