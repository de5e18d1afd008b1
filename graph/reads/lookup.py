"""Turning what a person types into Cypher-safe look-ups.

Both full-text indexes take Lucene query syntax; user text is escaped here so
it is always searched for, never interpreted.
"""

from __future__ import annotations

import re

from graph.model.vocabulary import lookup_key

_OPERATORS = {"AND", "OR", "NOT"}
_LUCENE_SPECIAL = re.compile(r'([+\-&|!(){}\[\]^"~*?:\\/])')


def exact_key_query(ref: str) -> str:
    """A query for the keyword index entity_lookup matching exactly one normalised key."""
    key = lookup_key(ref).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{key}"'


def search_query(text: str) -> str:
    """A full-text query for free text: every word escaped, words OR-ed, prefixes allowed."""
    # AND, OR and NOT are operators to Lucene even when escaped; the analyzer
    # lowercases indexed text anyway, so searching for them in lower case loses nothing.
    words = [
        _LUCENE_SPECIAL.sub(r"\\\1", word.lower() if word in _OPERATORS else word)
        for word in text.split()
    ]
    words = [w for w in words if w]
    if not words:
        return ""
    # The whole phrase scores highest; single words and prefixes widen the net.
    phrase = " ".join(words)
    parts = [f'"{phrase}"^4'] if len(words) > 1 else []
    parts += [f"{word}^2" for word in words]
    parts += [f"{word}*" for word in words if len(word) >= 3 and not word.endswith("\\")]
    return " ".join(parts)
