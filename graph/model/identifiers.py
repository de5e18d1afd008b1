"""External ids: what each id an entity carries (`external_ids`) is, and where it leads.

Importers keep every id a source gives an entity as plain text (graph/writes/
importing.py): STIX ids (`intrusion-set--…`), ATT&CK ids (`G0128`, `T1566.001`),
`misp:<uuid>`, `iso:CN`, CVE/CWE/CAPEC ids and URLs. Which source an id belongs
to follows from its form, so it is read from the text here, once, for every
question that shows external ids.

Functions take and return Cypher text built only from this module's own text and
the caller's variable names.
"""

from __future__ import annotations

# An ATT&CK id: tactic (TA), data source (DS), group, software, technique (with its
# sub-technique), campaign or mitigation.
ATTACK_ID_PATTERN = r"(TA|DS|[GSTCM])[0-9]{4}(\.[0-9]{3})?"
ATTACK_SOURCE = "mitre-attack"
ATTACK_SITE = "https://attack.mitre.org/"
# The ATT&CK site's folder for each kind of id, by the id's letters.
_ATTACK_PAGES = (
    "{TA: 'tactics', DS: 'datasources', G: 'groups', S: 'software', T: 'techniques', "
    "C: 'campaigns', M: 'mitigations'}"
)


def attack_id(node: str) -> str:
    """Cypher: the ATT&CK id of the entity `node` (a node expression), or null."""
    return (
        f"head([tg_aid IN coalesce({node}.external_ids, []) WHERE tg_aid =~ '{ATTACK_ID_PATTERN}'])"
    )


def _attack_url(x: str) -> str:
    letters = f"CASE WHEN {x} =~ '(TA|DS).*' THEN left({x}, 2) ELSE left({x}, 1) END"
    return f"'{ATTACK_SITE}' + {_ATTACK_PAGES}[{letters}] + '/' + replace({x}, '.', '/')"


def external_id(x: str) -> str:
    """Cypher: the external id text `x` as a map {source, id, url}.

    `source` is the naming authority as STIX external references name it
    (`mitre-attack`, `cve`, `capec`, `cwe`), `stix` for a STIX id, `url` for a
    web address, the prefix before the colon for `misp:…`, `iso:…` and the like,
    else `other`; `url` is where the id is described, when its form says so.
    """
    prefix = f"split({x}, ':')[0]"
    number = f"split({x}, '-')[size(split({x}, '-')) - 1]"
    return (
        f"CASE WHEN {x} =~ 'https?://.+' THEN {{source: 'url', id: {x}, url: {x}}} "
        f"WHEN {x} =~ '{ATTACK_ID_PATTERN}' "
        f"THEN {{source: '{ATTACK_SOURCE}', id: {x}, url: {_attack_url(x)}}} "
        f"WHEN {x} =~ 'CVE-[0-9]{{4}}-[0-9]+' "
        f"THEN {{source: 'cve', id: {x}, url: 'https://www.cve.org/CVERecord?id=' + {x}}} "
        f"WHEN {x} =~ '(CAPEC|CWE)-[0-9]+' THEN {{source: toLower(split({x}, '-')[0]), id: {x}, "
        f"url: 'https://' + toLower(split({x}, '-')[0]) + '.mitre.org/data/definitions/' "
        f"+ {number} + '.html'}} "
        f"WHEN {x} =~ '[a-z][a-z0-9-]*--.+' THEN {{source: 'stix', id: {x}, url: null}} "
        f"WHEN {x} =~ '[a-z][a-z0-9-]*:.+' "
        f"THEN {{source: {prefix}, id: substring({x}, size({prefix}) + 1), url: null}} "
        f"ELSE {{source: 'other', id: {x}, url: null}} END"
    )


def external_ids(node: str) -> str:
    """Cypher: every external id of the entity `node`, in the order they were recorded,
    as maps (external_id)."""
    return f"[tg_x IN coalesce({node}.external_ids, []) | {external_id('tg_x')}]"
