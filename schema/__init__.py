"""The GraphQL schema: Strawberry types over graph/'s reads and writes.

schema/ knows GraphQL and calls graph/; it knows nothing of HTTP beyond the
request object Strawberry hands to the context.
"""
