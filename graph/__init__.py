"""Neo4j access, the graph model and its Cypher.

Nothing in this package knows about HTTP or GraphQL: it is shared by the API
(schema/, api/) and the loaders (seed/).
"""
