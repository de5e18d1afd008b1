"""Seed files, their loader, and importers of outside intelligence (STIX, MISP, ATT&CK).

Everything here produces graph documents (graph.documents) and hands them to
graph.loading; nothing here talks to Neo4j directly.
"""
