"""The GraphQL schema: Strawberry types over graph/'s reads and writes.

schema/ knows GraphQL and calls graph/; of HTTP it knows only the request
object Strawberry hands to the context. Rooms:

- arguments.py: every read question's defaults, limits and checks, and the
  Cypher parameters they become; both ways of answering call it.
- query.py, mutation.py, changes.py: the roots; types.py, scalars.py,
  pagination.py: the types; federation.py, trusted.py: for service owners.
- compiled/: answers a query operation with one statement per root field
  (compiler.py plans, executor.py runs); query.py's resolvers answer the rest.
- errors.py: the one place exceptions become GraphQL errors with codes.
- build.py: the schema with its limits; sdl.py: schema.graphql, checked by tests.
"""
