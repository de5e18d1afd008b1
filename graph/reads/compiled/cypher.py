"""Plans to Cypher: the map of every object in a response (roots.py puts them into
one statement per root field, whose RETURN is the response).

Every object in the response is a map literal keyed by its response keys
(aliases included); nested lists are pattern comprehensions or COLLECT
subqueries; pages are sliced inside the statement. User values only ever
travel as parameters: the only text taken from a request is response keys,
which are escaped as map keys. What each field means is graph/reads/fields.py's,
and what each question asks (which claims, in which order, how references
resolve) is graph/reads/questions.py's, reused piecewise.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from graph.linking.disputes import attributions, disputed
from graph.linking.rule import role_of
from graph.linking.victims import country_of, sectors_of
from graph.linking.walked import ranked_chains
from graph.model.identifiers import external_ids
from graph.model.known import AS_OF
from graph.reads.compiled.plan import TYPENAME, EntityShape, ObjectShape, RootField, Selection
from graph.reads.fields import (
    claim_assessor,
    claim_sources,
    claims_of,
    entity_leaf,
    key,
    kind_of,
    literal,
    mentioning_sources,
    path_likelihood,
    step_leaf,
    ungraded_steps,
)
from graph.reads.identities import (
    USED_KINDS,
    mention_leaf,
    names_by_source,
    possible_duplicates,
    use_leaf,
    uses_of,
)

KIND_KEY = "__tg_kind"  # carried by polymorphic entity maps so shape.py knows the kind


def type_name(shape: ObjectShape) -> str:
    """The shape's type name (the schema layer's) as a Cypher string literal."""
    return "'" + shape.type_name.replace("\\", "\\\\").replace("'", "\\'") + "'"


class UncoveredField(Exception):
    """A field the compiler has no Cypher for: the caller runs the regular path."""


@dataclass
class CypherBuilder:
    """Turns shapes into Cypher expressions, naming variables uniquely."""

    counter: int = 0
    # The day the fields being built answer for (graph/model/known.py): the root's
    # $as_of, or a nested relations(asOf:) while its connection is built.
    as_of: str = AS_OF

    def fresh(self, stem: str) -> str:
        self.counter += 1
        return f"tg_{stem}{self.counter}"

    # -- entities -----------------------------------------------------------

    def entity(self, node: str, shape: EntityShape, link_path: str | None = None) -> str:
        """A map for the entity bound to `node` (a variable).

        When kinds select differently (inline fragments on kinds), the map holds
        every key any kind selects, each computed only for the kinds that select
        it, plus the kind; shape.py then keeps each kind's own keys. This keeps
        the statement linear in the size of the query, whatever the fragments.
        """
        uniform = shape.uniform
        if uniform is not None:
            return self._entity_map(node, uniform, link_path)
        variants: dict[str, dict[Selection, list[str]]] = {}
        for kind, selections in shape.by_kind.items():
            for s in selections:
                variants.setdefault(s.key, {}).setdefault(s, []).append(kind)
        kind = self.fresh("k")
        entries = [f"{key(KIND_KEY)}: {kind}"]
        for response_key, by_selection in variants.items():
            if len(by_selection) == 1 and len(next(iter(by_selection.values()))) == len(
                shape.by_kind
            ):
                value = self._entity_field(node, next(iter(by_selection)), link_path)
            else:
                value = (
                    "CASE "
                    + " ".join(
                        f"WHEN {kind} IN [{', '.join(repr(k) for k in kinds)}] THEN "
                        + self._entity_field(node, s, link_path)
                        for s, kinds in by_selection.items()
                    )
                    + " END"
                )
            entries.append(f"{key(response_key)}: {value}")
        return f"head([{kind} IN [{kind_of(node)}] | {{{', '.join(entries)}}}])"

    def entity_at(self, expression: str, shape: EntityShape, link_path: str | None = None) -> str:
        """A map for an entity given by any node expression (null stays null)."""
        node = self.fresh("n")
        return f"head([{node} IN [{expression}] WHERE {node} IS NOT NULL | " + (
            self.entity(node, shape, link_path) + "])"
        )

    def entities(self, list_expression: str, shape: EntityShape) -> str:
        node = self.fresh("n")
        return f"[{node} IN {list_expression} | {self.entity(node, shape)}]"

    def _entity_map(
        self, node: str, selections: tuple[Selection, ...], link_path: str | None
    ) -> str:
        entries = [f"{key(s.key)}: {self._entity_field(node, s, link_path)}" for s in selections]
        return "{" + ", ".join(entries) + "}"

    def _entity_field(self, node: str, s: Selection, link_path: str | None) -> str:
        name = s.field
        if name == "link_path":
            if link_path is None:
                return "null"
            return self.path(link_path, object_shape(s), linking=True)
        if name == "link_paths":
            if link_path is None:
                return "null"
            chain = self.fresh("p")
            found = ranked_chains(literal(node), "1", literal(f"${arguments_of(s)}_first"))
            shaped = self.path(f"relationships({chain})", object_shape(s), linking=True)
            return f"[{chain} IN {found} | {shaped}]"
        if name == "sources":
            return self.entities(mentioning_sources(node, self.fresh("s")), entity_shape(s))
        if name == "relations":
            return self._relations(node, s)
        if name == "attributions":
            return self._attributions(node, s)
        if name == "disputed":
            return disputed(literal(node), literal(self.as_of))
        if name == "external_ids":
            return self._external_ids(node, object_shape(s))
        if name == "names_by_source":
            return self._names_by_source(node, object_shape(s))
        if name == "possible_duplicates":
            found = possible_duplicates(node, self.fresh("d"), self.as_of)
            return self.entities(found, entity_shape(s))
        if name == "sectors":
            return self.entities(sectors_of(node, self.fresh("sec"), self.as_of), entity_shape(s))
        if name == "country":
            found = country_of(node, self.fresh("c"), self.as_of)
            return f"head({self.entities(found, entity_shape(s))})"
        if name in USED_KINDS and s.sub is not None:
            return self._uses(node, s, USED_KINDS[name])
        if s.sub is not None:
            raise UncoveredField(name)
        return entity_leaf(node, name)

    def _attributions(self, node: str, s: Selection) -> str:
        claim, rel = self.fresh("ar"), self.fresh("r")
        outer = self.as_of
        if s.arguments is not None:
            self.as_of = f"coalesce(${s.arguments}_as_of, {outer})"
        try:
            found = attributions(literal(node), literal(claim), literal(self.as_of))
            return f"[{rel} IN {found} | {self.step(rel, object_shape(s))}]"
        finally:
            self.as_of = outer

    def _relations(self, node: str, s: Selection) -> str:
        a = arguments_of(s)
        rel, rels = self.fresh("r"), self.fresh("rels")
        outer = self.as_of
        # Without its own asOf, a nested relations asks about the day its question does.
        self.as_of = f"coalesce(${a}_as_of, {outer})"
        try:
            found = claims_of(node, rel, a, self.as_of)
            body = self.connection(
                rels, a, object_shape(s), lambda item, shape: self.step(item, shape)
            )
        finally:
            self.as_of = outer
        return f"head([{rels} IN [{found}] | {body}])"

    def _external_ids(self, node: str, shape: ObjectShape) -> str:
        x = self.fresh("x")
        entries = []
        for s in shape.selections:
            if s.field == TYPENAME:
                value = type_name(shape)
            elif s.field in ("source", "id", "url"):
                value = f"{x}.{s.field}"
            else:
                raise UncoveredField(s.field)
            entries.append(f"{key(s.key)}: {value}")
        return f"[{x} IN {external_ids(node)} | {{{', '.join(entries)}}}]"

    def _names_by_source(self, node: str, shape: ObjectShape) -> str:
        m = self.fresh("m")
        entries = []
        for s in shape.selections:
            leaf = mention_leaf(m, s.field)
            if s.field == TYPENAME:
                value = type_name(shape)
            elif s.field == "source":
                value = self.entity_at(f"startNode({m})", entity_shape(s))
            elif leaf is not None:
                value = leaf
            else:
                raise UncoveredField(s.field)
            entries.append(f"{key(s.key)}: {value}")
        found = names_by_source(node, self.fresh("mn"), self.as_of)
        return f"[{m} IN {found} | {{{', '.join(entries)}}}]"

    def _uses(self, node: str, s: Selection, label: str) -> str:
        a = arguments_of(s)
        use, uses = self.fresh("u"), self.fresh("uses")
        outer = self.as_of
        # Without its own asOf, it asks about the day its question does.
        self.as_of = f"coalesce(${a}_as_of, {outer})"
        try:
            found = uses_of(node, label, use, self.as_of)
            body = self.connection(uses, a, object_shape(s), item=self._use)
        finally:
            self.as_of = outer
        return f"head([{uses} IN [{found}] | {body}])"

    def _use(self, use: str, shape: ObjectShape) -> str:
        """A map for one use (a map of identities.uses_of: {used, claims})."""
        entries = []
        for s in shape.selections:
            leaf = use_leaf(use, s.field)
            if s.field == TYPENAME:
                value = type_name(shape)
            elif s.field in ("technique", "software"):
                value = self.entity_at(f"{use}.used", entity_shape(s))
            elif s.field == "claims":
                r = self.fresh("r")
                value = f"[{r} IN {use}.claims | {self.step(r, object_shape(s))}]"
            elif leaf is not None:
                value = leaf
            else:
                raise UncoveredField(s.field)
            entries.append(f"{key(s.key)}: {value}")
        return "{" + ", ".join(entries) + "}"

    # -- claims and paths -----------------------------------------------------

    def step(self, rel: str, shape: ObjectShape) -> str:
        """A map for the claim bound to `rel` (a relationship variable)."""
        entries = [f"{key(s.key)}: {self._step_field(rel, s, shape)}" for s in shape.selections]
        return "{" + ", ".join(entries) + "}"

    def _step_field(self, rel: str, s: Selection, shape: ObjectShape) -> str:
        if s.field == TYPENAME:
            return type_name(shape)
        leaf = step_leaf(rel, s.field, self.as_of)
        if leaf is not None:
            return leaf
        if s.field == "from_":
            return self.entity_at(f"startNode({rel})", entity_shape(s))
        if s.field == "to":
            return self.entity_at(f"endNode({rel})", entity_shape(s))
        if s.field == "sources":
            return self.entities(claim_sources(rel, self.fresh("s")), entity_shape(s))
        if s.field == "assessed_by":
            found = claim_assessor(rel, self.fresh("a"))
            return f"head({self.entities(found, entity_shape(s))})"
        raise UncoveredField(s.field)

    def path(self, rels: str, shape: ObjectShape, linking: bool = False) -> str:
        """A map for an evidence path given a list of its relationships; `linking` when
        it is a chain of incidents(linkedTo:) (it has a role)."""
        entries = []
        for s in shape.selections:
            if s.field == "likelihood":
                value = path_likelihood(rels)
            elif s.field == "role":
                value = role_of(literal(rels)) if linking else "null"
            elif s.field == "ungraded_steps":
                value = ungraded_steps(rels)
            elif s.field == "steps":
                r = self.fresh("r")
                value = f"[{r} IN {rels} | {self.step(r, object_shape(s))}]"
            elif s.field == TYPENAME:
                value = type_name(shape)
            else:
                raise UncoveredField(s.field)
            entries.append(f"{key(s.key)}: {value}")
        return "{" + ", ".join(entries) + "}"

    # -- pages -------------------------------------------------------------------

    def connection(
        self,
        rows: str,
        a: str,
        shape: ObjectShape,
        item: Callable[[str, ObjectShape], str] | None = None,
        entity_item: Callable[[str, EntityShape], str] | None = None,
        total: str | None = None,
    ) -> str:
        """A connection map over the ordered list `rows`, paged by $a_skip/$a_first.

        `total` is the expression counting every item, when `rows` holds only those up
        to the page's end (default: `rows` holds them all). Cursors come in as the
        parameter $a_cursors (one per page position): Cypher has no base64, and the
        cursors are the regular path's own.
        """
        page = f"{rows}[${a}_skip..${a}_skip + ${a}_first]"
        count = f"size({rows})" if total is None else total

        def node_map(variable: str, sub: ObjectShape | EntityShape | None) -> str:
            if isinstance(sub, EntityShape):
                assert entity_item is not None
                return entity_item(variable, sub)
            assert isinstance(sub, ObjectShape) and item is not None
            return item(variable, sub)

        entries = []
        for s in shape.selections:
            if s.field == "total_count":
                value = count
            elif s.field == "nodes":
                v = self.fresh("x")
                value = f"[{v} IN {page} | {node_map(v, s.sub)}]"
            elif s.field == "edges":
                i, v = self.fresh("i"), self.fresh("x")
                edge = []
                for e in object_shape(s).selections:
                    if e.field == "cursor":
                        edge.append(f"{key(e.key)}: ${a}_cursors[{i}]")
                    elif e.field == "node":
                        edge.append(f"{key(e.key)}: {node_map(v, e.sub)}")
                    elif e.field == TYPENAME:
                        edge.append(f"{key(e.key)}: {type_name(object_shape(s))}")
                    else:
                        raise UncoveredField(e.field)
                value = (
                    f"[{i} IN range(0, size({page}) - 1) | "
                    f"head([{v} IN [{page}[{i}]] | {{{', '.join(edge)}}}])]"
                )
            elif s.field == "page_info":
                value = self._page_info(page, count, a, object_shape(s))
            elif s.field == TYPENAME:
                value = type_name(shape)
            else:
                raise UncoveredField(s.field)
            entries.append(f"{key(s.key)}: {value}")
        return "{" + ", ".join(entries) + "}"

    def _page_info(self, page: str, count: str, a: str, shape: ObjectShape) -> str:
        values = {
            "has_next_page": f"${a}_skip + size({page}) < {count}",
            "has_previous_page": f"${a}_skip > 0",
            "start_cursor": f"CASE WHEN size({page}) > 0 THEN ${a}_cursors[0] END",
            "end_cursor": f"CASE WHEN size({page}) > 0 THEN ${a}_cursors[size({page}) - 1] END",
            TYPENAME: type_name(shape),
        }
        entries = []
        for s in shape.selections:
            if s.field not in values:
                raise UncoveredField(s.field)
            entries.append(f"{key(s.key)}: {values[s.field]}")
        return "{" + ", ".join(entries) + "}"


def object_shape(s: Selection | RootField) -> ObjectShape:
    if not isinstance(s.sub, ObjectShape):
        raise UncoveredField(s.field)
    return s.sub


def entity_shape(s: Selection | RootField) -> EntityShape:
    if not isinstance(s.sub, EntityShape):
        raise UncoveredField(s.field)
    return s.sub


def arguments_of(s: Selection) -> str:
    if s.arguments is None:
        raise UncoveredField(s.field)
    return s.arguments
