"""Readers for the Neo4j Browser assets (api/browser_assets/): the guide's runnable
queries and the stylesheet's rules, shared by the asset and browser tests."""

from __future__ import annotations

import html
import re

_RUNNABLE = re.compile(r'<pre class="[^"]*\brunnable\b[^"]*">(.*?)</pre>', re.DOTALL)
_RULE = re.compile(r"^(node|relationship)(?:\.(\w+))? \{\n(.*?)^\}", re.DOTALL | re.MULTILINE)
_PROPERTY = re.compile(r"([\w-]+)\s*:\s*([^;]+);")


def guide_queries(guide_html: str) -> list[str]:
    """Every clickable query in the guide, as Browser puts it in the editor."""
    return [html.unescape(body) for body in _RUNNABLE.findall(guide_html)]


def grass_rules(grass: str) -> list[tuple[str, str | None, dict[str, str]]]:
    """(node|relationship, label or type or None, properties) for each rule, in order."""
    return [
        (kind, name or None, {k: v.strip().strip('"') for k, v in _PROPERTY.findall(body)})
        for kind, name, body in _RULE.findall(grass)
    ]


def node_styles(grass: str) -> dict[str, dict[str, str]]:
    """Each label's node rule, over the defaults of the bare `node` rule."""
    rules = grass_rules(grass)
    default = next(props for kind, name, props in rules if kind == "node" and name is None)
    return {name: {**default, **props} for kind, name, props in rules if kind == "node" and name}
