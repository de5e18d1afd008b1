"""Compiled reads: a whole GraphQL-shaped selection as one Cypher statement.

plan.py describes what a response must hold (no GraphQL library involved),
cypher.py turns a plan into one parameterised statement per root field, and
shape.py puts the rows Neo4j returns into response order, checking nulls.
"""
