"""Seed files, their loader, and importers of outside intelligence (STIX, MISP, ATT&CK).

Everything here produces graph documents (graph.model.documents) and hands them to
graph.writes.loading; nothing here talks to Neo4j directly.
"""
