"""Compiled execution: a query operation answered by one Cypher statement per root field.

compiler.py normalises a validated operation (aliases, fragments, inline
fragments, @skip/@include, __typename) into graph.reads.compiled plans; arguments.py
checks and binds argument values exactly as the resolvers do; executor.py
caches, runs and assembles. Anything not covered runs through Strawberry.
"""
